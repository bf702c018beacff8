"""A voided attempt counts nowhere: not in an exam's analytics (and its cache
notices the void), item analysis, the exam report, the cohort medians of a
result page, the grading queue, shortlist runs or certification; the
results list still shows it, marked voided (tests/results/cohort.py's
crafted cohort: p1 scored 100 %, p6's essay waits for a grader)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from invigil.certification import facts as certification_facts
from invigil.db.uow import Actor
from invigil.delivery import voids
from invigil.delivery.models import Attempt
from invigil.results import analytics, attempt_result, exam_report, exports, listing
from invigil.results import queue as grading_queue
from invigil.settings import Settings
from invigil.shortlists import cohort as shortlist_cohort
from tests.conftest import BoundDatabase, make_tenant
from tests.results.test_analytics import by_key, cohort


def _void(db: BoundDatabase, tenant: uuid.UUID, attempt_id: uuid.UUID) -> None:
    with db.unit_of_work(tenant, Actor.operator("admin")) as uow:
        voids.void(uow, attempt_id, "duplicate")


def test_analytics_item_analysis_and_report_leave_a_voided_attempt_out(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam, attempts = cohort(db, tenant)
    with db.unit_of_work(tenant) as uow:
        before = analytics.exam_analytics(uow, exam.id)
        report = exam_report.build(uow, exam.id)
        p2 = uow.get(Attempt, attempts[1])
        assert p2 is not None
        medians = attempt_result.medians(uow, p2)
    assert (before.summary["submitted"], before.summary["passed"]) == (6, 2)
    assert by_key(exam, before)["A"]["n"] == 5 and (report.scored, medians.cohort) == (6, 6)
    _void(db, tenant, attempts[0])  # p1: 100 %, passed
    with db.unit_of_work(tenant) as uow:
        after = analytics.exam_analytics(uow, exam.id)
        report = exam_report.build(uow, exam.id)
        medians = attempt_result.medians(uow, p2)
    assert not after.cached  # the void changed what the cache covers
    assert (after.summary["submitted"], after.summary["graded"]) == (5, 4)
    assert (after.summary["passed"], after.summary["with_outcome"]) == (1, 4)
    assert by_key(exam, after)["A"]["n"] == 4
    assert sum(h["count"] for h in after.histogram) == 4
    assert (report.scored, report.passed, medians.cohort) == (5, 1, 5)


def test_the_results_list_shows_a_voided_result_as_voided(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam, attempts = cohort(db, tenant)
    _void(db, tenant, attempts[0])
    with db.unit_of_work(tenant) as uow:
        rows = [
            listing.row(r)
            for r in uow.session.execute(listing.query(exam.id, identities=False).stmt)
        ]
    shown = {r.attempt_id: r for r in rows}
    assert len(shown) == 6  # listed still, with its score
    assert shown[attempts[0]].voided and shown[attempts[0]].percent is not None
    assert not any(r.voided for a, r in shown.items() if a != attempts[0])
    assert exports.cells(shown[attempts[0]], False)[3] == "voided"
    assert exports.cells(shown[attempts[1]], False)[3] == "submitted"


def test_the_grading_queue_skips_a_voided_attempt(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    _, attempts = cohort(db, tenant)
    essay = attempts[-1]  # p6's essay waits for a grader

    def waiting() -> set[uuid.UUID]:
        with db.unit_of_work(tenant) as uow:
            q = grading_queue.queue(None)
            return set(uow.session.scalars(select(q.c.attempt_id)))

    assert essay in waiting()
    _void(db, tenant, essay)
    assert essay not in waiting()


def test_shortlists_and_certification_read_past_a_voided_attempt(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam, attempts = cohort(db, tenant)
    with db.unit_of_work(tenant) as uow:
        holder = uow.get(Attempt, attempts[0]).candidate_id  # type: ignore[union-attr]
        assert attempts[0] in {f.attempt_id for f in shortlist_cohort.read(uow, [exam.id])}
        assert certification_facts.exams(uow, holder, [exam.id])[exam.id].attempt_id == attempts[0]
    _void(db, tenant, attempts[0])
    with db.unit_of_work(tenant) as uow:
        read = {f.attempt_id for f in shortlist_cohort.read(uow, [exam.id])}
        assert attempts[0] not in read and attempts[1] in read
        # the holder's only attempt is voided: nothing to certify on
        assert certification_facts.exams(uow, holder, [exam.id]) == {}


def test_a_voided_result_is_released_to_no_one_by_hand_either(
    db: BoundDatabase, settings: Settings
) -> None:
    from invigil.errors import Conflict
    from invigil.results import release
    from invigil.results.models import ResultRelease

    tenant = make_tenant(db, settings).id
    exam, attempts = cohort(db, tenant)
    _void(db, tenant, attempts[0])
    with db.unit_of_work(tenant) as uow:
        with pytest.raises(Conflict) as one:
            release.release_one(uow, attempts[0])
        assert one.value.extensions["voided"] == [str(attempts[0])]
    with db.unit_of_work(tenant) as uow:
        with pytest.raises(Conflict) as named:
            release.release_many(uow, exam.id, [attempts[0], attempts[1]])
        assert "nothing was released" in named.value.detail
    with db.unit_of_work(tenant) as uow:
        done = release.release_many(uow, exam.id, None)  # every final result: not the voided
        released = {r.attempt_id for r in done.released} | set(done.already)
        assert attempts[0] not in released and attempts[1] in released
        shown = list(uow.scalars(select(ResultRelease.attempt_id)))
        assert attempts[0] not in shown
