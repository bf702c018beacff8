"""The facts a shortlist run reads of its cohort: for each exam, each
candidate's latest attempt that began and was not voided (one line per candidate and exam; an
earlier attempt of a retake is not considered), with its latest result
revision, its integrity outcome (:func:`invigil.results.listing.integrity_outcome`)
and whether that result is final.

Final means: the attempt was submitted, it has a result, no answer waits
for a grader (``needs_grading``), and no integrity review is pending
(outcome ``flagged`` or ``under_review``). Anything else is read as "not
final yet" with the reason, and the run excludes it by its first rule.
Reads only; the order of the rows does not matter (the ranking is total).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import exists, func, select, true
from sqlalchemy.dialects.postgresql import distinct_on

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, AttemptResult
from invigil.delivery.voids import not_voided
from invigil.proctoring.models import ReviewDecision
from invigil.results.listing import SHOWN_STATUSES, integrity_outcome
from invigil.shortlists.rules import Facts


def _categories(document: Any) -> dict[str, Decimal]:
    out = {}
    for name, c in (document or {}).items():
        try:
            out[str(name)] = Decimal(str(c.get("percent")))
        except (InvalidOperation, AttributeError):
            continue
    return out


def _not_final(status: str, has_result: bool, pending: bool | None, integrity: str) -> str | None:
    if status != "submitted":
        return "not_submitted"
    if not has_result:
        return "no_result"
    if pending:
        return "awaiting_grading"
    if integrity in ("flagged", "under_review"):
        return "awaiting_review"
    return None


def read(uow: UnitOfWork, exam_ids: Sequence[uuid.UUID]) -> list[Facts]:
    """Every candidate's latest begun attempt on each of ``exam_ids``."""
    latest = (
        select(
            AttemptResult.percent.label("percent"),
            AttemptResult.passed.label("passed"),
            AttemptResult.needs_grading.label("pending"),
            AttemptResult.document["categories"].label("categories"),
        )
        .where(
            AttemptResult.tenant_id == Attempt.tenant_id,
            AttemptResult.attempt_id == Attempt.id,
        )
        .order_by(AttemptResult.revision.desc())
        .limit(1)
        .lateral("latest")
    )
    decided = exists().where(
        ReviewDecision.tenant_id == Attempt.tenant_id,
        ReviewDecision.attempt_id == Attempt.id,
        ReviewDecision.scope == "flag",
    )
    seconds = func.extract("epoch", Attempt.submitted_at - Attempt.started_at)
    stmt = (
        select(
            Attempt.id,
            Attempt.exam_id,
            Attempt.candidate_id,
            Attempt.status,
            latest.c.pending,
            latest.c.percent,
            latest.c.passed,
            latest.c.categories,
            integrity_outcome(decided),
            seconds,
            Attempt.submitted_at,
        )
        .select_from(Attempt)
        .outerjoin(latest, true())
        .where(
            Attempt.exam_id.in_(list(exam_ids)),
            Attempt.status.in_(SHOWN_STATUSES),
            not_voided(),  # a voided attempt stands for nothing: the one before it, if any, does
        )
        .ext(distinct_on(Attempt.candidate_id, Attempt.exam_id))
        .order_by(Attempt.candidate_id, Attempt.exam_id, Attempt.number.desc())
    )
    out = []
    for (
        a_id,
        exam_id,
        cand,
        status,
        pending,
        percent,
        passed,
        cats,
        integrity,
        secs,
        at,
    ) in uow.session.execute(stmt):
        not_final = _not_final(status, pending is not None, pending, integrity)
        out.append(
            Facts(
                attempt_id=a_id,
                exam_id=exam_id,
                candidate_id=cand,
                not_final=not_final,
                percent=percent,
                passed=None if pending else passed,
                integrity=integrity,
                seconds=None if secs is None else int(secs),
                submitted_at=at,
                categories=_categories(cats) if pending is False else {},
            )
        )
    return out
