"""The public verification page (``GET /verify/{id}``) on one uvicorn
worker, loaded by wrk (-t2 -c32) like the /healthz baseline, which is
measured again by the same server in the same run.

1,000 certificates of one program (holders with names, a description, a
few suspended, revoked and expired) are issued through the services.
Three loads: one certificate's page again and again (what a popular
certificate's verifiers do); a walk over all 1,000 ids (a wrk Lua script,
each connection on its own id sequence); and the same single page with
the server's reuse of lookups turned off (``INVIGIL_VERIFY_CACHE_SECONDS=0``:
every request makes the platform lookup and the tenant-bound query). The
rate limit is lifted for the run (all load comes from one address).

Run alone: ``python -m benchmarks.verify_page`` (fresh database).
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks import baseline, standalone
from invigil.certification import lifecycle, programs
from invigil.certification.definition import parse
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.delivery.models import Candidate
from invigil.settings import Settings

CERTIFICATES = 1_000
TARGET = 1_000  # req/s (the issue)
NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)
NO_LIMIT = {"INVIGIL_PUBLIC_RATE_PER_MINUTE": "10000000", "INVIGIL_PUBLIC_RATE_BURST": "10000000"}

LABELS = {
    "verify_healthz_req_s": ("GET /healthz, the same server (baseline of this table)", "req/s"),
    "verify_one_req_s": ("GET /verify/{id}, one certificate's page again and again", "req/s"),
    "verify_walk_req_s": (f"GET /verify/{{id}}, a walk over {CERTIFICATES:,} ids", "req/s"),
    "verify_uncached_req_s": (
        "GET /verify/{id} with the reuse turned off (2 round trips, every request)",
        "req/s",
    ),
    "verify_uncached_healthz_req_s": ("GET /healthz, that server", "req/s"),
}


def seed(db: Database, tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """1,000 certificates: most valid, every 10th suspended, every 25th revoked, some expired."""
    with db.unit_of_work(tenant_id) as uow:
        _, version = programs.create(
            uow,
            "Bench Safety Officer",
            parse(
                {
                    "exam_ids": [str(uuid.uuid4())],
                    "validity_months": 24,
                    "description": "Leads the site's safety inspections and incident reviews.",
                }
            ),
        )
    ids = []
    for start in range(0, CERTIFICATES, 100):
        with db.unit_of_work(tenant_id) as uow:
            for i in range(start, start + 100):
                person = Candidate(tenant_id=tenant_id, id=uuid.uuid4(),
                                   name=f"Holder {i:04d}", email=f"h{i}@bench.test")  # fmt: skip
                uow.add(person)
                uow.flush()
                issued = NOW - timedelta(days=900 if i % 40 == 0 else i % 300)
                cert = lifecycle.issue(
                    uow, lifecycle.Issue(version=version, holder_id=person.id, basis=[]), now=issued
                )
                if i % 10 == 5:
                    lifecycle.change_state(uow, cert.id, "suspended", "bench", now=issued)
                elif i % 25 == 7:
                    lifecycle.change_state(uow, cert.id, "revoked", "bench", now=issued)
                ids.append(cert.id)
    return ids


def _walk_script(ids: list[uuid.UUID], folder: Path) -> str:
    path = folder / "verify_walk.lua"
    listed = ",".join(f'"{i}"' for i in ids)
    path.write_text(
        f"local ids = {{{listed}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  return wrk.format(nil, '/verify/' .. ids[(n % #ids) + 1])\n"
        "end\n"
    )
    return str(path)


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    ids = seed(db, tenant_id)
    dsn = libpq(urls.admin.set(database=urls.owner.database))
    script = _walk_script(ids, Path(tempfile.mkdtemp(prefix="invigil-verify-")))
    found = baseline.http_rate(
        dsn,
        str(settings.home),
        paths={
            "verify_healthz_req_s": ("/healthz", None),
            "verify_one_req_s": (f"/verify/{ids[0]}", None),
            "verify_walk_req_s": ("/verify/", "script"),
        },
        env=NO_LIMIT,
        script=script,
    )
    found |= baseline.http_rate(
        dsn,
        str(settings.home),
        paths={
            "verify_uncached_healthz_req_s": ("/healthz", None),
            "verify_uncached_req_s": (f"/verify/{ids[0]}", None),
        },
        env=NO_LIMIT | {"INVIGIL_VERIFY_CACHE_SECONDS": "0"},
    )
    return found


def section(found: dict[str, float]) -> list[str]:
    """The "Public verification page" part of docs/performance.md."""
    if "verify_one_req_s" not in found:
        return []
    lines = [
        "",
        "## Public verification page",
        "",
        f"{CERTIFICATES:,} certificates of one program (benchmarks/verify_page.py); one uvicorn",
        "worker, wrk -t2 -c32 for 8 s per row on the same cores; the rate limit lifted (one",
        "client address). The server reuses a lookup for `verify_cache_seconds` (10 s):",
        "a revocation shows within that.",
        "",
        "| scenario | figure |",
        "|---|---:|",
    ]
    for key, (label, unit) in LABELS.items():
        if key in found:
            lines.append(f"| {label} | {found[key]:,.0f} {unit} |")
    one = found["verify_one_req_s"]
    verdict = "meets" if one >= TARGET else "misses"
    lines += [
        "",
        f"One certificate's page: {one:,.0f} req/s, {one / found['verify_healthz_req_s']:.0%} "
        f"of /healthz on the same server; it {verdict} the target of {TARGET:,} req/s.",
    ]
    return lines


def main() -> None:
    standalone.run("bench-verify", "Bench verification", figures, section)


if __name__ == "__main__":
    main()
