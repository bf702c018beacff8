"""Retention's tables: policy versions, legal holds and their lifts, each
written once (migration 0046); the candidate's portal links (0048)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
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


class PortalLink(TenantScoped, Base):
    """A candidate's link to their portal (``invigil.retention.portal_links``),
    stored only as HMAC-SHA256(server key, token); it expires, and it ends
    when staff revoke it or a newer one replaces it (one live per candidate)."""

    __tablename__ = "portal_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "token_hash", name="uq_portal_links_tenant_id_token_hash"),
        Index(
            "uq_portal_links_live",
            "tenant_id",
            "candidate_id",
            unique=True,
            postgresql_where=sql_text("ended_at IS NULL"),
        ),
        CheckConstraint(
            "(ended_at IS NULL AND ended_reason IS NULL) OR "
            "(ended_at IS NOT NULL AND ended_reason IN ('revoked', 'replaced'))",
            name="ended",
        ),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
