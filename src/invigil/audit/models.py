from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped


class AuditHead(Base):
    """Per-tenant append position; its row lock orders appends."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    next_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_leaf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    last_prev: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEvent(Base):
    """One entry of the append-only log. ``entry`` holds the exact canonical
    bytes (RFC 8785) that were hashed; the other columns are for querying and
    must agree with it (``invigil audit verify`` checks that they do)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "id", name="uq_audit_events_tenant_id_id"),
        Index("ix_audit_events_subject", "tenant_id", "subject_type", "subject_id"),
        Index("ix_audit_events_action", "tenant_id", "action", "occurred_at"),
        Index("ix_audit_events_actor", "tenant_id", "actor_kind", "actor_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    entry: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpoint(Base):
    """A signed statement of the tree's size and root at one moment."""

    __tablename__ = "audit_checkpoints"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str] = mapped_column(String(100))
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)


class BundleRequest(TenantScoped, Base):
    """One evidence bundle asked for through the web or the API, and the
    object it became (migration 0031, ADR 0041). Rows are never deleted:
    purging an expired bundle drops its object and its data key, the row
    and its anchored hash stay (``expired``; ``purged`` when erasing the
    person it is about destroyed it before its expiry, migration 0053)."""

    __tablename__ = "bundle_requests"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "requested_by"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "data_key_id"],
            ["evidence_data_keys.tenant_id", "evidence_data_keys.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "state IN ('queued', 'building', 'ready', 'failed', 'expired', 'purged')",
            name="state",
        ),
        CheckConstraint("kind IN ('attempt', 'shortlist', 'certificate')", name="kind"),
        CheckConstraint("done >= 0 AND (total IS NULL OR total >= 0)", name="progress"),
        CheckConstraint("sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
        CheckConstraint("state <> 'ready' OR sha256 IS NOT NULL", name="ready"),
        Index("ix_bundle_requests_subject", "tenant_id", "kind", "subject_id", "created_at"),
        Index("ix_bundle_requests_expires", "tenant_id", "expires_at"),
    )

    kind: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    requested_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    with_evidence: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(16), server_default="queued")
    done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    data_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    region: Mapped[str | None] = mapped_column(String(40), nullable=True)
    store_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stored_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Verification(TenantScoped, Base):
    """One verification of the tenant's log and the records it anchors: the
    daily job's, one an administrator asked for, or one run from the command
    line (migration 0054). Written once, after the run."""

    __tablename__ = "audit_verifications"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "requested_by"],
            ["users.tenant_id", "users.id"],
            ondelete="RESTRICT",
            name="fk_audit_verifications_requested_by",
        ),
        CheckConstraint("trigger IN ('schedule', 'request', 'command')", name="trigger"),
        CheckConstraint("(trigger = 'request') = (requested_by IS NOT NULL)", name="requested"),
        CheckConstraint("finished_at >= started_at", name="times"),
        CheckConstraint(
            "entries >= 0 AND checkpoints >= 0 AND problems >= 0 "
            "AND coalesce(anchored_records, 0) >= 0 AND coalesce(purged_records, 0) >= 0",
            name="counts",
        ),
        CheckConstraint(
            "ok = (problems = 0) AND ok = (first_problem IS NULL) "
            "AND char_length(coalesce(first_problem, '')) <= 2000",
            name="outcome",
        ),
        Index("ix_audit_verifications_latest", "tenant_id", "finished_at"),
    )

    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    entries: Mapped[int] = mapped_column(BigInteger)
    checkpoints: Mapped[int] = mapped_column(Integer)
    anchored_records: Mapped[int | None] = mapped_column(Integer, nullable=True)
    purged_records: Mapped[int | None] = mapped_column(Integer, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    problems: Mapped[int] = mapped_column(Integer)
    first_bad_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    first_problem: Mapped[str | None] = mapped_column(Text, nullable=True)
