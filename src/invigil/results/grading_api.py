"""Grading API: the queue, the marks of one response, marking, moderating
and regrading (docs/api.md "Grading").

A response is addressed by its attempt and its position on the paper
(``slot``, counting from 0). Blind grading holds here as on the pages: the
queue names candidates by pseudonym, and a grader reads other graders'
marks of a response only after giving their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from invigil.db.uow import UnitOfWork
from invigil.errors import Forbidden
from invigil.pagination import Keyset, Page, check_limit
from invigil.results import grading
from invigil.results import queue as q
from invigil.results.models import GradingMark
from invigil.results.pseudonyms import pseudonym
from invigil.results.schemas import MarkIn, ModerationIn, RegradeIn
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["grading"])
# A string, so that anything but a position on the paper is a 404 like a missing id.
Slot = Annotated[
    str, Path(max_length=40, description="the question's position on the paper, from 0")
]
State = Literal["mine", "unmarked", "awaiting_second", "awaiting_moderation"]


class QueueItemOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    slot: int
    candidate: str
    exam_id: uuid.UUID
    exam_title: str
    question_id: uuid.UUID
    type: str
    worth: str
    submitted_at: datetime | None
    state: State
    marks: int
    marked_by_me: bool


class CriterionMarkOut(BaseModel):
    criterion: str | None
    level: str | None
    points: str
    comment: str


class MarkOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    slot: int
    kind: Literal["first", "second", "moderation", "regrade"]
    grader_id: uuid.UUID
    marks: list[CriterionMarkOut]
    total: str
    max_points: str
    reason: str | None = Field(
        description="a moderation's or regrade's reason (None for a first or second mark); "
        "'' once removed under the retention policy, as are the criteria's comments"
    )
    created_at: datetime
    ai_suggestion_id: uuid.UUID | None = None
    ai_influence: Literal["taken", "edited", "ignored"] | None = None


class MarksOut(BaseModel):
    items: list[MarkOut]
    state: str
    final: str | None
    hidden: int


def mark_out(m: GradingMark) -> MarkOut:
    return MarkOut(
        id=m.id,
        attempt_id=m.attempt_id,
        slot=m.slot,
        kind=m.kind,
        grader_id=m.grader_id,
        marks=[CriterionMarkOut(**row) for row in m.marks],
        total=str(m.total),
        max_points=str(m.max_points),
        reason=m.reason,
        created_at=m.created_at,
        ai_suggestion_id=m.ai_suggestion_id,
        ai_influence=m.ai_influence,
    )


def _me(uow: UnitOfWork) -> uuid.UUID:
    return uuid.UUID(uow.actor.id)


def _holds(uow: UnitOfWork, permission: P) -> bool:
    claims: Any = getattr(uow, "claims", None)
    return claims is not None and permission.value in claims.permissions


@router.get("/grading/queue", response_model=Page[QueueItemOut])
def grading_queue(
    exam_id: uuid.UUID | None = None,
    question_id: uuid.UUID | None = None,
    state: State | None = None,
    grader_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    uow: UnitOfWork = requires(P.GRADE_SUBMIT),
) -> Page[QueueItemOut]:
    """Every response waiting for a person, oldest submission first.
    ``grader_id``: those this grader has marked (holders of grade:moderate;
    anyone may give their own id, as ``state=mine`` does)."""
    check_limit(limit)
    if grader_id is not None and grader_id != _me(uow) and not _holds(uow, P.GRADE_MODERATE):
        detail = "grader_id: following another grader's marking needs grade:moderate"
        raise Forbidden(detail, errors=[{"location": ["query", "grader_id"], "message": detail}])
    sub = q.queue(_me(uow))
    order = Keyset(sub.c.submitted_at, sub.c.item_id, parse=(datetime.fromisoformat, uuid.UUID))
    stmt = q.narrowed(
        sub, exam_id=exam_id, question_id=question_id, state=state, grader_id=grader_id
    )
    rows = [q.Item.of(r) for r in uow.session.execute(order.apply(stmt, cursor, limit))]
    page, nxt = order.page(rows, limit, lambda i: (i.submitted_at, i.item_id))
    named = q.names(uow, page, may_see=_holds(uow, P.CANDIDATE_VIEW))
    return Page[QueueItemOut](
        items=[
            QueueItemOut(
                id=i.item_id,
                attempt_id=i.attempt_id,
                slot=i.slot,
                candidate=named.get(i.attempt_id) or pseudonym(i.attempt_id),
                exam_id=i.exam_id,
                exam_title=i.exam_title,
                question_id=i.question_id,
                type=i.type,
                worth=str(i.worth),
                submitted_at=i.submitted_at,
                state=i.state,
                marks=i.marked,
                marked_by_me=i.mine,
            )
            for i in page
        ],
        next=nxt,
    )


@router.get("/attempts/{attempt_id}/questions/{slot}/marks", response_model=MarksOut)
def response_marks(
    attempt_id: uuid.UUID, slot: Slot, uow: UnitOfWork = requires(P.GRADE_SUBMIT)
) -> MarksOut:
    """The marks of one response this caller may see (blind grading hides
    other graders' marks until the caller has marked it)."""
    found = grading.response(uow, attempt_id, slot)
    shown = grading.visible_marks(found, _me(uow), moderator=_holds(uow, P.GRADE_MODERATE))
    settled = found.state
    return MarksOut(
        items=[mark_out(m) for m in shown],
        state=settled.status,
        final=None if settled.final is None else str(settled.final),
        hidden=len(found.marks) - len(shown),
    )


@router.post(
    "/attempts/{attempt_id}/questions/{slot}/marks", response_model=MarkOut, status_code=201
)
def give_mark(
    attempt_id: uuid.UUID, slot: Slot, body: MarkIn, uow: UnitOfWork = requires(P.GRADE_SUBMIT)
) -> MarkOut:
    """Mark a response: one level per rubric criterion (essay) or points
    (short text for manual credit), each with a comment."""
    return mark_out(grading.submit_mark(uow, attempt_id, slot, body))


@router.post(
    "/attempts/{attempt_id}/questions/{slot}/moderation", response_model=MarkOut, status_code=201
)
def moderate(
    attempt_id: uuid.UUID,
    slot: Slot,
    body: ModerationIn,
    uow: UnitOfWork = requires(P.GRADE_MODERATE),
) -> MarkOut:
    """Decide the final points of a response whose two marks are too far apart."""
    return mark_out(grading.moderate(uow, attempt_id, slot, body))


@router.post(
    "/attempts/{attempt_id}/questions/{slot}/regrades", response_model=MarkOut, status_code=201
)
def regrade(
    attempt_id: uuid.UUID,
    slot: Slot,
    body: RegradeIn,
    uow: UnitOfWork = requires(P.GRADE_MODERATE),
) -> MarkOut:
    """Mark a response again, with a reason: the attempt's result is issued anew."""
    return mark_out(grading.regrade(uow, attempt_id, slot, body))
