"""The grading queue: every response that still waits for a person, across
exams, oldest submission first.

A response waits while its attempt's latest result still needs grading
(the partial index ``ix_attempt_results_grading`` finds those) and its own
marks are not final by the rules of :mod:`invigil.results.grading`, which
this query restates in SQL so that it filters and pages in the database:
final when moderated or regraded, when marked once without double marking,
or when the two marks lie within the tolerance. Each row has a stable id
(``item_id``, from the attempt id and the slot) for keyset paging.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, Subquery, any_, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.types import Boolean, DateTime, Integer, Numeric, String

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt, Candidate
from invigil.delivery.voids import NOT_VOIDED
from invigil.results.models import GradingMark

STATES = ("mine", "unmarked", "awaiting_second", "awaiting_moderation")

_QUEUE = """
    SELECT md5(r.attempt_id::text || ':' || (q.value->>'index'))::uuid AS item_id,
           r.attempt_id, (q.value->>'index')::int AS slot, a.submitted_at, a.exam_id,
           ev.title AS exam_title, (q.value->>'question_id')::uuid AS question_id,
           q.value->>'type' AS type, (q.value->>'max')::numeric AS worth,
           coalesce((ev.settings->>'blind_grading')::boolean, true) AS blind,
           coalesce((ev.settings->>'double_marking')::boolean, false) AS double,
           m.marked, m.mine, m.spread,
           CASE WHEN m.marked = 0 THEN 'unmarked'
                WHEN m.marked = 1 THEN 'awaiting_second'
                ELSE 'awaiting_moderation' END AS state,
           m.graders
    FROM attempt_results AS r
    JOIN attempts AS a ON a.tenant_id = r.tenant_id AND a.id = r.attempt_id
    JOIN exam_versions AS ev
      ON ev.tenant_id = a.tenant_id AND ev.exam_id = a.exam_id AND ev.version = a.exam_version
    CROSS JOIN LATERAL jsonb_array_elements(r.document->'questions') AS q(value)
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE g.kind IN ('first', 'second')) AS marked,
               coalesce(bool_or(g.grader_id = CAST(:me AS uuid)), false) AS mine,
               coalesce(array_agg(g.grader_id) FILTER (WHERE g.kind IN ('first', 'second')),
                        '{}') AS graders,
               max(g.total) FILTER (WHERE g.kind IN ('first', 'second'))
                 - min(g.total) FILTER (WHERE g.kind IN ('first', 'second')) AS spread,
               count(*) FILTER (WHERE g.kind IN ('moderation', 'regrade')) AS decided
        FROM grading_marks AS g
        WHERE g.tenant_id = r.tenant_id AND g.attempt_id = r.attempt_id
          AND g.slot = (q.value->>'index')::int
    ) AS m
    WHERE r.needs_grading
      AND <not voided>
      AND NOT EXISTS (
          SELECT 1 FROM attempt_results AS later
          WHERE later.tenant_id = r.tenant_id AND later.attempt_id = r.attempt_id
            AND later.revision > r.revision)
      AND (q.value->>'needs_grading')::boolean
      AND m.decided = 0
      AND NOT (m.marked >= 1 AND NOT coalesce((ev.settings->>'double_marking')::boolean, false))
      AND NOT (m.marked >= 2 AND m.spread <= (q.value->>'max')::numeric
               * coalesce((ev.settings->>'marking_tolerance_percent')::numeric, 10) / 100)
""".replace("<not voided>", NOT_VOIDED)  # a voided attempt waits for no grader


def queue(me: uuid.UUID | None) -> Subquery:
    """Every waiting response, as seen by ``me`` (``mine``: marked by me)."""
    stmt = (
        text(_QUEUE)
        .bindparams(me=str(me) if me is not None else None)
        .columns(
            item_id=UUID(as_uuid=True),
            attempt_id=UUID(as_uuid=True),
            slot=Integer(),
            submitted_at=DateTime(timezone=True),
            exam_id=UUID(as_uuid=True),
            exam_title=String(),
            question_id=UUID(as_uuid=True),
            type=String(),
            worth=Numeric(),
            blind=Boolean(),
            double=Boolean(),
            marked=Integer(),
            mine=Boolean(),
            spread=Numeric(),
            state=String(),
            graders=ARRAY(UUID(as_uuid=True)),
        )
    )
    return stmt.subquery("queue")


def narrowed(
    q: Subquery,
    *,
    exam_id: uuid.UUID | None = None,
    question_id: uuid.UUID | None = None,
    state: str | None = None,
    grader_id: uuid.UUID | None = None,
) -> Select[Any]:
    stmt = select(q)
    if grader_id is not None:
        stmt = by_grader(q, stmt, grader_id)
    if exam_id is not None:
        stmt = stmt.where(q.c.exam_id == exam_id)
    if question_id is not None:
        stmt = stmt.where(q.c.question_id == question_id)
    if state is not None:
        stmt = by_state(q, stmt, state)
    return stmt


def by_grader(q: Subquery, stmt: Select[Any], grader_id: uuid.UUID) -> Select[Any]:
    """The responses this grader has marked (a first or second mark) that
    still wait: for a moderator following one grader's work. Which
    responses someone marked is shown, never their marks."""
    return stmt.where(literal(grader_id, UUID(as_uuid=True)) == any_(q.c.graders))


def graders(uow: UnitOfWork) -> list[uuid.UUID]:
    """Everyone who has given a first or second mark in this tenant."""
    return list(
        uow.scalars(
            select(GradingMark.grader_id)
            .where(GradingMark.kind.in_(("first", "second")))
            .distinct()
        )
    )


def by_state(q: Subquery, stmt: Select[Any], state: str) -> Select[Any]:
    if state == "mine":
        return stmt.where(q.c.mine)
    return stmt.where(q.c.state == state)


@dataclass(frozen=True)
class Item:
    """One waiting response."""

    item_id: uuid.UUID
    attempt_id: uuid.UUID
    slot: int
    submitted_at: datetime | None
    exam_id: uuid.UUID
    exam_title: str
    question_id: uuid.UUID
    type: str
    worth: Decimal
    blind: bool
    double: bool
    marked: int
    mine: bool
    spread: Decimal | None
    state: str

    @classmethod
    def of(cls, row: Any) -> Item:
        return cls(*tuple(row)[:15])


def names(uow: UnitOfWork, items: list[Item], *, may_see: bool) -> dict[uuid.UUID, str]:
    """The candidates' names a viewer may read next to the queue: none with
    blind grading, and only to holders of ``candidate:view`` without it."""
    wanted = [i.attempt_id for i in items if not i.blind] if may_see else []
    if not wanted:
        return {}
    rows = uow.session.execute(
        select(Attempt.id, Candidate.name)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.id.in_(wanted))
    )
    return {a: n for a, n in rows}
