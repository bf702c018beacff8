"""What one holder has achieved, as :mod:`invigil.certification.requirements`
reads it: per exam, the holder's latest begun attempt with its latest result
revision, integrity outcome and finality (the notion of
:mod:`invigil.shortlists.cohort`: submitted, a result, nothing awaiting a
grader, no review pending), and the programs the holder holds live."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, true
from sqlalchemy.dialects.postgresql import distinct_on

from invigil.certification.models import Certificate
from invigil.certification.requirements import (
    AWAITING_GRADING,
    AWAITING_REVIEW,
    NO_RESULT,
    NOT_SUBMITTED,
    ExamFacts,
    HolderFacts,
)
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, AttemptResult
from invigil.delivery.voids import not_voided
from invigil.results.listing import SHOWN_STATUSES, flag_decided, integrity_outcome


def _not_final(status: str, pending: bool | None, integrity: str) -> str | None:
    if status != "submitted":
        return NOT_SUBMITTED
    if pending is None:
        return NO_RESULT
    if pending:
        return AWAITING_GRADING
    if integrity in ("flagged", "under_review"):
        return AWAITING_REVIEW
    return None


def exams(
    uow: UnitOfWork, holder_id: uuid.UUID, exam_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ExamFacts]:
    """The holder's latest begun attempt of each of ``exam_ids`` (an exam the
    holder never began is absent)."""
    if not exam_ids:
        return {}
    latest = (
        select(
            AttemptResult.revision.label("revision"),
            AttemptResult.document_sha256.label("sha256"),
            AttemptResult.percent.label("percent"),
            AttemptResult.passed.label("passed"),
            AttemptResult.needs_grading.label("pending"),
        )
        .where(
            AttemptResult.tenant_id == Attempt.tenant_id,
            AttemptResult.attempt_id == Attempt.id,
        )
        .order_by(AttemptResult.revision.desc())
        .limit(1)
        .lateral("latest")
    )
    stmt = (
        select(
            Attempt.id,
            Attempt.exam_id,
            Attempt.status,
            latest.c.revision,
            latest.c.sha256,
            latest.c.percent,
            latest.c.passed,
            latest.c.pending,
            integrity_outcome(flag_decided()),
        )
        .select_from(Attempt)
        .outerjoin(latest, true())
        .where(
            Attempt.candidate_id == holder_id,
            Attempt.exam_id.in_(list(exam_ids)),
            Attempt.status.in_(SHOWN_STATUSES),
            not_voided(),  # no certificate rests on a voided attempt
        )
        .ext(distinct_on(Attempt.exam_id))
        .order_by(Attempt.exam_id, Attempt.number.desc())
    )
    out = {}
    for (
        a_id,
        exam_id,
        status,
        revision,
        sha,
        percent,
        passed,
        pending,
        integrity,
    ) in uow.session.execute(stmt):
        out[exam_id] = ExamFacts(
            attempt_id=a_id,
            exam_id=exam_id,
            not_final=_not_final(status, pending, integrity),
            revision=revision,
            document_sha256=sha,
            percent=percent,
            passed=None if pending else passed,
            integrity=integrity,
        )
    return out


def held(uow: UnitOfWork, holder_id: uuid.UUID, now: datetime) -> frozenset[uuid.UUID]:
    """The programs of which the holder has a certificate in state issued
    that has not reached its expiry (the daily pass may not have marked it
    expired yet)."""
    return frozenset(
        uow.session.scalars(
            select(Certificate.program_id).where(
                Certificate.holder_id == holder_id,
                Certificate.state == "issued",
                or_(Certificate.expires_at.is_(None), Certificate.expires_at > now),
            )
        )
    )


def of(uow: UnitOfWork, holder_id: uuid.UUID, exam_ids: Sequence[uuid.UUID],
       now: datetime) -> HolderFacts:  # fmt: skip
    return HolderFacts(exams=exams(uow, holder_id, exam_ids), held=held(uow, holder_id, now))
