"""Run one benchmark on its own: a fresh database in a temporary home (the
embedded PostgreSQL unless DATABASE_URL is set), one tenant, then print the
figures and the docs/performance.md section (``python -m benchmarks.<name>``)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings

Figures = Callable[[Database, DatabaseUrls, Settings, uuid.UUID], dict[str, float]]
Section = Callable[[dict[str, float]], list[str]]


def run(slug: str, name: str, figures: Figures, section: Section) -> None:
    from invigil.db import embedded
    from invigil.db.bootstrap import drop_database
    from invigil.db.migrate import upgrade
    from invigil.tenants import service as tenants

    home = Path(tempfile.mkdtemp(prefix="invigil-bench-"))
    settings = Settings(home=home)
    admin = settings.database_url or embedded.start(home / "pgdata")
    urls = DatabaseUrls.build(settings, admin, database=f"invigil_bench_{uuid.uuid4().hex[:6]}")
    upgrade(settings, urls)
    db = Database.connect(urls)
    try:
        tenant = tenants.create_tenant(
            db, slug=slug, name=name, region=settings.regions[0], regions=settings.regions
        )
        found = figures(db, urls, settings, tenant.id)
    finally:
        db.dispose()
        drop_database(urls)
    for key, value in found.items():
        print(f"{key}: {value:,.2f}")
    print("\n".join(section(found)))
