"""The per-exam results view under load of rows: an exam with 10,000 begun
attempts (most submitted, with one or two result revisions, a share flagged
or reviewed), its first page and every sort and filter through the API and
the page, and the CSV export of an exam with 100,000 attempts.

Rows are written with ``generate_series`` in a few statements (not through
the API: the view reads rows, however they came). The server is ``invigil
serve`` (one worker) on loopback; a figure is the median of
:data:`REPEAT` requests, measured by the client (so it includes loopback
HTTP: an upper bound of the server's time). The export's memory is the
growth of the server's peak resident set (VmHWM, reset before the export)
over its resident set before, while the whole file is read.
"""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from benchmarks import baseline
from benchmarks.delivery import _family_kb, _reset_peak, serve
from invigil.content import exams, questions
from invigil.content.demo import seed_content
from invigil.content.schemas import ExamIn
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings

ATTEMPTS = 10_000
EXPORT_ROWS = 100_000
REPEAT = 15
SORTS = ["candidate", "email", "attempt", "status", "score", "percent", "passed", "integrity"]
SORTS += ["time", "submitted", "grading"]
FILTERS: dict[str, dict[str, str]] = {
    "status": {"status": "in_progress"},
    "pass": {"pass": "passed"},
    "integrity": {"integrity": "under_review"},
    "percent": {"min": "40", "max": "60"},
    "date": {"from": "2026-03-05", "to": "2026-03-09"},
    "search": {"q": "4711"},
}

LABELS = {
    "results_first_page_api_ms": ("Results API, first page (10,000 attempts), median", "ms"),
    "results_first_page_html_ms": ("Results page, first page (10,000 attempts), median", "ms"),
    "results_worst_sort_ms": ("Results API, slowest sort of every column both ways", "ms"),
    "results_worst_filter_ms": ("Results API, slowest filter or search", "ms"),
    "results_next_page_ms": ("Results API, slowest second page by cursor, every sort", "ms"),
    "results_csv_100k_s": ("CSV export of 100,000 rows, whole download", "s"),
    "results_csv_100k_rss_growth_mb": ("Server RSS growth during that export", "MB"),
    "results_csv_100k_mb": ("Size of that CSV", "MB"),
    "results_xlsx_10k_s": ("XLSX export of 10,000 rows, whole download", "s"),
    "results_xlsx_10k_rss_growth_mb": ("Server RSS growth during that export", "MB"),
    "results_xlsx_10k_mb": ("Size of that XLSX", "MB"),
}


def _exam(db: Database, tenant_id: uuid.UUID, slug: str) -> uuid.UUID:
    bank = seed_content(db, tenant_id).bank_id
    with db.unit_of_work(tenant_id, Actor.operator("bench")) as uow:
        rows, _ = questions.search(uow, questions.Search(bank_id=bank), limit=5)
        spec = {
            "slug": slug,
            "title": f"Benchmark results {slug}",
            "sections": [{"kind": "fixed", "question_ids": [str(r.question.id) for r in rows]}],
        }
        exam = exams.create_exam(uow, ExamIn.model_validate(spec))
        exams.publish_exam(uow, exam.id)
        return exam.id


