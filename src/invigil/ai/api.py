"""AI settings and usage over the API.

- ``GET|PUT /api/v1/ai/settings`` (``tenant:manage``): whether AI is on, for
  which features, and the organisation's own provider (its key is written,
  never read back);
- ``GET /api/v1/ai/usage`` (``billing:view``): one item per call to a
  provider, newest first (``purpose``, ``outcome``, ``cursor``, ``limit``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from invigil.ai import config
from invigil.ai.models import AiUsage
from invigil.db.uow import UnitOfWork
from invigil.pagination import Page, PageLimit, check_limit, created_key, newest_first
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/ai", tags=["ai"])
Purpose = Literal["rubric_suggestion", "question_draft"]
Outcome = Literal["ok", "timeout", "rate_limited", "provider_error", "malformed", "unreachable"]


class OwnProvider(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = Field(max_length=2000, description="the OpenAI-compatible base URL, .../v1")
    model: str = Field(min_length=1, max_length=100)
    api_key: str | None = Field(
        default=None, max_length=500, description="a new key (omit to keep the stored one)"
    )


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool
    rubric_suggestions: bool = False
    question_drafting: bool = False
    own_provider: OwnProvider | None = Field(
        default=None, description="the organisation's own provider; null: the platform's"
    )


class SettingsOut(BaseModel):
    enabled: bool
    rubric_suggestions: bool
    question_drafting: bool
    own_provider: dict[str, Any] | None
    platform_provider: bool = Field(description="whether the server has a provider configured")


class UsageOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    purpose: str
    subject_type: str | None
    subject_id: uuid.UUID | None
    provider: str
    model: str
    actor: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    outcome: str
    request_sha256: str
    response_sha256: str | None
    price_list_version: int | None
    cost: int
    transfer_id: uuid.UUID | None
    unpaid: bool
    sha256: str

    @classmethod
    def of(cls, row: AiUsage) -> UsageOut:
        return cls.model_validate(row, from_attributes=True)


def _out(request: Request, chosen: config.Choice) -> SettingsOut:
    services = request.app.state.services
    return SettingsOut(
        **chosen.as_dict(),
        platform_provider=config.platform_provider(services.settings) is not None,
    )


@router.get("/settings", response_model=SettingsOut)
def get_settings(request: Request, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> SettingsOut:
    return _out(request, config.choice(uow))


@router.put("/settings", response_model=SettingsOut)
def put_settings(
    request: Request, body: SettingsIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> SettingsOut:
    services = request.app.state.services
    own = body.own_provider
    chosen = config.update(
        uow, services.settings, services.box,
        enabled=body.enabled, rubric_suggestions=body.rubric_suggestions,
        question_drafting=body.question_drafting,
        base_url=own.base_url if own else None, model=own.model if own else None,
        api_key=own.api_key if own and own.api_key is not None else config.KEEP,
    )  # fmt: skip
    return _out(request, chosen)


@router.get("/usage", response_model=Page[UsageOut])
def list_usage(
    purpose: Purpose | None = None,
    outcome: Outcome | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: PageLimit = 50,
    uow: UnitOfWork = requires(P.BILLING_VIEW),
) -> Page[UsageOut]:
    check_limit(limit)
    order = newest_first(AiUsage)
    stmt = select(AiUsage)
    if purpose is not None:
        stmt = stmt.where(AiUsage.purpose == purpose)
    if outcome is not None:
        stmt = stmt.where(AiUsage.outcome == outcome)
    rows, after = order.page(uow.scalars(order.apply(stmt, cursor, limit)), limit, created_key)
    return Page(items=[UsageOut.of(r) for r in rows], next=after)
