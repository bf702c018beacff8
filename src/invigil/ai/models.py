"""AI settings per tenant and one usage record per provider call (migration 0041)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)
PURPOSES = ("rubric_suggestion", "question_draft")
OUTCOMES = ("ok", "timeout", "rate_limited", "provider_error", "malformed", "unreachable")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AiSettings(TenantScoped, Base):
    """A tenant's choice: AI off (the default, also when there is no row) or on
    for chosen features, through the platform's provider or its own."""

    __tablename__ = "ai_settings"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("(base_url IS NULL) = (model IS NULL)", name="provider"),
    )

    enabled: Mapped[bool] = mapped_column(Boolean, server_default="false")
    rubric_suggestions: Mapped[bool] = mapped_column(Boolean, server_default="false")
    question_drafting: Mapped[bool] = mapped_column(Boolean, server_default="false")
    base_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    api_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(200))


class AiUsage(TenantScoped, Base):
    """One call to a provider, successful or not, written once with its charge."""

    __tablename__ = "ai_usage"
    __table_args__ = (
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint("prompt_tokens >= 0 AND completion_tokens >= 0", name="tokens"),
        CheckConstraint("cost >= 0", name="cost"),
        CheckConstraint("NOT (unpaid AND transfer_id IS NOT NULL)", name="paid"),
        ForeignKeyConstraint(
            ["tenant_id", "transfer_id"],
            ["ledger_transfers.tenant_id", "ledger_transfers.id"],
            ondelete="RESTRICT",
            name="fk_ai_usage_transfer",
        ),
        Index("ix_ai_usage_created", "tenant_id", "created_at", "id"),
    )

    purpose: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    provider: Mapped[str] = mapped_column(String(255))
    model: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    request_sha256: Mapped[str] = mapped_column(String(64))
    response_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    price_list_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cost: Mapped[int] = mapped_column(BigInteger)
    transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    unpaid: Mapped[bool] = mapped_column(Boolean, server_default="false")
    sha256: Mapped[str] = mapped_column(String(64))