SEED = [
    """INSERT INTO candidates (tenant_id, id, name, email)
       SELECT :t, md5(:tag || 'c' || i)::uuid, 'Candidate ' || i, :tag || i || '@bench.test'
       FROM generate_series(1, :n) i""",
    """INSERT INTO invitations (tenant_id, id, candidate_id, exam_id, exam_version,
                                opens_at, closes_at, created_by)
       SELECT :t, md5(:tag || 'i' || i)::uuid, md5(:tag || 'c' || i)::uuid, :exam, 1,
              '2026-03-01', '2026-04-01', 'bench'
       FROM generate_series(1, :n) i""",
    # One in 20 still running; a tenth flagged, some reviewed (see listing's mapping).
    """INSERT INTO attempts (tenant_id, id, invitation_id, candidate_id, exam_id, exam_version,
                             number, seed, paper, status, grace_seconds, started_at,
                             submitted_at, submit_reason, integrity, review_outcome,
                             review_final)
       SELECT :t, md5(:tag || 'a' || i)::uuid, md5(:tag || 'i' || i)::uuid,
              md5(:tag || 'c' || i)::uuid, :exam, 1, 1, i, '[]'::jsonb,
              CASE WHEN i % 20 = 0 THEN 'in_progress' ELSE 'submitted' END, 0,
              timestamptz '2026-03-01' + i * interval '97 seconds',
              CASE WHEN i % 20 = 0 THEN NULL
                   ELSE timestamptz '2026-03-01' + i * interval '97 seconds'
                        + (600 + i % 3000) * interval '1 second' END,
              CASE WHEN i % 20 = 0 THEN NULL ELSE 'candidate' END,
              CASE WHEN i % 10 = 1 THEN 'flagged' WHEN i % 10 = 2 THEN 'provisional_fail'
                   ELSE 'clear' END,
              CASE WHEN i % 30 = 1 THEN 'cleared' WHEN i % 30 = 2 THEN 'violation_fail' END,
              i % 60 = 2
       FROM generate_series(1, :n) i""",
    # Every submitted attempt a first revision; a third regraded into a second.
    """INSERT INTO attempt_results (tenant_id, id, attempt_id, revision, awarded, max_points,
                                    percent, passed, needs_grading, document, document_sha256)
       SELECT :t, md5(:tag || 'r' || i || '-' || r)::uuid, md5(:tag || 'a' || i)::uuid, r,
              (i * 7 + r) % 21, 20, ((i * 7 + r) % 21) * 5,
              CASE WHEN r = 1 AND i % 3 = 0 THEN NULL ELSE ((i * 7 + r) % 21) >= 10 END,
              r = 1 AND i % 3 = 0, '{}'::jsonb, repeat('0', 64)
       FROM generate_series(1, :n) i, generate_series(1, 2) r
       WHERE i % 20 <> 0 AND (r = 1 OR i % 3 = 0)""",
]


def seed(db: Database, tenant_id: uuid.UUID, exam_id: uuid.UUID, n: int, tag: str) -> None:
    with db.unit_of_work(tenant_id, Actor.operator("bench")) as uow:
        for statement in SEED:
            uow.session.execute(
                text(statement), {"t": tenant_id, "exam": exam_id, "n": n, "tag": tag}
            )


def _median_ms(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        r = client.get(url, params=params)
        times.append((time.perf_counter() - start) * 1000)
        assert r.status_code == 200, r.text[:300]
    return statistics.median(times)


def _web_cookie(db: Database, settings: Settings, tenant_id: uuid.UUID) -> tuple[str, str]:
    from invigil.identity import auth
    from invigil.identity.models import User
    from invigil.web.session import COOKIE

    with db.unit_of_work(tenant_id) as uow:
        from sqlalchemy import select

        user = uow.session.scalars(select(User).where(User.email == "results@bench.test")).one()
        _, secret = auth.open_session(
            uow, settings, user, kind="web", address="bench", user_agent="bench", enroll_only=False
        )
    return COOKIE, secret


def _download(client: httpx.Client, pid: int, url: str, fmt: str, key: str) -> dict[str, float]:
    """Time the whole download; the server's peak RSS over its RSS before."""
    before = _family_kb(pid, "VmRSS")
    _reset_peak(pid)
    start, size = time.perf_counter(), 0
    with client.stream("GET", url, params={"format": fmt}) as r:
        assert r.status_code == 200
        for piece in r.iter_bytes():
            size += len(piece)
    return {
        f"{key}_s": time.perf_counter() - start,
        f"{key}_rss_growth_mb": (_family_kb(pid, "VmHWM") - before) / 1024,
        f"{key}_mb": size / 1e6,
    }


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    exam = _exam(db, tenant_id, "bench-results")
    seed(db, tenant_id, exam, ATTEMPTS, "r10k-")
    big = _exam(db, tenant_id, "bench-results-export")
    seed(db, tenant_id, big, EXPORT_ROWS, "r100k-")
    token = baseline.bearer_token(
        db,
        settings,
        tenant_id,
        email="results@bench.test",
        role="results_viewer",
        tenant_slug="bench-results",
    )
    superuser = libpq(urls.admin.set(database=urls.owner.database))
    import psycopg

    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) candidates, invitations, attempts, attempt_results")
    out: dict[str, float] = {}
    with serve(superuser, Path(settings.home)) as (port, pid):
        base = f"http://127.0.0.1:{port}"
        api = f"{base}/api/v1/exams/{exam}/results"
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
            _median_ms(client, api)  # warm the server and the caches
            out["results_first_page_api_ms"] = _median_ms(client, api)
            sorts = {s: _median_ms(client, api, {"sort": s}) for k in SORTS for s in (k, "-" + k)}
            worst_sort = max(sorts, key=lambda s: sorts[s])
            out["results_worst_sort_ms"] = sorts[worst_sort]
            filters = {k: _median_ms(client, api, p) for k, p in FILTERS.items()}
            worst_filter = max(filters, key=lambda k: filters[k])
            out["results_worst_filter_ms"] = filters[worst_filter]
            later = {}
            for s in sorts:
                cursor = client.get(api, params={"sort": s}).json()["next"]
                later[s] = _median_ms(client, api, {"sort": s, "cursor": cursor})
            worst_later = max(later, key=lambda s: later[s])
            out["results_next_page_ms"] = later[worst_later]
            name, secret = _web_cookie(db, settings, tenant_id)
            with httpx.Client(cookies={name: secret}, timeout=120) as browser:
                page = f"{base}/exams/{exam}/results"
                _median_ms(browser, page)
                out["results_first_page_html_ms"] = _median_ms(browser, page)
            export = f"{base}/api/v1/exams/{big}/results"
            out |= _download(client, pid, export, "csv", "results_csv_100k")
            out |= _download(client, pid, api, "xlsx", "results_xlsx_10k")
    print(f"results: slowest {worst_sort}, {worst_filter}, {worst_later}", flush=True)
    SLOWEST[:] = [worst_sort, worst_filter, worst_later]
    return out


