"""The automatic trigger: a result becoming final (submitted with nothing to
grade, grading completed, a review decided) defers `certification.evaluate`
for its candidate in that transaction; the job issues."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, text

from invigil.certification import jobs
from invigil.certification.models import Certificate
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.results import grading
from invigil.results.schemas import CriterionMarkIn, MarkIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.certification.factories import NOW, program
from tests.conftest import BoundDatabase, make_user
from tests.delivery.factories import kit_for
from tests.results.cohort import make_exam4
from tests.results.factories import graded_exam, submitted


def deferred(db: BoundDatabase, candidate: uuid.UUID) -> list[Any]:
    with db.unit_of_work() as uow:
        return list(uow.session.execute(
            text("SELECT queue_name, args->>'tenant_id' FROM procrastinate_jobs"
                 " WHERE task_name = :t AND args->>'candidate_id' = :c"),
            {"t": jobs.TASK, "c": str(candidate)},
        ))  # fmt: skip


def candidate_of(db: BoundDatabase, tenant_id: uuid.UUID, attempt: uuid.UUID) -> uuid.UUID:
    with db.unit_of_work(tenant_id) as uow:
        return uow.get(Attempt, attempt).candidate_id


def test_grading_completed_defers_the_evaluation_and_the_job_issues(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id)
    pid, _ = program(db, tenant_a.id, exam_ids=[exam])
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    who = candidate_of(db, tenant_a.id, attempt)
    assert deferred(db, who) == []  # the essay waits for a grader: not final
    grader = make_user(db, tenant_a.id, ["grader"])
    with db.unit_of_work(tenant_a.id, Actor("user", str(grader.id))) as uow:
        marks = [CriterionMarkIn(criterion="Argument: structure", level="Strong = clear"),
                 CriterionMarkIn(criterion="Language", level="Good")]  # fmt: skip
        grading.submit_mark(uow, attempt, 1, MarkIn(criteria=marks))
    assert deferred(db, who) == []  # the short answer still waits
    with db.unit_of_work(tenant_a.id, Actor("user", str(grader.id))) as uow:
        grading.submit_mark(uow, attempt, 2, MarkIn(points=2, comment="fine"))
    assert deferred(db, who) == [(jobs.QUEUE, str(tenant_a.id))]

    assert jobs.run_evaluation(db, str(tenant_a.id), str(who), now=NOW) == 1
    assert jobs.run_evaluation(db, str(tenant_a.id), str(who), now=NOW) == 0
    with db.unit_of_work(tenant_a.id) as uow:
        (cert,) = uow.session.scalars(select(Certificate).where(Certificate.holder_id == who))
        assert cert.program_id == pid and cert.basis[0]["attempt_id"] == str(attempt)
        assert cert.basis[0]["revision"] == 2


def test_a_submission_with_nothing_to_grade_defers_it_when_a_program_names_the_exam(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    unnamed = make_exam4(db, tenant_a.id).id
    attempt = submitted(db, tenant_a.id, kit_for(settings), unnamed, {0: 0})
    assert deferred(db, candidate_of(db, tenant_a.id, attempt)) == []
    exam, recert = make_exam4(db, tenant_a.id).id, make_exam4(db, tenant_a.id).id
    program(db, tenant_a.id, exam_ids=[exam], recert_exam_id=str(recert))
    for named in (exam, recert):
        attempt = submitted(db, tenant_a.id, kit_for(settings), named, {0: 0})
        assert len(deferred(db, candidate_of(db, tenant_a.id, attempt))) == 1


def test_the_job_is_registered_with_the_queue() -> None:
    from invigil.jobs import queue

    names = set(queue.tasks().tasks)
    assert jobs.NAME in names


def test_a_review_outcome_defers_it(db: BoundDatabase, settings: Settings, app: Any) -> None:
    from tests.proctoring.test_reviews import decide, decide_all_flags, flagged

    s = flagged(app, db, settings)
    program(db, s.tenant_id, exam_ids=[s.exam_id])
    who = candidate_of(db, s.tenant_id, s.attempt_id)
    before = len(deferred(db, who))
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    decide_all_flags(db, s, reviewer, "dismissed")
    assert len(deferred(db, who)) == before  # a flag decided: the outcome is not yet
    decide(db, s, reviewer, "outcome", "cleared")
    assert len(deferred(db, who)) == before + 1
