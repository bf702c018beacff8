"""AI-suggested rubric marks as rows: saving one, finding a grader's
latest, discarding it, and what a grader's mark made of it.

A suggestion is never a mark. It is written once (``rubric_suggestions``),
in the same transaction as the usage record of the call that produced it,
and anchored in its audit entry (record kind ``rubric_suggestion``). Nothing
here writes a mark: a mark exists only when a grader submits one
(:func:`invigil.results.grading.submit_mark`), which then records whether a
suggestion had been shown to that grader for that response and whether the
mark took its levels unchanged, edited them or ignored them
(:func:`influence`), for the tenant's own review of AI influence.

Suggestions belong to the grader who asked: under double marking a second
grader never sees the first grader's suggestion, as they never see the
first mark before giving their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from sqlalchemy import select

from invigil import audit
from invigil.ai.models import AiUsage
from invigil.audit.records import anchor
from invigil.content import bodies as b
from invigil.content.scoring import CENT
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, NotFound
from invigil.results import records
from invigil.results.models import RubricSuggestion, RubricSuggestionDiscard

SUGGESTED = "grading.suggested"
DISCARDED = "grading.suggestion_discarded"


class Suggested(Protocol):
    """The validated answer of the provider (see invigil.results.suggest)."""

    @property
    def criteria(self) -> Sequence[Any]: ...  # each with criterion, level, rationale

    @property
    def overall_rationale(self) -> str: ...


@dataclass(frozen=True)
class Latest:
    row: RubricSuggestion
    discarded: bool


def total_of(body: b.Essay, worth: Decimal, levels: dict[str, str]) -> Decimal:
    """The points ``levels`` (criterion -> label) give on this paper, as a mark would."""
    raw = Decimal(0)
    for criterion in body.rubric:
        level = next(lv for lv in criterion.levels if lv.label == levels[criterion.name])
        raw += Decimal(str(level.points)).quantize(CENT)
    top = Decimal(str(body.rubric_points()))
    total = raw if top == worth or top <= 0 else raw * worth / top
    return min(total.quantize(CENT, rounding=ROUND_HALF_UP), worth)


def save(
    uow: UnitOfWork,
    usage: AiUsage,
    *,
    attempt_id: uuid.UUID,
    slot: int,
    body: b.Essay,
    worth: Decimal,
    answer: Suggested,
) -> RubricSuggestion:
    """Write the suggestion (the ``apply`` step of the AI call: the same
    transaction as its usage record and charge) and anchor it."""
    given = {c.criterion: c for c in answer.criteria}
    rows: list[dict[str, Any]] = []
    for criterion in body.rubric:  # in the rubric's order, whatever the provider's
        chosen = given[criterion.name]
        level = next(lv for lv in criterion.levels if lv.label == chosen.level)
        rows.append(
            {
                "criterion": criterion.name,
                "level": level.label,
                "points": str(Decimal(str(level.points)).quantize(CENT)),
                "rationale": chosen.rationale.strip(),
            }
        )
    row = RubricSuggestion(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt_id,
        slot=slot,
        requested_by=uuid.UUID(uow.actor.id),
        usage_id=usage.id,
        criteria=rows,
        overall_rationale=answer.overall_rationale.strip(),
        total=total_of(body, worth, {r["criterion"]: r["level"] for r in rows}),
        max_points=worth,
        created_at=datetime.now(UTC),
    )
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        SUGGESTED,
        ("rubric_suggestion", row.id),
        {
            "attempt": attempt_id,
            "slot": slot,
            "usage": usage.id,
            "total": str(row.total),
            "max": str(worth),
            "anchor": anchor("rubric_suggestion", records.suggestion(uow, row.id).sha256),
        },
    )
    return row


def latest(uow: UnitOfWork, attempt_id: uuid.UUID, slot: int, grader: uuid.UUID) -> Latest | None:
    """The newest suggestion ``grader`` asked for on this response, if any."""
    row = uow.scalar(
        select(RubricSuggestion)
        .where(
            RubricSuggestion.attempt_id == attempt_id,
            RubricSuggestion.slot == slot,
            RubricSuggestion.requested_by == grader,
        )
        .order_by(RubricSuggestion.created_at.desc(), RubricSuggestion.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    gone = uow.scalar(
        select(RubricSuggestionDiscard.id).where(RubricSuggestionDiscard.suggestion_id == row.id)
    )
    return Latest(row, gone is not None)


def discard(
    uow: UnitOfWork, attempt_id: uuid.UUID, slot: int, suggestion_id: uuid.UUID
) -> RubricSuggestion:
    """Put the caller's suggestion aside (recorded; at most once)."""
    grader = uuid.UUID(uow.actor.id)
    row = uow.scalar(
        select(RubricSuggestion).where(
            RubricSuggestion.id == suggestion_id,
            RubricSuggestion.attempt_id == attempt_id,
            RubricSuggestion.slot == slot,
            RubricSuggestion.requested_by == grader,
        )
    )
    if row is None:
        raise NotFound(f"suggestion {suggestion_id} was not found for this answer")
    already = uow.scalar(
        select(RubricSuggestionDiscard.id).where(RubricSuggestionDiscard.suggestion_id == row.id)
    )
    if already is not None:
        raise Conflict("this suggestion is discarded already")
    gone = RubricSuggestionDiscard(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        suggestion_id=row.id,
        discarded_by=grader,
        created_at=datetime.now(UTC),
    )
    uow.add(gone)
    uow.flush()
    audit.record(
        uow,
        DISCARDED,
        ("rubric_suggestion_discard", gone.id),
        {
            "suggestion": row.id,
            "attempt": attempt_id,
            "slot": slot,
            "anchor": anchor("suggestion_discard", records.discard(uow, gone.id).sha256),
        },
    )
    return row


def influence(
    shown: Latest | None, marks: list[dict[str, Any]], used: bool
) -> tuple[uuid.UUID | None, str | None]:
    """What a grader's mark (its per-criterion rows) made of the suggestion
    shown to them: ``taken`` when every level is the suggested one (whether
    or not they pressed "Use these marks"), ``edited`` when they started
    from it and changed a level, ``ignored`` otherwise (also when they had
    discarded it). (None, None) when no suggestion was shown."""
    if shown is None:
        return None, None
    suggested = {c["criterion"]: c["level"] for c in shown.row.criteria}
    given = {c["criterion"]: c["level"] for c in marks}
    if given == suggested:
        return shown.row.id, "taken"
    return shown.row.id, "edited" if used and not shown.discarded else "ignored"
