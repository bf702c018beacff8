"""Staff API on review: the queue, one attempt's flags and decisions,
recording a decision (violation:review); the integrity summary (attempt:view).
Rules: :mod:`invigil.proctoring.reviews`; docs/proctoring.md, "Review"."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from invigil.db.uow import UnitOfWork
from invigil.pagination import Page
from invigil.proctoring import contests, review_queue, reviews, summary
from invigil.proctoring.models import Contest, ReviewDecision
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["review"])


class PersonOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str


class ExamRefOut(BaseModel):
    id: uuid.UUID
    title: str
    version: int


class QueueItemOut(BaseModel):
    id: uuid.UUID = Field(description="the attempt's id")
    candidate: PersonOut
    exam: ExamRefOut
    status: str
    integrity: str
    severity: str = Field(description="the highest severity among its flags")
    flags: int
    flags_by_severity: dict[str, int]
    undecided_flags: int
    provisional_fail: bool
    recheck_disagreements: int
    flagged_since: datetime
    age_seconds: float
    review_outcome: str | None
    review_final: bool
    awaiting_second_review: bool
    contests_to_answer: int = Field(
        default=0, description="the candidate's contests no decision answered yet"
    )


class DecisionOut(BaseModel):
    id: uuid.UUID
    scope: str
    action_id: uuid.UUID | None
    decision: str
    reason: str = Field(
        description="the reviewer's words; '' once removed under the retention policy "
        "(with the candidate's identity)"
    )
    reviewer_id: uuid.UUID
    reviewer: str
    supersedes: uuid.UUID | None
    created_at: datetime
    answers: uuid.UUID | None = Field(
        default=None, description="the candidate's contest this decision answers"
    )


class ContestOut(BaseModel):
    id: uuid.UUID
    action_id: uuid.UUID | None = Field(
        description="the contested flag; null: the contest is about the outcome"
    )
    text: str = Field(description="the candidate's words; empty once removed (text_removed)")
    text_removed: bool = Field(
        default=False, description="the text was removed under the retention policy"
    )
    language: str
    attachment_id: uuid.UUID | None = Field(
        description="an evidence object (contest_attachment): open it through the evidence API"
    )
    created_at: datetime
    answered_by: uuid.UUID | None = Field(description="the decision that answered it")


class FlagOut(BaseModel):
    action_id: uuid.UUID = Field(
        description="the flag's id (its first action's): name it to decide the flag"
    )
    created_at: datetime
    rule_id: str
    kind: str
    severity: str
    action: str = Field(description="the most serious action taken in the episode")
    episode_seq: int
    events: list[int] = Field(description="every event the rule counted in this episode")
    count: int = Field(description="how many events the episode holds")
    firings: list[uuid.UUID] = Field(
        description="the actions (firings of the rule) merged into this flag, oldest first"
    )
    message: str
    explanation: str = Field(description="why the policy fired, in one sentence")
    decision: DecisionOut | None = Field(description="the current decision; null while undecided")
    history: list[DecisionOut]


class OutcomeStateOut(BaseModel):
    current: DecisionOut | None
    final: bool
    awaiting_second_review: bool
    second_review_required: bool = Field(
        description="the policy needs a second reviewer to concur with a violation"
    )
    held: bool = Field(
        default=False,
        description="a violation not final while the contest window is open or a contest "
        "is unanswered (ADR 0059)",
    )
    held_until: datetime | None = Field(
        default=None, description="when the contest window closes (null: closed)"
    )
    history: list[DecisionOut]


class ReviewOut(BaseModel):
    attempt_id: uuid.UUID
    status: str
    integrity: str
    policy: str
    flags: list[FlagOut]
    outcome: OutcomeStateOut
    review_outcome: str | None
    review_final: bool
    contests: list[ContestOut] = Field(default_factory=list)


class SeenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action_id: uuid.UUID = Field(description="the flag (its action_id)")
    supersedes: uuid.UUID | None = Field(
        default=None, description="the flag's current decision you saw (null if undecided)"
    )


class BulkDecisionIn(BaseModel):
    """Several flags of one attempt, one decision and one reason."""

    model_config = ConfigDict(extra="forbid")

    flags: list[SeenIn] = Field(max_length=reviews.MAX_BULK)
    decision: Literal["confirmed", "dismissed"] | None = None
    reason: str | None = Field(default=None, max_length=reviews.MAX_REASON)


class BulkDecisionOut(BaseModel):
    items: list[DecisionOut] = Field(description="one decision per flag, in the order sent")


class DecisionIn(BaseModel):
    """All fields are checked by the service (after the attempt is found)."""

    model_config = ConfigDict(extra="forbid")

    scope: Literal["flag", "outcome"] | None = None
    action_id: uuid.UUID | None = Field(default=None, description="the flag (scope flag)")
    decision: (
        Literal["confirmed", "dismissed", "cleared", "violation_fail", "violation_invalidate"]
        | None
    ) = None
    reason: str | None = Field(default=None, max_length=reviews.MAX_REASON)
    supersedes: uuid.UUID | None = Field(
        default=None,
        description="the current decision you are changing or concurring with (null if none)",
    )


def _decision_out(review: reviews.Review, d: ReviewDecision) -> DecisionOut:
    return decision_out(d, review.who(d.reviewer_id))


def decision_out(d: ReviewDecision, reviewer: str) -> DecisionOut:
    return DecisionOut(
        id=d.id,
        scope=d.scope,
        action_id=d.action_id,
        decision=d.decision,
        reason=d.reason,
        reviewer_id=d.reviewer_id,
        reviewer=reviewer,
        supersedes=d.supersedes,
        created_at=d.created_at,
        answers=d.answers,
    )


def review_out(
    review: reviews.Review,
    found: Sequence[Contest] = (),
    answers: Mapping[uuid.UUID, ReviewDecision] | None = None,
) -> ReviewOut:
    a, o = review.attempt, review.outcome
    answered = answers or {}
    return ReviewOut(
        attempt_id=a.id,
        status=a.status,
        integrity=a.integrity,
        policy=review.policy.name,
        flags=[
            FlagOut(
                action_id=f.action.id,
                created_at=f.action.created_at,
                rule_id=f.action.rule_id,
                kind=f.action.kind,
                severity=f.action.severity,
                action=f.kind,
                episode_seq=f.action.episode_seq,
                events=f.events,
                count=len(f.events),
                firings=[x.id for x in f.actions],
                message=f.action.message,
                explanation=f.explanation,
                decision=_decision_out(review, f.decision) if f.decision else None,
                history=[_decision_out(review, d) for d in f.chain],
            )
            for f in review.flags
        ],
        outcome=OutcomeStateOut(
            current=_decision_out(review, o.current) if o.current else None,
            final=o.final,
            awaiting_second_review=o.awaiting_second,
            second_review_required=o.second_review,
            held=o.held,
            held_until=o.held_until,
            history=[_decision_out(review, d) for d in o.chain],
        ),
        review_outcome=a.review_outcome,
        review_final=a.review_final,
        contests=[
            ContestOut(
                id=c.id,
                action_id=c.action_id,
                text=c.text,
                text_removed=contests.removed(c),
                language=c.language,
                attachment_id=c.attachment_id,
                created_at=c.created_at,
                answered_by=answered[c.id].id if c.id in answered else None,
            )
            for c in found
        ],
    )


@router.get("/reviews/queue", response_model=Page[QueueItemOut])
def review_queue_list(
    exam_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    uow: UnitOfWork = requires(P.VIOLATION_REVIEW),
) -> Page[QueueItemOut]:
    """Attempts waiting for a reviewer: most severe flag first, then the
    longest waiting. Filter by exam with ``exam_id``."""
    rows, nxt = review_queue.queue(uow, exam_id=exam_id, limit=limit, cursor=cursor)
    now = datetime.now(UTC)
    return Page[QueueItemOut](items=[_queue_item(r, now) for r in rows], next=nxt)


def _queue_item(r: review_queue.QueueRow, now: datetime) -> QueueItemOut:
    a, c = r.attempt, r.candidate
    return QueueItemOut(
        id=a.id,
        candidate=PersonOut(id=c.id, name=c.name, email=c.email),
        exam=ExamRefOut(id=a.exam_id, title=r.exam_title, version=a.exam_version),
        status=a.status,
        integrity=a.integrity,
        severity=r.severity,
        flags=r.flags,
        flags_by_severity=r.by_severity,
        undecided_flags=r.undecided,
        provisional_fail=a.integrity == "provisional_fail",
        recheck_disagreements=r.mismatches,
        flagged_since=r.since,
        age_seconds=(now - r.since).total_seconds(),
        review_outcome=a.review_outcome,
        review_final=a.review_final,
        awaiting_second_review=r.awaiting_second,
        contests_to_answer=r.contested,
    )


@router.get("/reviews/{attempt_id}", response_model=ReviewOut)
def review_detail(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.VIOLATION_REVIEW)
) -> ReviewOut:
    """The attempt's flags (each with the rule that fired and why), their
    decisions, the outcome with its history, and the candidate's contests."""
    attempt = reviews.require_attempt(uow, attempt_id)
    found = contests.of_attempt(uow, attempt.id)
    return review_out(reviews.load(uow, attempt), found, contests.answers_of(uow, attempt.id))


