"""The demo's coverage (certification/coverage_demo.py): every status shows on the
day it is seeded, certificates come from the lifecycle (anchored), and
seeding twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from invigil.certification import coverage
from invigil.certification.coverage import STATUSES, Filters
from invigil.certification.coverage_demo import seed_coverage
from invigil.certification.models import Certificate
from invigil.content.demo import seed_content
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.conftest import make_tenant

TODAY = datetime(2026, 12, 7, 9, tzinfo=UTC)


def test_the_demo_shows_every_status_and_seeds_once(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    seed_content(db, tenant.id)
    assert seed_coverage(db, tenant.id, tenant.slug, now=TODAY) is True
    assert seed_coverage(db, tenant.id, tenant.slug, now=TODAY) is False
    with db.unit_of_work(tenant.id) as uow:
        found = coverage.summary(uow, Filters(), now=TODAY)
        certificates = uow.scalar(select(func.count()).select_from(Certificate))
    assert {line.group_name for line in found.lines} == {"Support team", "Field engineers",
                                                         "Berlin"}  # fmt: skip
    assert all(found.totals[s] > 0 for s in STATUSES), found.totals
    support = next(x for x in found.lines if x.group_name == "Support team")
    assert all(support.counts[s] == 1 for s in STATUSES)
    assert certificates == 12