SLOWEST: list[str] = []  # the slowest sort, filter and second page of the last run


def section(found: dict[str, float]) -> list[str]:
    if "results_first_page_api_ms" not in found:
        return []
    targets: dict[str, tuple[float, str]] = {
        "results_first_page_api_ms": (150, "< 150 ms"),
        "results_first_page_html_ms": (150, "< 150 ms"),
        "results_worst_sort_ms": (300, "< 300 ms"),
        "results_worst_filter_ms": (300, "< 300 ms"),
        "results_next_page_ms": (300, "< 300 ms"),
        "results_csv_100k_rss_growth_mb": (50, "within +50 MB"),
        "results_xlsx_10k_rss_growth_mb": (50, "within +50 MB"),
    }
    lines = [
        "",
        "## Results view (benchmarks/results.py)",
        "",
        f"An exam with {ATTEMPTS:,} begun attempts; the export from one with "
        f"{EXPORT_ROWS:,}. Medians of {REPEAT} requests, timed by the client over "
        "loopback (an upper bound of the server's time).",
        "",
        "| scenario | figure | target | met |",
        "|---|---:|---|---|",
    ]
    for key, (label, unit) in LABELS.items():
        value = found.get(key)
        if value is None:
            continue
        limit, target = targets.get(key, (None, ""))
        met = "" if limit is None else ("yes" if value < limit else "**no**")
        lines.append(f"| {label} | {value:,.1f} {unit} | {target} | {met} |")
    if SLOWEST:
        sort, narrow, later = SLOWEST
        lines += [
            "",
            f"Slowest sort: `{sort}`; slowest filter: `{narrow}`; slowest second page: "
            f"`{later}`. Every sort key, both directions, and each filter "
            f"({', '.join(FILTERS)}) was measured.",
        ]
    return lines


def main() -> None:
    """Only this benchmark, on a fresh database: ``python -m benchmarks.results``."""
    import tempfile

    from invigil.db import embedded
    from invigil.db.bootstrap import drop_database
    from invigil.db.migrate import upgrade
    from invigil.tenants import service as tenants

    home = Path(tempfile.mkdtemp(prefix="invigil-bench-results-"))
    settings = Settings(home=home)
    admin = settings.database_url or embedded.start(home / "pgdata")
    urls = DatabaseUrls.build(settings, admin, database=f"invigil_bench_{uuid.uuid4().hex[:6]}")
    upgrade(settings, urls)
    db = Database.connect(urls)
    try:
        tenant = tenants.create_tenant(
            db,
            slug="bench-results",
            name="Bench",
            region=settings.regions[0],
            regions=settings.regions,
        )
        found: Any = figures(db, urls, settings, tenant.id)
    finally:
        db.dispose()
        drop_database(urls)
    print("\n".join(section(found)))


if __name__ == "__main__":
    main()