@router.post("/reviews/{attempt_id}/decisions", response_model=DecisionOut, status_code=201)
def record_decision(
    attempt_id: uuid.UUID, body: DecisionIn, uow: UnitOfWork = requires(P.VIOLATION_REVIEW)
) -> DecisionOut:
    """Confirm or dismiss a flag (``scope`` flag, with ``action_id``), or set
    the outcome (``scope`` outcome: cleared, violation_fail or
    violation_invalidate), with a reason. To change a decision, or to concur
    with an outcome as the second reviewer, send the current decision's id
    as ``supersedes``; 409 if it is no longer current."""
    row = reviews.decide(
        uow,
        attempt_id,
        reviews.Decide(
            scope=body.scope,
            decision=body.decision,
            reason=body.reason,
            action_id=body.action_id,
            supersedes=body.supersedes,
        ),
    )
    names = reviews.people(uow, {row.reviewer_id})
    return decision_out(row, names.get(row.reviewer_id, "a former user"))


@router.post(
    "/reviews/{attempt_id}/decisions/bulk", response_model=BulkDecisionOut, status_code=201
)
def record_decisions(
    attempt_id: uuid.UUID, body: BulkDecisionIn, uow: UnitOfWork = requires(P.VIOLATION_REVIEW)
) -> BulkDecisionOut:
    """Confirm or dismiss several flags of the attempt with one reason. Each
    flag's decision is recorded and audited as a single one is. All or
    nothing: an id that is not a flag of this attempt, a flag decided
    meanwhile (``supersedes`` no longer current) or an empty list refuses
    the whole request."""
    rows = reviews.decide_many(
        uow,
        attempt_id,
        [reviews.Seen(f.action_id, f.supersedes) for f in body.flags],
        body.decision,
        body.reason,
    )
    names = reviews.people(uow, {r.reviewer_id for r in rows})
    return BulkDecisionOut(
        items=[decision_out(r, names.get(r.reviewer_id, "a former user")) for r in rows]
    )


@router.get("/attempts/{attempt_id}/integrity", response_model=summary.IntegritySummary)
def integrity(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.ATTEMPT_VIEW)
) -> summary.IntegritySummary:
    """Counts by kind and severity, time out of focus, share of time with
    exactly one face, re-check disagreements, and the review decisions."""
    return summary.summarize(uow, reviews.require_attempt(uow, attempt_id))
