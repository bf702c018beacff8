"""Proctoring tables (migration 0010): events and the actions taken."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class ProctoringEvent(Base):
    """One message of an attempt's event stream, as received (append-only).

    Client messages (seq >= 1) keep their exact ``body`` text, ``prev`` and
    ``hash``; server-recorded events (seq <= -1) have none."""

    __tablename__ = "proctoring_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(TS)
    ends: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    linked: Mapped[bool] = mapped_column(Boolean, server_default="true")
    received_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class ProctoringAction(TenantScoped, Base):
    """What the policy did about an episode (append-only; also audited)."""

    __tablename__ = "proctoring_actions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "attempt_id", "rule_id", "episode_seq"),
        Index("ix_proctoring_actions_attempt", "tenant_id", "attempt_id"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rule_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(20))
    episode_seq: Mapped[int] = mapped_column(BigInteger)
    related: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    message: Mapped[str] = mapped_column(Text)
