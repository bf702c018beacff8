"""The demo's essay exam: a cohort of 45, forty graded through the grading
service (double marked, some moderated), five still waiting in the queue."""

from __future__ import annotations

from sqlalchemy import func, select

from invigil import demo
from invigil.content import exams
from invigil.db import platform
from invigil.db.engine import Database
from invigil.delivery import review
from invigil.delivery.models import Attempt
from invigil.results import queue
from invigil.results.models import GradingMark
from invigil.settings import Settings
from tests.delivery.factories import kit_for


def test_the_essay_demo_has_a_graded_cohort_and_a_queue(
    database: Database, settings: Settings
) -> None:
    demo.seed(database, regions=settings.regions, kit=kit_for(settings))
    again = demo.seed(database, regions=settings.regions, kit=kit_for(settings))
    assert not again.created
    ref = platform.tenant_by_slug(database, "acme")
    assert ref is not None
    with database.unit_of_work(ref.id) as uow:
        exam = exams.find_by_slug(uow, "essay-demo")
        assert exam is not None and exam.status == "published"
        ids = uow.scalars(
            select(Attempt.id).where(Attempt.exam_id == exam.id, Attempt.status == "submitted")
        )
        assert len(ids) >= 45
        latest = review.latest_results(uow, ids)
        graded = [r for r in latest.values() if not r.needs_grading]
        assert len(graded) >= 40
        assert all(r.document["scored_by"] == "human" for r in graded)
        assert len({r.percent for r in graded}) >= 5  # varied scores, for the charts
        kinds = dict(
            uow.session.execute(
                select(GradingMark.kind, func.count()).group_by(GradingMark.kind)
            ).all()
        )
        assert kinds.get("second", 0) >= 80 and kinds.get("moderation", 0) >= 1
        sub = queue.queue(None)
        waiting = uow.session.execute(
            select(sub.c.attempt_id, sub.c.state).where(sub.c.exam_id == exam.id)
        ).all()
        assert len({a for a, _ in waiting}) == 5
        assert {s for _, s in waiting} == {"unmarked", "awaiting_second", "awaiting_moderation"}
    with database.unit_of_work(platform.tenant_by_slug(database, "globex").id) as uow:  # type: ignore[union-attr]
        assert exams.find_by_slug(uow, "essay-demo") is None
