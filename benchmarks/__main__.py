"""Run every benchmark against a fresh database and write docs/performance.md.

Uses the embedded PostgreSQL unless DATABASE_URL is set, exactly like the app.
Loads only loopback addresses; every loop is bounded in count and time.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import psycopg

from benchmarks import analytics as analytics_bench
from benchmarks import audit as audit_bench
from benchmarks import baseline
from benchmarks import bodies as bodies_bench
from benchmarks import coverage as coverage_bench
from benchmarks import delivery as delivery_bench
from benchmarks import events as events_bench
from benchmarks import evidence as evidence_bench
from benchmarks import ledger as ledger_bench
from benchmarks import live as live_bench
from benchmarks import realistic as realistic_bench
from benchmarks import recertification as recert_bench
from benchmarks import reports as reports_bench
from benchmarks import results as results_bench
from benchmarks import verify_page as verify_bench
from benchmarks.machine import describe
from invigil.context import Services
from invigil.db import embedded
from invigil.db.bootstrap import drop_database
from invigil.db.engine import Database
from invigil.db.migrate import upgrade
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant

OUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"

LABELS = {
    "raw_insert_autocommit_rows_s": ("Raw INSERT, one row per autocommit statement", "rows/s"),
    "raw_insert_50_per_tx_rows_s": ("Raw INSERT, 50 rows per transaction", "rows/s"),
    "uow_insert_rls_rows_s": (
        "INSERT through a tenant-bound unit of work (RLS, one tx each)",
        "rows/s",
    ),
    "http_healthz_req_s": ("GET /healthz, one uvicorn worker, wrk -t2 -c32", "req/s"),
    "http_me_authenticated_req_s": (
        "GET /api/v1/me with a bearer token (JWT check, session "
        "check, user and roles), same server",
        "req/s",
    ),
    "write_without_audit_tx_s": ("Business write (one small row), one transaction each", "tx/s"),
    "write_with_audit_tx_s": ("The same write plus its audit entry, same transaction", "tx/s"),
    "log_fill_s": ("Filling a 1,000,000-entry log (entries built in Python, COPY)", "s"),
    "seal_1m_s": ("Sealing a checkpoint over 1,000,000 entries", "s"),
    "inclusion_cold_ms": (
        "Inclusion proof via the service, 1M entries, first request "
        "(loads leaves, builds the tree)",
        "ms",
    ),
    "inclusion_warm_ms": ("Inclusion proof via the service, 1M entries, cached tree", "ms"),
    "verify_1m_s": (
        "Full verification of 1,000,000 entries from the database (`invigil audit verify`)",
        "s",
    ),
    "library_tree_build_1m_s": ("Auditor library: build the tree of 1,000,000 leaves", "s"),
    "library_inclusion_proof_ms": ("Auditor library: one inclusion proof in that tree", "ms"),
}


LABELS |= evidence_bench.LABELS
LABELS |= delivery_bench.LABELS
LABELS |= events_bench.LABELS
LABELS |= live_bench.LABELS
LABELS |= realistic_bench.LABELS
LABELS |= analytics_bench.LABELS
LABELS |= recert_bench.LABELS
LABELS |= reports_bench.LABELS
LABELS |= results_bench.LABELS
LABELS |= verify_bench.LABELS
LABELS |= coverage_bench.LABELS
LABELS |= ledger_bench.LABELS


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="invigil-bench-"))
    settings = Settings(home=home)
    admin = settings.database_url or embedded.start(home / "pgdata")
    urls = DatabaseUrls.build(settings, admin, database=f"invigil_bench_{uuid.uuid4().hex[:6]}")
    upgrade(settings, urls)
    db = Database.connect(urls)
    try:
        with psycopg.connect(libpq(urls.owner)) as conn:
            row = conn.execute("SHOW server_version").fetchone()
        pg_version = str(row[0]) if row else "?"
        tenant = tenants.create_tenant(
            db, slug="bench", name="Bench", region=settings.regions[0], regions=settings.regions
        )
        figures: dict[str, float] = {}
        figures.update(baseline.insert_rates(urls))
        figures.update(baseline.uow_insert_rate(db, tenant.id))
        token = baseline.bearer_token(
            db,
            settings,
            tenant.id,
            email="bench@bench.test",
            role="grader",
            tenant_slug="bench",
            user_agent="wrk",
        )
        figures.update(
            baseline.http_rate(
                libpq(urls.admin.set(database=urls.owner.database)),
                str(home),
                paths={
                    "http_healthz_req_s": ("/healthz", None),
                    "http_me_authenticated_req_s": ("/api/v1/me", token),
                },
            )
        )
        figures.update(audit_bench.write_rates(db, tenant.id))

        def bench_tenant(slug: str, name: str) -> Tenant:
            return tenants.create_tenant(
                db, slug=slug, name=name, region=settings.regions[0], regions=settings.regions
            )

        big = bench_tenant("bench-log", "Bench log")
        figures.update(audit_bench.large_log(db, urls, big.id, Services.build(settings).keys))
        figures.update(evidence_bench.figures(home / "evidence-bench"))
        candidates = bench_tenant("bench-candidates", "Bench candidates")
        figures.update(delivery_bench.figures(db, urls, settings, candidates.id))
        proctored = bench_tenant("bench-events", "Bench proctoring events")
        figures.update(events_bench.figures(db, urls, settings, proctored.id))
        watched = bench_tenant("bench-live", "Bench live monitoring")
        figures.update(live_bench.figures(db, urls, settings, watched.id))
        strict = bench_tenant("bench-realistic", "Bench realistic load")
        figures.update(realistic_bench.figures(db, urls, settings, strict.id))
        figures.update(bodies_bench.figures(db, urls, settings, tenant.id))
        cohort = bench_tenant("bench-analytics", "Bench analytics")
        figures.update(analytics_bench.figures(db, urls, settings, cohort.id))
        cohort = bench_tenant("bench-reports", "Bench printed reports")
        figures.update(reports_bench.figures(db, urls, settings, cohort.id))
        results = bench_tenant("bench-results", "Bench results")
        figures.update(results_bench.figures(db, urls, settings, results.id))
        verifying = bench_tenant("bench-verify", "Bench verification")
        figures.update(verify_bench.figures(db, urls, settings, verifying.id))
        covered = bench_tenant("bench-coverage", "Bench coverage")
        figures.update(coverage_bench.figures(db, urls, settings, covered.id))
        certified = bench_tenant("bench-recertification", "Bench recertification")
        figures.update(recert_bench.figures(db, urls, settings, certified.id))
        ledgered = bench_tenant("bench-ledger", "Bench ledger")
        figures.update(ledger_bench.figures(db, urls, settings, ledgered.id))
    finally:
        db.dispose()
        drop_database(urls)
    write(describe(pg_version), figures)
    print(OUT.read_text())


def write(machine: dict[str, str], figures: dict[str, float]) -> None:
    lines = [
        "# Performance",
        "",
        "Written by `make bench` (benchmarks/); do not edit by hand. Every figure of one",
        "run comes from the same machine and database, so later scenarios compare with",
        "the baselines of the same table.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in machine.items()],
        "",
        "## Baselines",
        "",
        "| scenario | figure |",
        "|---|---:|",
    ]
    for key, value in figures.items():
        if (
            key in delivery_bench.LABELS
            or key in events_bench.LABELS
            or key in live_bench.LABELS
            or key in realistic_bench.LABELS
            or key in analytics_bench.LABELS
            or key in reports_bench.LABELS
            or key in results_bench.LABELS
            or key in verify_bench.LABELS
            or key in coverage_bench.LABELS
            or key in recert_bench.LABELS
            or key in ledger_bench.LABELS
            or key.startswith("bodies_")
        ):
            continue  # their own sections, one column per scenario
        label, unit = LABELS.get(key, (key, ""))
        shown = f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"
        lines.append(f"| {label} | {shown} {unit} |")
    plain, audited = figures.get("write_without_audit_tx_s"), figures.get("write_with_audit_tx_s")
    if plain and audited:
        lines += [
            "",
            f"The audited write keeps {audited / plain:.0%} of the unaudited write's "
            "throughput (target: at least 70%).",
        ]
    copy = figures.get("evidence_plain_copy_fsync_mb_s")
    sealed = figures.get("evidence_encrypted_write_mb_s")
    if copy and sealed:
        lines += [
            "",
            f"Encrypted writes keep {sealed / copy:.0%} of a durable plain copy of the same "
            "bytes (target: at least 60%); against a copy left in the page cache "
            f"(no fsync) they keep {sealed / figures['evidence_plain_copy_mb_s']:.0%}.",
        ]
    base = figures.get("raw_insert_autocommit_rows_s")
    uow = figures.get("uow_insert_rls_rows_s")
    if base and uow:
        lines += [
            "",
            f"A tenant-bound unit of work keeps {uow / base:.0%} of the raw autocommit",
            "insert rate (it adds BEGIN, the tenant `set_config`, the ORM and COMMIT).",
        ]
    lines += delivery_bench.section(figures)
    lines += events_bench.section(figures)
    lines += live_bench.section(figures)
    lines += realistic_bench.section(figures)
    lines += bodies_bench.section(figures)
    lines += analytics_bench.section(figures)
    lines += reports_bench.section(figures)
    lines += results_bench.section(figures)
    lines += verify_bench.section(figures)
    lines += coverage_bench.section(figures)
    lines += recert_bench.section(figures)
    lines += ledger_bench.section(figures)
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
