"""A holder's attempts with results, written the way the results tests write
them (:mod:`tests.results.cohort`): several exams and retakes by the same
candidate, final or not, for the issuance tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from invigil.content.models import Exam
from invigil.db.engine import Database
from invigil.delivery.models import Attempt, Invitation
from tests.results.cohort import T0, agree, record


def sit_as(
    db: Database,
    tenant_id: uuid.UUID,
    exam_id: uuid.UUID,
    holder_id: uuid.UUID,
    percent: str = "80.00",
    *,
    passed: bool = True,
    pending: bool = False,
    integrity: str = "clear",
    outcome: str | None = None,
    final: bool = False,
    submitted: bool = True,
    number: int = 1,
) -> uuid.UUID:
    """``holder_id``'s attempt ``number`` of ``exam_id`` with its first result."""
    with db.unit_of_work(tenant_id) as uow:
        exam = uow.get(Exam, exam_id)
        invitation = Invitation(
            id=uuid.uuid4(), tenant_id=tenant_id, candidate_id=holder_id, exam_id=exam_id,
            exam_version=exam.published_version, opens_at=T0 - timedelta(days=1),
            closes_at=T0 + timedelta(days=30), created_by="test",
        )  # fmt: skip
        uow.add(invitation)
        uow.flush()
        start = T0 + timedelta(hours=number)
        attempt = Attempt(
            id=uuid.uuid4(), tenant_id=tenant_id, invitation_id=invitation.id,
            candidate_id=holder_id, exam_id=exam_id, exam_version=invitation.exam_version,
            number=number, seed=1, paper=[], status="submitted" if submitted else "in_progress",
            grace_seconds=30, started_at=start,
            submitted_at=start + timedelta(minutes=30) if submitted else None,
            submit_reason="candidate" if submitted else None, integrity=integrity,
            review_outcome=outcome, review_final=final,
        )  # fmt: skip
        uow.add(attempt)
        uow.flush()
        agree(uow, tenant_id, invitation.id, "given", attempt.id)
        if submitted:
            result(db, tenant_id, attempt.id, percent, passed=passed, pending=pending, uow=uow)
        return attempt.id


def result(
    db: Database,
    tenant_id: uuid.UUID,
    attempt_id: uuid.UUID,
    percent: str,
    *,
    passed: bool = True,
    pending: bool = False,
    revision: int = 1,
    uow: Any = None,
) -> None:
    """A result revision of ``attempt_id`` (a regrade when ``revision`` > 1)."""
    doc: dict[str, Any] = {
        "awarded": percent, "max": "100", "percent": percent,
        "passed": None if pending else passed, "needs_grading": pending,
        "categories": {}, "questions": [],
    }  # fmt: skip
    record(db, tenant_id, attempt_id, revision, doc, uow=uow)
