"""Run every benchmark against a fresh database and write docs/performance.md.

Uses the embedded PostgreSQL unless DATABASE_URL is set, exactly like the app.
Loads only loopback addresses; every loop is bounded in count and time.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import psycopg

from benchmarks import baseline
from benchmarks.machine import describe
from invigil.db import embedded
from invigil.db.bootstrap import drop_database
from invigil.db.engine import Database
from invigil.db.migrate import upgrade
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings
from invigil.tenants import service as tenants

OUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"

LABELS = {
    "raw_insert_autocommit_rows_s": ("Raw INSERT, one row per autocommit statement", "rows/s"),
    "raw_insert_50_per_tx_rows_s": ("Raw INSERT, 50 rows per transaction", "rows/s"),
    "uow_insert_rls_rows_s": (
        "INSERT through a tenant-bound unit of work (RLS, one tx each)",
        "rows/s",
    ),
    "http_healthz_req_s": ("GET /healthz, one uvicorn worker, wrk -t2 -c32", "req/s"),
}


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
        figures.update(
            baseline.http_rate(libpq(urls.admin.set(database=urls.owner.database)), str(home))
        )
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
        label, unit = LABELS.get(key, (key, ""))
        lines.append(f"| {label} | {value:,.0f} {unit} |")
    base = figures.get("raw_insert_autocommit_rows_s")
    uow = figures.get("uow_insert_rls_rows_s")
    if base and uow:
        lines += [
            "",
            f"A tenant-bound unit of work keeps {uow / base:.0%} of the raw autocommit",
            "insert rate (it adds BEGIN, the tenant `set_config`, the ORM and COMMIT).",
        ]
    OUT.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
