"""AI question drafts over the API (``content.drafting``, ADR 0056).

``POST /banks/{id}/drafts`` waits for the provider, so it holds no database
transaction while it does (``requires_caller``); its failures answer as the
AI call's problems (409 off, 402 credit, 429, 502, 504), each call recorded.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel

from invigil.content import banks, drafting, views
from invigil.content.models import QuestionDraft
from invigil.content.schemas import QuestionDetailOut, QuestionIn
from invigil.db.uow import UnitOfWork
from invigil.pagination import Page
from invigil.security.permissions import Permission as P
from invigil.web.access import Caller, requires, requires_caller

router = APIRouter()


class DraftOut(BaseModel):
    id: uuid.UUID
    bank_id: uuid.UUID
    usage_id: uuid.UUID
    type: str
    status: str
    question: dict[str, Any]
    created_at: datetime
    created_by: str
    decided_at: datetime | None
    decided_by: str | None
    question_id: uuid.UUID | None


class RejectedOut(BaseModel):
    number: int
    problems: list[str]


class DraftedOut(BaseModel):
    usage_id: uuid.UUID
    items: list[DraftOut]
    rejected: list[RejectedOut]


def draft_out(d: QuestionDraft) -> DraftOut:
    return DraftOut(
        id=d.id, bank_id=d.bank_id, usage_id=d.usage_id, type=d.type, status=d.status,
        question=d.content, created_at=d.created_at, created_by=d.created_by,
        decided_at=d.decided_at, decided_by=d.decided_by, question_id=d.question_id,
    )  # fmt: skip


@router.post(
    "/banks/{bank_id}/drafts", response_model=DraftedOut, status_code=201, tags=["questions"]
)
def create_drafts(
    request: Request,
    bank_id: uuid.UUID,
    body: drafting.DraftRequest,
    caller: Caller = requires_caller(P.QUESTION_MANAGE),
) -> DraftedOut:
    """Ask the AI provider for drafts (only the topic and settings are sent).
    Proposals that fail the editor's checks are listed in ``rejected``."""
    state = request.app.state
    done = drafting.draft(
        state.db, caller.tenant_id, caller.actor, state.settings, state.services.box,
        bank_id, body,
    )  # fmt: skip
    return DraftedOut(
        usage_id=done.usage.id,
        items=[draft_out(d) for d in done.drafts],
        rejected=[RejectedOut(**r.as_dict()) for r in done.rejected],
    )


@router.get("/banks/{bank_id}/drafts", response_model=Page[DraftOut], tags=["questions"])
def list_drafts(
    bank_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_MANAGE)
) -> Page[DraftOut]:
    """The bank's drafts waiting for review (at most 10 per call, so a short list)."""
    banks.require_bank(uow, bank_id)
    return Page[DraftOut](items=[draft_out(d) for d in drafting.pending(uow, bank_id)], next=None)


@router.get("/drafts/{draft_id}", response_model=DraftOut, tags=["questions"])
def get_draft(draft_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_MANAGE)) -> DraftOut:
    return draft_out(drafting.require_draft(uow, draft_id))


@router.post(
    "/drafts/{draft_id}/accept",
    response_model=QuestionDetailOut,
    status_code=201,
    tags=["questions"],
)
def accept_draft(
    draft_id: uuid.UUID,
    body: Annotated[QuestionIn | None, Body()] = None,
    uow: UnitOfWork = requires(P.QUESTION_MANAGE),
) -> QuestionDetailOut:
    """Save the draft as a question: as reviewed (the body, the question as
    the author wants it) or, without a body, as drafted."""
    made = drafting.accept(uow, draft_id, body)
    return views.question_detail(made, [made.version])


@router.post("/drafts/{draft_id}/discard", response_model=DraftOut, tags=["questions"])
def discard_draft(draft_id: uuid.UUID, uow: UnitOfWork = requires(P.QUESTION_MANAGE)) -> DraftOut:
    return draft_out(drafting.discard(uow, draft_id))
