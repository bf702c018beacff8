"""Releasing results: each mode end to end at the service level, by hand and
in bulk, re-release on regrade, and the append-only release record."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from invigil.db.uow import Actor
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Invalid
from invigil.results import release
from invigil.results.models import ResultRelease
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.results.helpers import FLAGGING, grade, make_release_exam, review, sit


def released(
    db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: uuid.UUID
) -> list[tuple[int, str]]:
    with db.unit_of_work(tenant_id) as uow:
        return [(r.revision, r.how) for r in release.releases_of(uow, attempt_id)]


def test_immediately_releases_on_submit(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, results_release="immediately")
    sat = sit(db, settings, tenant.id, exam)
    assert released(db, tenant.id, sat.attempt_id) == [(1, "automatic")]


def test_after_grading_waits_for_the_revision_that_completes_grading(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, essay=True, results_release="after_grading")
    sat = sit(db, settings, tenant.id, exam)
    assert released(db, tenant.id, sat.attempt_id) == []  # the essay needs grading
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        result = grade(uow, sat.attempt_id)
        assert release.on_result(uow, attempt, result) is not None
    assert released(db, tenant.id, sat.attempt_id) == [(2, "automatic")]


def test_immediately_with_an_essay_also_waits_for_grading(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, essay=True, results_release="immediately")
    sat = sit(db, settings, tenant.id, exam)
    assert released(db, tenant.id, sat.attempt_id) == []


def test_after_review_waits_for_a_cleared_review(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(
        db, tenant.id, results_release="after_review", proctoring_policy=FLAGGING
    )
    clean = sit(db, settings, tenant.id, exam)
    assert released(db, tenant.id, clean.attempt_id) == [(1, "automatic")]  # nothing flagged
    flagged = sit(db, settings, tenant.id, exam, flagged=True)
    assert released(db, tenant.id, flagged.attempt_id) == []  # graded, review open
    reviewer = make_user(db, tenant.id, ["proctor_reviewer"])
    review(db, tenant.id, reviewer.id, flagged.attempt_id, "dismissed", "cleared")
    assert released(db, tenant.id, flagged.attempt_id) == [(1, "automatic")]


def test_after_review_waits_for_grading_too(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(
        db, tenant.id, essay=True, results_release="after_review", proctoring_policy=FLAGGING
    )
    sat = sit(db, settings, tenant.id, exam, flagged=True)
    reviewer = make_user(db, tenant.id, ["proctor_reviewer"])
    review(db, tenant.id, reviewer.id, sat.attempt_id, "dismissed", "cleared")
    assert released(db, tenant.id, sat.attempt_id) == []  # cleared, but the essay waits
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, sat.attempt_id)
        release.on_result(uow, attempt, grade(uow, sat.attempt_id))
    assert released(db, tenant.id, sat.attempt_id) == [(2, "automatic")]


def test_a_failed_review_never_releases_automatically(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(
        db, tenant.id, results_release="after_review", proctoring_policy=FLAGGING
    )
    sat = sit(db, settings, tenant.id, exam, flagged=True)
    reviewer = make_user(db, tenant.id, ["proctor_reviewer"])
    review(db, tenant.id, reviewer.id, sat.attempt_id, "confirmed", "violation_fail")
    assert released(db, tenant.id, sat.attempt_id) == []
    with db.unit_of_work(tenant.id) as uow:  # a regrade does not release it either
        attempt = uow.get(Attempt, sat.attempt_id)
        assert release.on_result(uow, attempt, grade(uow, sat.attempt_id)) is None
    assert released(db, tenant.id, sat.attempt_id) == []


def test_manual_releases_only_by_hand(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, results_release="manual")
    sat = sit(db, settings, tenant.id, exam)
    assert released(db, tenant.id, sat.attempt_id) == []
    staff = make_user(db, tenant.id, ["exam_author"])
    with db.unit_of_work(tenant.id, Actor("user", str(staff.id))) as uow:
        row = release.release_one(uow, sat.attempt_id)
        assert row.released_by == staff.id
        again = release.release_one(uow, sat.attempt_id)  # idempotent
        assert again.id == row.id
    assert released(db, tenant.id, sat.attempt_id) == [(1, "manual")]


def test_a_regrade_after_release_is_released_again(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, results_release="manual")
    sat = sit(db, settings, tenant.id, exam)
    with db.unit_of_work(tenant.id) as uow:
        release.release_one(uow, sat.attempt_id)
        attempt = uow.get(Attempt, sat.attempt_id)
        assert release.on_result(uow, attempt, grade(uow, sat.attempt_id)) is not None
    assert released(db, tenant.id, sat.attempt_id) == [(1, "manual"), (2, "automatic")]


def test_releasing_by_hand_refuses_a_result_that_needs_grading(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, essay=True, results_release="manual")
    sat = sit(db, settings, tenant.id, exam)
    with db.unit_of_work(tenant.id) as uow, pytest.raises(Conflict, match="needs grading"):
        release.release_one(uow, sat.attempt_id)


def test_bulk_refuses_pending_attempts_naming_them_and_releases_the_final_ones(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, essay=True, results_release="manual")
    graded, pending = (sit(db, settings, tenant.id, exam) for _ in range(2))
    with db.unit_of_work(tenant.id) as uow:
        grade(uow, graded.attempt_id)
    chosen = [graded.attempt_id, pending.attempt_id]
    with db.unit_of_work(tenant.id) as uow, pytest.raises(Conflict) as refused:
        release.release_many(uow, exam, chosen)
    assert refused.value.extensions["pending"] == [str(pending.attempt_id)]
    assert released(db, tenant.id, graded.attempt_id) == []  # all or nothing
    with db.unit_of_work(tenant.id) as uow:
        done = release.release_many(uow, exam, None)  # every final result
    assert [r.attempt_id for r in done.released] == [graded.attempt_id]
    assert released(db, tenant.id, graded.attempt_id) == [(2, "bulk")]
    assert released(db, tenant.id, pending.attempt_id) == []
    with db.unit_of_work(tenant.id) as uow:
        assert release.release_many(uow, exam, None).already == [graded.attempt_id]
        with pytest.raises(Invalid, match="not an attempt of this exam"):
            release.release_many(uow, exam, [uuid.uuid4()])


def test_release_rows_are_append_only(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    exam = make_release_exam(db, tenant.id, results_release="immediately")
    sat = sit(db, settings, tenant.id, exam)
    for statement in ("UPDATE result_releases SET how = 'manual'", "DELETE FROM result_releases"):
        with pytest.raises(DBAPIError), db.unit_of_work(tenant.id) as uow:
            uow.session.execute(text(statement))
    with db.unit_of_work(tenant.id) as uow:
        row = uow.scalar(select(ResultRelease))
        assert row is not None and row.attempt_id == sat.attempt_id and row.how == "automatic"


def test_never_is_refused_with_the_new_names() -> None:
    from invigil.content.settings import ExamSettings

    with pytest.raises(ValueError, match="after_grading, after_review or manual"):
        ExamSettings.model_validate({"results_release": "never"})
    assert ExamSettings.model_validate({"results_release": "manual"}).result_feedback == "score"


def test_a_worker_started_on_its_own_runs_the_release_mail_job() -> None:
    """`invigil worker` imports every domain, so the job each release queues runs."""
    import subprocess
    import sys

    code = (
        "from invigil.cli.server import load_domains; load_domains(); "
        "from invigil.jobs.queue import tasks; print(sorted(tasks().tasks))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "results.mail_release" in out.stdout and "proctoring.recheck_snapshot" in out.stdout
