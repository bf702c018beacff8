"""AI-suggested rubric marks over the API (docs/ai.md, "Suggested rubric marks").

``POST .../suggestions`` asks the tenant's AI provider for a suggestion for
one essay response and answers it (201); ``GET .../suggestions/latest`` is
the caller's newest one; ``POST .../suggestions/discard`` puts one aside. A
suggestion is never a mark: a grader marks with ``POST .../marks``, saying
``used_suggestion`` when they started from it. With AI off for the tenant
every route answers 409 (``ai-off``); provider failures answer their own
problems (502, 504, 429), each call recorded with its usage.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict

from invigil.ai import service as ai
from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound
from invigil.results import grading, suggest, suggestions
from invigil.results.models import RubricSuggestion
from invigil.security.permissions import Permission as P
from invigil.web.access import Caller, requires, requires_caller

router = APIRouter(prefix="/api/v1", tags=["grading"])
Slot = Annotated[
    str, Path(max_length=40, description="the question's position on the paper, from 0")
]


class SuggestedCriterionOut(BaseModel):
    criterion: str
    level: str
    points: str
    rationale: str


class SuggestionOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    slot: int
    ai_suggested: bool = True
    criteria: list[SuggestedCriterionOut]
    overall_rationale: str
    total: str
    max_points: str
    usage_id: uuid.UUID
    discarded: bool
    created_at: datetime


class DiscardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suggestion_id: uuid.UUID


def _out(row: RubricSuggestion, discarded: bool = False) -> SuggestionOut:
    return SuggestionOut(
        id=row.id,
        attempt_id=row.attempt_id,
        slot=row.slot,
        criteria=[SuggestedCriterionOut(**c) for c in row.criteria],
        overall_rationale=row.overall_rationale,
        total=str(row.total),
        max_points=str(row.max_points),
        usage_id=row.usage_id,
        discarded=discarded,
        created_at=row.created_at,
    )


def _on(request: Request, uow: UnitOfWork, attempt_id: uuid.UUID, slot: str) -> int:
    """The response's slot (404 first, as for a missing id), then 409 when AI is off."""
    found = grading.response(uow, attempt_id, slot)
    services = request.app.state.services
    if not suggest.enabled(uow, services.settings, services.box):
        raise ai.AiOff("AI-suggested rubric marks are off for your organisation")
    return found.slot


@router.post(
    "/attempts/{attempt_id}/questions/{slot}/suggestions",
    response_model=SuggestionOut,
    status_code=201,
)
def ask_suggestion(
    request: Request, attempt_id: uuid.UUID, slot: Slot, caller: Caller = requires_caller(
        P.GRADE_SUBMIT)
) -> SuggestionOut:  # fmt: skip
    """Ask the AI provider to suggest rubric levels, with rationales, for an
    essay waiting for the caller's mark. Sends the question, the rubric and
    the answer only (contact details and the candidate's identifiers
    removed). Metered: the call's usage record is ``usage_id``."""
    services = request.app.state.services
    row = suggest.suggest(
        request.app.state.db, caller.tenant_id, caller.actor, services.settings, services.box,
        attempt_id, slot,
    )  # fmt: skip
    return _out(row)


@router.get(
    "/attempts/{attempt_id}/questions/{slot}/suggestions/latest", response_model=SuggestionOut
)
def latest_suggestion(
    request: Request, attempt_id: uuid.UUID, slot: Slot, uow: UnitOfWork = requires(P.GRADE_SUBMIT)
) -> SuggestionOut:
    """The caller's newest suggestion for this response (404 when none)."""
    index = _on(request, uow, attempt_id, slot)
    found = suggestions.latest(uow, attempt_id, index, uuid.UUID(uow.actor.id))
    if found is None:
        raise NotFound("you have no suggested marks for this answer yet")
    return _out(found.row, found.discarded)


@router.post(
    "/attempts/{attempt_id}/questions/{slot}/suggestions/discard", response_model=SuggestionOut
)
def discard_suggestion(
    request: Request,
    attempt_id: uuid.UUID,
    slot: Slot,
    body: DiscardIn,
    uow: UnitOfWork = requires(P.GRADE_SUBMIT),
) -> SuggestionOut:
    """Put a suggestion aside (recorded): the marking page no longer shows it."""
    index = _on(request, uow, attempt_id, slot)
    return _out(suggestions.discard(uow, attempt_id, index, body.suggestion_id), True)
