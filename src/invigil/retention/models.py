"""Retention's tables (migration 0046): policy versions, legal holds and
their lifts, each written once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped


class RetentionPolicy(TenantScoped, Base):
    """One version of a tenant's retention policy (``invigil.retention.policy``)."""

    __tablename__ = "retention_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id", "version"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("jsonb_typeof(document) = 'object'", name="document"),
        CheckConstraint("char_length(reason) <= 2000", name="reason"),
    )

    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))


class LegalHold(TenantScoped, Base):
    """A legal hold on a candidate, an exam or the whole tenant; in force
    until a :class:`HoldLift` names it."""

    __tablename__ = "retention_holds"
    __table_args__ = (
        CheckConstraint("scope IN ('candidate', 'exam', 'tenant')", name="scope"),
        CheckConstraint("(scope = 'tenant') = (subject_id IS NULL)", name="subject"),
        CheckConstraint("btrim(reason) <> '' AND char_length(reason) <= 2000", name="reason"),
        Index("ix_retention_holds_subject", "tenant_id", "scope", "subject_id"),
    )

    scope: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    placed_by: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))


class HoldLift(TenantScoped, Base):
    """The lifting of one hold, with its reason (at most one per hold)."""

    __tablename__ = "retention_hold_lifts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "hold_id"),
        ForeignKeyConstraint(
            ["tenant_id", "hold_id"],
            ["retention_holds.tenant_id", "retention_holds.id"],
            name="fk_retention_hold_lifts_hold",
            ondelete="RESTRICT",
        ),
        CheckConstraint("btrim(reason) <> '' AND char_length(reason) <= 2000", name="reason"),
    )

    hold_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str] = mapped_column(Text)
    lifted_by: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
