"""Attempts as staff read them: the list (candidate, exam, status, score) and
each answer in the words the candidate saw. Reads only; the pages decide
what a viewer may see (scores need ``result:view``). One attempt in full is
:mod:`invigil.delivery.attempt_detail`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, select
from sqlalchemy.dialects.postgresql import distinct_on

from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import voids
from invigil.delivery.models import Attempt, AttemptResult, AttemptVoid, Candidate
from invigil.errors import NotFound
from invigil.i18n import N_
from invigil.pagination import newest_first

STATUSES = ("ready", "in_progress", "submitted")


@dataclass(frozen=True)
class Row:
    attempt: Attempt
    candidate: Candidate
    exam_title: str
    result: AttemptResult | None
    void: AttemptVoid | None = None


# Attempts newest first, for the API and the pages.
NEWEST = newest_first(Attempt)


def rows_select() -> Select[Attempt, Candidate, str]:
    """Every attempt with its candidate and its exam version's title (the
    staff table narrows, sorts and pages it: ``web.table``)."""
    return (
        select(Attempt, Candidate, ExamVersion.title)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .join(
            ExamVersion,
            and_(
                ExamVersion.exam_id == Attempt.exam_id,
                ExamVersion.version == Attempt.exam_version,
            ),
        )
    )


def with_scores(
    uow: UnitOfWork, found: Sequence[tuple[Attempt, Candidate, str]], *, with_results: bool
) -> list[Row]:
    """A page of :func:`rows_select` rows, each with its latest result
    (one query for the page) when the viewer may see scores."""
    scores = latest_results(uow, [a.id for a, _, _ in found]) if with_results else {}
    voided = voids.of_many(uow, [a.id for a, _, _ in found])
    return [Row(a, c, title, scores.get(a.id), voided.get(a.id)) for a, c, title in found]


def latest_results(
    uow: UnitOfWork, attempt_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, AttemptResult]:
    if not attempt_ids:
        return {}
    rows = uow.scalars(
        select(AttemptResult)
        .where(AttemptResult.attempt_id.in_(attempt_ids))
        .order_by(AttemptResult.attempt_id, AttemptResult.revision.desc())
        .ext(distinct_on(AttemptResult.attempt_id))
    )
    return {r.attempt_id: r for r in rows}


def latest_attempts(
    uow: UnitOfWork, invitation_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Attempt]:
    """The newest attempt of each invitation (for the invitations list)."""
    if not invitation_ids:
        return {}
    rows = uow.scalars(
        select(Attempt)
        .where(Attempt.invitation_id.in_(invitation_ids))
        .order_by(Attempt.invitation_id, Attempt.number.desc())
        .ext(distinct_on(Attempt.invitation_id))
    )
    return {a.invitation_id: a for a in rows}


# --- one answer in human terms --------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """An answer as words. ``kind``: none, text, long (an essay), choices,
    ordered (a sequence) or pairs (matching: left -> right, or None)."""

    kind: str
    text: str = ""
    items: tuple[str, ...] = ()
    pairs: tuple[tuple[str, str | None], ...] = ()


NOT_ANSWERED = Shown("none", N_("Not answered"))  # translated where shown


def shown(slot: Mapping[str, Any], body: Mapping[str, Any], response: Any) -> Shown:
    """Map paper positions through the slot's ``option_order`` to the stored
    body's texts (see :mod:`invigil.content.paper`)."""
    if response is None:
        return NOT_ANSWERED
    order = list(slot.get("option_order", ()))
    kind = slot["type"]
    try:
        if kind == "single_choice":
            return Shown("choices", items=(body["choices"][order[response]],))
        if kind == "multiple_choice":
            if not response:
                return Shown("none", "No choice selected")
            return Shown("choices", items=tuple(body["choices"][order[r]] for r in response))
        if kind == "ordering":
            return Shown("ordered", items=tuple(body["items"][order[r]] for r in response))
        if kind == "matching":
            pairs = body["pairs"]
            return Shown(
                "pairs",
                pairs=tuple(
                    (pairs[i]["left"], None if r is None else pairs[order[r]]["right"])
                    for i, r in enumerate(response)
                ),
            )
        if kind == "true_false":
            return Shown("text", "True" if response else "False")
        if kind == "essay":
            return Shown("long", str(response)) if str(response).strip() else NOT_ANSWERED
        return Shown("text", str(response)) if str(response).strip() else NOT_ANSWERED
    except (IndexError, KeyError, TypeError):  # a check() at save time makes this unreachable
        return Shown("text", "Stored as " + json.dumps(response))


def require_attempt(uow: UnitOfWork, attempt_id: uuid.UUID, *, lock: bool = False) -> Attempt:
    stmt = select(Attempt).where(Attempt.id == attempt_id)
    found = uow.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found
