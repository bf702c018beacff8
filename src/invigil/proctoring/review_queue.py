"""The review queue: attempts a person must look at, most severe first.

An attempt is in the queue while the policy marked it (``integrity``
flagged or provisional_fail) or took a reviewable action on it (flag,
provisional_fail, auto_submit: an auto-submission under ``strict`` leaves
``integrity`` clear but still needs a human), and either its outcome is not
final or a flag has no decision yet (a flag raised after the outcome, e.g.
by a late server re-check, brings the attempt back) or a contest of the
candidate's has no answer yet. Order: the highest
severity among its flags, then the oldest flag first (longest waiting).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Numeric, Select, and_, case, cast, exists, func, or_, select

from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, Candidate
from invigil.errors import Invalid
from invigil.pagination import check_limit, decode_cursor, encode_cursor
from invigil.proctoring import policy as pol
from invigil.proctoring.models import Contest, ProctoringAction, ReviewDecision, Snapshot
from invigil.proctoring.reviews import REVIEWABLE, requires_second_review

MARKED = ("flagged", "provisional_fail")


@dataclass(frozen=True)
class QueueRow:
    attempt: Attempt
    candidate: Candidate
    exam_title: str
    severity: str  # the highest among its flags ("info" when marked without one)
    by_severity: dict[str, int]  # flags per severity, most severe first, zeros left out
    undecided: int
    mismatches: int  # snapshots where the server's face count disagreed
    since: datetime  # when the first flag was raised (else when the attempt was made)
    contested: int = 0  # the candidate's contests no decision answered yet

    @property
    def flags(self) -> int:
        return sum(self.by_severity.values())

    @property
    def awaiting_second(self) -> bool:
        a = self.attempt  # not final: under a two-reviewer policy, a second is awaited
        return a.review_outcome is not None and not a.review_final and requires_second_review(a)


@dataclass(frozen=True)
class Queue:
    """The queue's statement and the expressions a table sorts it by."""

    stmt: Select[*tuple[Any, ...]]
    urgency: ColumnElement[Any]  # severity, then waiting longest: higher is more urgent
    since: ColumnElement[Any]
    rank: ColumnElement[Any]


def queue_select() -> Queue:
    """Every attempt waiting for review, one row each (see :func:`row`)."""
    rank = case({s: i for i, s in enumerate(pol.SEVERITIES)}, value=ProctoringAction.severity)
    # Counted per flag: an episode of one rule's firings, decided once (ADR 0023).
    flag = func.coalesce(ProctoringAction.flag_id, ProctoringAction.id)
    decided = exists().where(ReviewDecision.action_id == flag)
    flags = (
        select(
            ProctoringAction.attempt_id.label("attempt_id"),
            func.max(rank).label("rank"),
            func.min(ProctoringAction.created_at).label("since"),
            func.count(flag.distinct()).filter(~decided).label("undecided"),
            *[
                func.count(flag.distinct()).filter(ProctoringAction.severity == s).label(f"n_{s}")
                for s in pol.SEVERITIES
            ],
        )
        .where(ProctoringAction.action.in_(REVIEWABLE))
        .group_by(ProctoringAction.attempt_id)
        .subquery()
    )
    mismatched = (
        select(Snapshot.attempt_id.label("attempt_id"), func.count().label("n"))
        .where(Snapshot.server_status == "mismatch")
        .group_by(Snapshot.attempt_id)
        .subquery()
    )
    answered = select(ReviewDecision.answers).where(ReviewDecision.answers.is_not(None))
    contested = (
        select(Contest.attempt_id.label("attempt_id"), func.count().label("n"))
        .where(Contest.id.not_in(answered))
        .group_by(Contest.attempt_id)
        .subquery()
    )
    rank_of = func.coalesce(flags.c.rank, 0)
    since_of = func.coalesce(flags.c.since, Attempt.created_at)
    stmt = (
        select(
            Attempt,
            Candidate,
            ExamVersion.title,
            rank_of.label("rank"),
            since_of.label("since"),
            func.coalesce(flags.c.undecided, 0),
            func.coalesce(mismatched.c.n, 0),
            func.coalesce(contested.c.n, 0),
            *[func.coalesce(flags.c[f"n_{s}"], 0) for s in pol.SEVERITIES],
        )
        .outerjoin(flags, flags.c.attempt_id == Attempt.id)
        .outerjoin(mismatched, mismatched.c.attempt_id == Attempt.id)
        .outerjoin(contested, contested.c.attempt_id == Attempt.id)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .join(
            ExamVersion,
            and_(
                ExamVersion.exam_id == Attempt.exam_id,
                ExamVersion.version == Attempt.exam_version,
            ),
        )
        .where(or_(Attempt.integrity.in_(MARKED), flags.c.attempt_id.is_not(None)))
        .where(
            or_(
                ~Attempt.review_final,
                func.coalesce(flags.c.undecided, 0) > 0,
                func.coalesce(contested.c.n, 0) > 0,  # a contest waits for an answer
            )
        )
    )
    return Queue(stmt, urgency(rank_of, since_of), since_of, rank_of)


URGENCY_SCALE = 10**12  # seconds: far beyond any epoch


def urgency(rank: Any, since: Any) -> ColumnElement[Any]:
    """One exact number (numeric, no float rounding) that orders by severity,
    then by the oldest flag: a table sorts by it like by any column."""
    return cast(rank, Numeric) * URGENCY_SCALE - func.extract("epoch", since)


def queue(
    uow: UnitOfWork, *, exam_id: uuid.UUID | None, limit: int, cursor: str | None
) -> tuple[list[QueueRow], str | None]:
    check_limit(limit)
    q = queue_select()
    rank_of, since_of = q.rank, q.since
    stmt = q.stmt.order_by(rank_of.desc(), since_of, Attempt.id).limit(limit + 1)
    if exam_id is not None:
        stmt = stmt.where(Attempt.exam_id == exam_id)
    after = _after(cursor)
    if after is not None:
        r, s, i = after
        stmt = stmt.where(
            or_(
                rank_of < r,
                and_(rank_of == r, since_of > s),
                and_(rank_of == r, since_of == s, Attempt.id > i),
            )
        )
    rows = [row(values) for values in uow.session.execute(stmt)]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        key = [pol.SEVERITIES.index(last.severity), last.since.isoformat(), str(last.attempt.id)]
        nxt = encode_cursor(key)
    return rows[:limit], nxt


def row(values: Any) -> QueueRow:
    attempt, candidate, title, rank, since, undecided, mismatches, contested, *counts = values
    by_severity = {
        s: int(n) for s, n in reversed(list(zip(pol.SEVERITIES, counts, strict=True))) if n
    }
    return QueueRow(
        attempt=attempt,
        candidate=candidate,
        exam_title=title,
        severity=pol.SEVERITIES[int(rank)],
        by_severity=by_severity,
        undecided=int(undecided),
        mismatches=int(mismatches),
        since=since,
        contested=int(contested),
    )


def _after(cursor: str | None) -> tuple[int, datetime, uuid.UUID] | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        return int(key[0]), datetime.fromisoformat(key[1]), uuid.UUID(key[2])
    except (ValueError, IndexError, TypeError) as exc:
        raise Invalid("the cursor is not valid; start again without it") from exc
