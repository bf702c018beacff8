"""Retention's tables: policy versions, legal holds and their lifts, each
written once (migration 0046); purges, their signed receipts and pending
object deletions (0047); the candidate's portal links (0048); data-subject
requests (0049)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


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


class PrivacyRequest(TenantScoped, Base):
    """A data-subject request (``invigil.retention.requests``): received,
    due 30 days later, then completed or refused once, anchored when it ends."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            name="fk_privacy_requests_candidate",
            ondelete="RESTRICT",
        ),
        CheckConstraint("kind IN ('access', 'erasure', 'objection', 'rectification')", name="kind"),
        CheckConstraint(
            "channel IN ('email', 'letter', 'portal', 'phone', 'in_person', 'other')",
            name="channel",
        ),
        CheckConstraint("status IN ('open', 'completed', 'refused')", name="status"),
        CheckConstraint("due_at > received_at", name="due"),
        CheckConstraint("char_length(note) <= 1000", name="note"),
        CheckConstraint("outcome IS NULL OR char_length(outcome) <= 2000", name="outcome"),
        CheckConstraint(
            "(status = 'open') = (completed_at IS NULL) AND (status = 'open') = (outcome IS NULL) "
            "AND (status = 'open') = (sha256 IS NULL)",
            name="finished",
        ),
        CheckConstraint(
            "(export_object_id IS NULL) = (export_sha256 IS NULL) "
            "AND (export_object_id IS NULL OR kind = 'access')",
            name="export",
        ),
        CheckConstraint(
            "export_state IN ('queued', 'building', 'ready', 'failed')", name="export_state"
        ),
        CheckConstraint("export_state IS NULL OR kind = 'access'", name="export_kind"),
        CheckConstraint(
            "coalesce(export_state = 'ready', false) = (export_object_id IS NOT NULL)",
            name="export_ready",
        ),
        CheckConstraint(
            "coalesce(export_state = 'failed', false) = (export_error IS NOT NULL) "
            "AND char_length(coalesce(export_error, '')) <= 500",
            name="export_error",
        ),
        CheckConstraint("export_tries >= 0", name="export_tries"),
        Index("ix_privacy_requests_due", "tenant_id", "status", "due_at"),
        Index("ix_privacy_requests_candidate", "tenant_id", "candidate_id"),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[date] = mapped_column(Date)
    due_at: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, server_default="")
    received_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), server_default="open")
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    receipt_ids: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    kept: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True)
    export_object_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    export_data_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    export_region: Mapped[str | None] = mapped_column(String(40), nullable=True)
    export_store_key: Mapped[str | None] = mapped_column(String(300), nullable=True)
    export_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    export_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The export's build (migration 0055): queued, building, ready or failed.
    export_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    export_asked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    export_started_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    export_tries: Mapped[int] = mapped_column(Integer, server_default="0")
    export_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


_CLASSES = (
    "data_class IN ('candidate_identity', 'evidence', 'proctoring_events', 'answers', "
    "'results', 'invitations_mail')"
)


class Receipt(TenantScoped, Base):
    """A signed deletion receipt: one batch of one class purged (migration 0047)."""

    __tablename__ = "retention_receipts"
    __table_args__ = (
        CheckConstraint(_CLASSES, name="class"),
        CheckConstraint("trigger IN ('policy', 'erasure')", name="trigger"),
        CheckConstraint("btrim(reason) <> '' AND char_length(reason) <= 2000", name="reason"),
        CheckConstraint("jsonb_typeof(subjects) = 'array'", name="subjects"),
        Index("ix_retention_receipts_list", "tenant_id", "created_at"),
    )

    policy_version: Mapped[int] = mapped_column(Integer)
    data_class: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    subjects: Mapped[list[Any]] = mapped_column(JSONB)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    keys_destroyed: Mapped[list[Any]] = mapped_column(JSONB)
    objects_deleted: Mapped[list[Any]] = mapped_column(JSONB)
    purged_at: Mapped[datetime] = mapped_column(TS)
    sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(100))
    signature: Mapped[bytes] = mapped_column(LargeBinary)


class Purge(TenantScoped, Base):
    """One subject of one class, purged under ``receipt_id`` (once per class)."""

    __tablename__ = "retention_purges"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "data_class", "subject_type", "subject_id",
            name="uq_retention_purges_subject",
        ),
        CheckConstraint(_CLASSES, name="class"),
        CheckConstraint("subject_type IN ('attempt', 'candidate')", name="subject_type"),
        ForeignKeyConstraint(
            ["tenant_id", "receipt_id"], ["retention_receipts.tenant_id", "retention_receipts.id"],
            name="fk_retention_purges_receipt", ondelete="RESTRICT",
        ),
    )  # fmt: skip

    data_class: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    receipt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class PurgedRecord(TenantScoped, Base):
    """An anchored record (kind, id) a purge deleted or altered."""

    __tablename__ = "retention_purged_records"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "kind", "record_id", name="uq_retention_purged_records_record"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "receipt_id"], ["retention_receipts.tenant_id", "retention_receipts.id"],
            name="fk_retention_purged_records_receipt", ondelete="RESTRICT",
        ),
    )  # fmt: skip

    kind: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(80))
    receipt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class ObjectDeletion(TenantScoped, Base):
    """An evidence object (or a built bundle's object, ``bundle_id``, 0053)
    whose stored bytes go once the purge has committed (``deleted_at`` NULL:
    still pending)."""

    __tablename__ = "retention_object_deletions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "object_id", name="uq_retention_object_deletions_object"),
        UniqueConstraint("tenant_id", "bundle_id", name="uq_retention_object_deletions_bundle"),
        ForeignKeyConstraint(
            ["tenant_id", "bundle_id"], ["bundle_requests.tenant_id", "bundle_requests.id"],
            name="fk_retention_object_deletions_bundle", ondelete="RESTRICT",
        ),
        CheckConstraint("(object_id IS NULL) <> (bundle_id IS NULL)", name="one"),
        ForeignKeyConstraint(
            ["tenant_id", "object_id"], ["evidence_objects.tenant_id", "evidence_objects.id"],
            name="fk_retention_object_deletions_object", ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "receipt_id"], ["retention_receipts.tenant_id", "retention_receipts.id"],
            name="fk_retention_object_deletions_receipt", ondelete="RESTRICT",
        ),
        Index(
            "ix_retention_object_deletions_pending", "tenant_id", "created_at",
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )  # fmt: skip

    object_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    bundle_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    receipt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    region: Mapped[str] = mapped_column(String(40))
    store_key: Mapped[str] = mapped_column(String(300))
    deleted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


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
            postgresql_where=text("ended_at IS NULL"),
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
