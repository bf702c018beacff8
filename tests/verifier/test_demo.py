"""The demo's attempts (``invigil demo``: standard-demo sat by two
candidates, essay-demo's cohort of 45 double marked, moderated where two
marks lie apart, some still waiting) recompute offline to every revision
of their results."""

from __future__ import annotations

from sqlalchemy import select

from invigil import demo
from invigil.db import platform
from invigil.db.engine import Database
from invigil.delivery.models import Attempt
from invigil.settings import Settings
from invigil.verifier.paper import check_paper
from invigil.verifier.scoring import check_revisions
from tests.delivery.factories import kit_for
from tests.verifier.sitting import documents


def test_every_demo_result_recomputes_offline(database: Database, settings: Settings) -> None:
    demo.seed(database, regions=settings.regions, kit=kit_for(settings))
    seen: dict[str, int] = {"attempts": 0, "graded": 0, "moderated": 0, "waiting": 0}
    for slug, _, _ in demo.DEMO_TENANTS:
        ref = platform.tenant_by_slug(database, slug)
        assert ref is not None
        with database.unit_of_work(ref.id) as uow:
            ids = uow.scalars(select(Attempt.id).where(Attempt.status == "submitted"))
        for attempt in ids:
            found = documents(database, ref.id, attempt)
            said = check_revisions(found.exam, found.sheet, found.marks, found.results)
            assert said is None, f"{slug} attempt {attempt}: {said}"
            assert check_paper(found.exam, found.sheet) is None
            seen["attempts"] += 1
            seen["graded"] += found.latest["scored_by"] == "human"
            seen["moderated"] += any(m["kind"] == "moderation" for m in found.marks)
            seen["waiting"] += found.latest["needs_grading"]
    assert seen["attempts"] >= 47 and seen["graded"] >= 40, seen
    assert seen["moderated"] >= 2 and seen["waiting"] >= 5, seen
