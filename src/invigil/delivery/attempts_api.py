"""Staff API on attempts: find, inspect, read the result, release a browser,
void an attempt (refunding its start).

``GET /api/v1/attempts?invitation_id=...`` lists an invitation's attempts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts, results, review, voids
from invigil.delivery.models import Attempt, AttemptVoid, Consent
from invigil.errors import NotFound
from invigil.pagination import Page, PageCursor, PageLimit, check_limit, created_key
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["attempts"])

Status = Literal["ready", "in_progress", "submitted"]


VoidReason = Literal["technical_failure", "duplicate", "other"]


class VoidOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    reason: VoidReason
    note: str
    status_before: Literal["in_progress", "submitted"] = Field(
        description="what the attempt was when voided (a running one was submitted by the void)"
    )
    voided_by: str = Field(description="who voided it: actor kind and id")
    voided_at: datetime
    refund_transfer_id: uuid.UUID | None = Field(
        description="the ledger reversal that refunded the start; null when nothing was charged"
    )
    sha256: str = Field(
        description="of the void as a canonical document, anchored in its audit entry"
    )


class VoidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: VoidReason
    note: str = Field(default="", max_length=voids.MAX_NOTE, description="required for other")


class AttemptOut(BaseModel):
    id: uuid.UUID
    invitation_id: uuid.UUID
    candidate_id: uuid.UUID
    exam_id: uuid.UUID
    exam_version: int
    number: int
    status: Status
    bound: bool = Field(description="whether a browser holds the attempt")
    created_at: datetime
    started_at: datetime | None
    deadline: datetime | None
    grace_seconds: int
    submitted_at: datetime | None
    submit_reason: str | None
    questions: int
    last_seq: int
    last_seen_at: datetime | None
    void: VoidOut | None = Field(default=None, description="set when staff voided the attempt")


class AnswerOut(BaseModel):
    index: int
    question_id: uuid.UUID
    version_id: uuid.UUID
    type: str
    response: Any
    flagged: bool
    seq: int
    time_ms: int
    late: bool
    saved_at: datetime
    client_time: datetime | None


class ConsentOut(BaseModel):
    id: uuid.UUID
    decision: Literal["given", "declined"]
    text: str
    text_sha256: str
    language: str = Field(description="the language the text was shown in (and is recorded in)")
    created_at: datetime
    address: str
    user_agent: str


class AttemptDetailOut(AttemptOut):
    answers: list[AnswerOut]
    consent: ConsentOut | None


class ResultOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    revision: int
    created_at: datetime
    awarded: str
    max_points: str
    percent: str
    passed: bool | None
    needs_grading: bool
    document_sha256: str
    document: dict[str, Any]
    voided: bool = Field(
        default=False, description="the attempt was voided: this result counts nowhere"
    )


class ReleaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


def void_out(v: AttemptVoid) -> VoidOut:
    return VoidOut(
        id=v.id,
        attempt_id=v.attempt_id,
        reason=v.reason,
        note=v.note,
        status_before=v.status_before,
        voided_by=v.voided_by,
        voided_at=v.voided_at,
        refund_transfer_id=v.refund_transfer_id,
        sha256=v.sha256,
    )


def attempt_out(a: Attempt, void: AttemptVoid | None = None) -> AttemptOut:
    return AttemptOut(
        id=a.id,
        invitation_id=a.invitation_id,
        candidate_id=a.candidate_id,
        exam_id=a.exam_id,
        exam_version=a.exam_version,
        number=a.number,
        status=a.status,
        bound=a.binding_hash is not None,
        created_at=a.created_at,
        started_at=a.started_at,
        deadline=a.deadline,
        grace_seconds=a.grace_seconds,
        submitted_at=a.submitted_at,
        submit_reason=a.submit_reason,
        questions=len(a.paper),
        last_seq=a.last_seq,
        last_seen_at=a.last_seen_at,
        void=void_out(void) if void is not None else None,
    )


def _attempt(uow: UnitOfWork, attempt_id: uuid.UUID, *, lock: bool = False) -> Attempt:
    stmt = select(Attempt).where(Attempt.id == attempt_id)
    found = uow.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found


@router.get("/attempts", response_model=Page[AttemptOut])
def list_attempts(
    invitation_id: uuid.UUID | None = None,
    exam_id: uuid.UUID | None = None,
    candidate_id: uuid.UUID | None = None,
    status: Status | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    uow: UnitOfWork = requires(P.ATTEMPT_VIEW),
) -> Page[AttemptOut]:
    """Newest first; filter by invitation, exam, candidate or status."""
    check_limit(limit)
    stmt = select(Attempt)
    for column, value in (
        (Attempt.invitation_id, invitation_id),
        (Attempt.exam_id, exam_id),
        (Attempt.candidate_id, candidate_id),
        (Attempt.status, status),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, nxt = review.NEWEST.page(
        uow.scalars(review.NEWEST.apply(stmt, cursor, limit)), limit, created_key
    )
    voided = voids.of_many(uow, [a.id for a in rows])
    return Page[AttemptOut](items=[attempt_out(a, voided.get(a.id)) for a in rows], next=nxt)


@router.get("/attempts/{attempt_id}", response_model=AttemptDetailOut)
def get_attempt(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.ATTEMPT_VIEW)
) -> AttemptDetailOut:
    """The attempt with every saved answer (as given, in paper positions) and its consent."""
    a = _attempt(uow, attempt_id)
    paper = a.paper
    answers = [
        AnswerOut(
            index=x.slot,
            question_id=paper[x.slot]["question_id"],
            version_id=paper[x.slot]["version_id"],
            type=paper[x.slot]["type"],
            response=x.response,
            flagged=x.flagged,
            seq=x.seq,
            time_ms=x.time_ms,
            late=x.late,
            saved_at=x.saved_at,
            client_time=x.client_time,
        )
        for x in attempts.answers_of(uow, a.id)
    ]
    consent = uow.scalar(select(Consent).where(Consent.attempt_id == a.id))
    return AttemptDetailOut(
        **attempt_out(a, voids.of(uow, a.id)).model_dump(),
        answers=answers,
        consent=None
        if consent is None
        else ConsentOut(
            id=consent.id,
            decision=consent.decision,
            text=consent.text,
            text_sha256=consent.text_sha256,
            language=consent.language,
            created_at=consent.created_at,
            address=consent.address,
            user_agent=consent.user_agent,
        ),
    )


@router.get("/attempts/{attempt_id}/result", response_model=ResultOut)
def get_result(attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.RESULT_VIEW)) -> ResultOut:
    """The latest revision of the scored result (404 until the attempt is submitted)."""
    a = _attempt(uow, attempt_id)
    r = results.latest_result(uow, a.id)
    if r is None:
        raise NotFound(f"attempt {attempt_id} has no result yet: it is {a.status}")
    return ResultOut(
        id=r.id,
        attempt_id=r.attempt_id,
        revision=r.revision,
        created_at=r.created_at,
        awarded=str(r.awarded),
        max_points=str(r.max_points),
        percent=str(r.percent),
        passed=r.passed,
        needs_grading=r.needs_grading,
        document_sha256=r.document_sha256,
        document=r.document,
        voided=voids.of(uow, a.id) is not None,
    )


@router.post("/attempts/{attempt_id}/release", response_model=AttemptOut)
def release_attempt(
    attempt_id: uuid.UUID, body: ReleaseIn, uow: UnitOfWork = requires(P.ATTEMPT_MANAGE)
) -> AttemptOut:
    """Free a running attempt from its browser (audited); the candidate's next
    "Start exam" from any browser binds that one. Saved answers are kept."""
    a = _attempt(uow, attempt_id, lock=True)
    return attempt_out(attempts.release(uow, a, body.reason))


@router.post("/attempts/{attempt_id}/void", response_model=VoidOut, status_code=201)
def void_attempt(
    attempt_id: uuid.UUID, body: VoidIn, uow: UnitOfWork = requires(P.ATTEMPT_VOID)
) -> VoidOut:
    """Void the attempt (audited, once: 409 after): a running one is submitted
    first and its player refused; its start charge is reversed (credits come
    back). Answers, events and evidence are kept; the attempt no longer
    counts against the invitation's attempts allowed nor in statistics."""
    return void_out(voids.void(uow, attempt_id, body.reason, body.note).void)
