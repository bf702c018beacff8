"""Delivery tables: candidates, invitations, guest links, outbox (0008); attempts,
consents, answers and results (0009)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
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
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class Candidate(TenantScoped, Base):
    """A person who takes exams; one per email (case-folded) per tenant."""

    __tablename__ = "candidates"
    __table_args__ = (
        Index("uq_candidates_tenant_id_email", "tenant_id", func.lower(text("email")), unique=True),
        Index("ix_candidates_email", "tenant_id", "email"),  # exact lookups (migration 0036)
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
        CheckConstraint("position('@' in email) > 1", name="email_format"),
    )

    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    external_ref: Mapped[str] = mapped_column(String(200), server_default="")
    # When a purge or an erasure request anonymised the person (migration 0053).
    erased_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class Invitation(TenantScoped, Base):
    """One candidate, one exam version (pinned when invited), one window."""

    __tablename__ = "invitations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "exam_id", "exam_version"],
            ["exam_versions.tenant_id", "exam_versions.exam_id", "exam_versions.version"],
            name="fk_invitations_exam_version",
            ondelete="RESTRICT",
        ),
        CheckConstraint("closes_at > opens_at", name="window"),
        CheckConstraint("extra_time_percent BETWEEN 0 AND 300", name="extra_time"),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
        Index("ix_invitations_list", "tenant_id", "created_at", "id"),
        Index("ix_invitations_exam", "tenant_id", "exam_id"),
        Index("ix_invitations_candidate", "tenant_id", "candidate_id"),
    )

    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    exam_version: Mapped[int] = mapped_column(Integer)
    opens_at: Mapped[datetime] = mapped_column(TS)
    closes_at: Mapped[datetime] = mapped_column(TS)
    extra_time_percent: Mapped[int] = mapped_column(Integer, server_default="0")
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    revoked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    # The candidate's language, chosen by staff (None: the tenant's default).
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)


class GuestLink(TenantScoped, Base):
    """A guest link, stored only as HMAC-SHA256(server key, token)."""

    __tablename__ = "guest_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invitation_id"],
            ["invitations.tenant_id", "invitations.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "token_hash", name="uq_guest_links_tenant_id_token_hash"),
        Index(
            "uq_guest_links_live",
            "tenant_id",
            "invitation_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    ended_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # 0017: the token sealed under the candidate's data key, to send it again.
    token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sealed_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class OutboxMail(TenantScoped, Base):
    __tablename__ = "mail_outbox"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invitation_id"],
            ["invitations.tenant_id", "invitations.id"],
            ondelete="RESTRICT",
        ),
        Index("ix_mail_outbox_list", "tenant_id", "created_at", "id"),
        # The unsent rows alone, for the metrics' backlog (0061).
        Index(
            "ix_mail_outbox_unsent",
            "tenant_id",
            "created_at",
            postgresql_where=text("sent_at IS NULL"),
        ),
    )

    invitation_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Attached when sent, by reference: [{"kind": ..., "id": ...}] (0033).
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, server_default=text("'[]'::jsonb")
    )
    # The language of a mail that belongs to no invitation.
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Attempt(TenantScoped, Base):
    """One sitting of one invitation: consented, bound to one browser, timed."""

    __tablename__ = "attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invitation_id"],
            ["invitations.tenant_id", "invitations.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "exam_id", "exam_version"],
            ["exam_versions.tenant_id", "exam_versions.exam_id", "exam_versions.version"],
            name="fk_attempts_exam_version",
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "invitation_id", "number"),
        Index("ix_attempts_list", "tenant_id", "created_at", "id"),
        Index("ix_attempts_invitation", "tenant_id", "invitation_id"),
        Index(
            "ix_attempts_due",
            "tenant_id",
            "deadline",
            postgresql_where=text("status = 'in_progress' AND deadline IS NOT NULL"),
        ),
        Index(  # the home pages' latest submissions (0019)
            "ix_attempts_submitted",
            "tenant_id",
            "submitted_at",
            postgresql_where=text("submitted_at IS NOT NULL"),
        ),
        # The per-exam results view, newest submission first (0027, ADR 0032);
        # the analytics' cohort uses it too.
        Index("ix_attempts_exam_submitted", "tenant_id", "exam_id", "submitted_at", "id"),
        CheckConstraint("furthest IS NULL OR furthest >= 0", name="furthest"),
        CheckConstraint("added_seconds BETWEEN 0 AND 86400", name="added_seconds"),
        # Room on each page for the updates of a running exam (0014).
        {"postgresql_with": {"fillfactor": 70}},
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    exam_version: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    paper: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="ready")
    binding_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    bound_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    deadline: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    # When the retention purge deleted the result (results class, "delete";
    # migration 0057): its revisions, releases, marks and suggestions are gone.
    results_deleted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    submit_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    # Linear navigation (0016): the furthest question reached (moved to or
    # answered); NULL when navigation is free.
    furthest: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The language the questions are delivered in, fixed at begin (0022);
    # NULL: begun before, delivered as authored.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    last_seen_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    # Proctoring (0010): the policy frozen at start, the integrity state the
    # policy's actions set, the head of the browser's event chain, and the
    # open client.silent event (if the server stopped hearing the browser).
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    integrity: Mapped[str] = mapped_column(String(20), server_default="clear")
    events_last_seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    events_head: Mapped[str | None] = mapped_column(String(64), nullable=True)
    silent_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Review (0011): NULL until a reviewer decides; final when enough concur.
    review_outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    review_final: Mapped[bool] = mapped_column(Boolean, server_default="false")
    # The system check (0017): when the server first saw a face in its picture.
    face_seen_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    # Retention (0046): the tenant's retention policy version in force at
    # start (0: the documented defaults), frozen as the proctoring policy is.
    retention_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Live monitoring (0059): the clock stopped by a proctor (the deadline
    # moves by the pause on resume), time granted live (already in
    # ``deadline``), a counter every intervention bumps (the player compares
    # it), and where the attempt was last heard from.
    paused_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    added_seconds: Mapped[int] = mapped_column(Integer, server_default="0")
    live_seq: Mapped[int] = mapped_column(Integer, server_default="0")
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_agent: Mapped[str | None] = mapped_column(String(400), nullable=True)


class Consent(TenantScoped, Base):
    """What a candidate agreed to or declined: the exact text, its hash, when."""

    __tablename__ = "consents"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "invitation_id"],
            ["invitations.tenant_id", "invitations.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        Index("ix_consents_invitation", "tenant_id", "invitation_id", "created_at"),
        CheckConstraint("captures IS NULL OR jsonb_typeof(captures) = 'array'", name="captures"),
        CheckConstraint("language ~ '^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'", name="language"),
    )

    invitation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempt_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    decision: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(16))  # of ``text`` (0021; older rows: en)
    address: Mapped[str] = mapped_column(String(64), server_default="")
    user_agent: Mapped[str] = mapped_column(String(400), server_default="")
    # What was consented to be captured (0016; NULL before it): evidence of
    # any other kind is refused.
    captures: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True)


class AttemptAnswer(Base):
    """The newest answer to one question of an attempt (highest ``seq`` wins)."""

    __tablename__ = "attempt_answers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)
    response: Mapped[Any] = mapped_column(JSONB, nullable=True)
    flagged: Mapped[bool] = mapped_column(Boolean, server_default="false")
    seq: Mapped[int] = mapped_column(BigInteger)
    time_ms: Mapped[int] = mapped_column(BigInteger, server_default="0")
    client_time: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    saved_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    late: Mapped[bool] = mapped_column(Boolean, server_default="false")


class AttemptResult(TenantScoped, Base):
    """A scored result: written once, never changed (grading adds a revision)."""

    __tablename__ = "attempt_results"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "attempt_id", "revision"),
        Index(  # the grader's queue on the home pages (0019)
            "ix_attempt_results_grading",
            "tenant_id",
            "created_at",
            postgresql_where=text("needs_grading"),
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    revision: Mapped[int] = mapped_column(Integer)
    awarded: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    max_points: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    needs_grading: Mapped[bool] = mapped_column(Boolean)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    document_sha256: Mapped[str] = mapped_column(String(64))


class ResultCell(Base):
    """One question of an attempt's latest result revision, as columns: what
    the cohort's figures (item analysis, time medians) aggregate, so that they
    read narrow rows and never expand documents. Derived data, not a record:
    :func:`invigil.delivery.results._store` replaces an attempt's cells in the
    transaction that stores each new revision; the document stays the record
    (docs/adr/0036-result-cells.md)."""

    __tablename__ = "result_cells"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "result_id"],
            ["attempt_results.tenant_id", "attempt_results.id"],
            ondelete="CASCADE",
        ),
        Index("ix_result_cells_exam", "tenant_id", "exam_id", "exam_version"),
        Index("ix_result_cells_question", "tenant_id", "question_id", "exam_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    slot: Mapped[int] = mapped_column(Integer, primary_key=True)  # position on the paper
    result_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    revision: Mapped[int] = mapped_column(Integer)
    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    exam_version: Mapped[int] = mapped_column(Integer)
    # As the document says them; NULL where it says nothing (a cell is never
    # more certain than its document).
    section: Mapped[int | None] = mapped_column(Integer, nullable=True)
    question_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    version_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    category: Mapped[str | None] = mapped_column(Text, nullable=True)
    type: Mapped[str | None] = mapped_column(Text, nullable=True)
    awarded: Mapped[Decimal | None] = mapped_column(Numeric, nullable=True)  # NULL: needs grading
    max: Mapped[Decimal | None] = mapped_column(Numeric, nullable=True)
    needs_grading: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    time_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    canonical_response: Mapped[Any] = mapped_column(JSONB, nullable=True)


class AttemptRelease(TenantScoped, Base):
    """An attempt released from its browser by staff, with their reason
    (migration 0056). Written once; the audit entry carries the id and the
    reason's SHA-256, never the words."""

    __tablename__ = "attempt_releases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("char_length(reason) <= 500", name="reason"),
        Index("ix_attempt_releases_attempt", "tenant_id", "attempt_id"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    released_by: Mapped[str] = mapped_column(String(200))  # "<actor kind>:<actor id>"
    reason: Mapped[str] = mapped_column(Text)


class AttemptVoid(TenantScoped, Base):
    """An attempt voided by staff (0039, ADR 0050): why, by whom, when, and
    the reversal that refunded its start. Written once (append-only trigger;
    the app role holds SELECT and INSERT): the attempt, its answers, events
    and evidence stay as they were, and one row per attempt at most."""

    __tablename__ = "attempt_voids"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "refund_transfer_id"],
            ["ledger_transfers.tenant_id", "ledger_transfers.id"],
            name="fk_attempt_voids_refund",
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "attempt_id"),
        CheckConstraint("reason IN ('technical_failure', 'duplicate', 'other')", name="reason"),
        CheckConstraint("char_length(note) <= 1000", name="note_length"),
        CheckConstraint("reason <> 'other' OR btrim(note) <> ''", name="note_for_other"),
        CheckConstraint("status_before IN ('in_progress', 'submitted')", name="status_before"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    # What the attempt was when voided: a running one was submitted by the void.
    status_before: Mapped[str] = mapped_column(String(16))
    voided_by: Mapped[str] = mapped_column(String(200))  # "<actor kind>:<actor id>"
    voided_at: Mapped[datetime] = mapped_column(TS)
    refund_transfer_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))


class AttemptClientChange(TenantScoped, Base):
    """An attempt heard from another address or browser than before (0059).
    Written once."""

    __tablename__ = "attempt_client_changes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        Index("ix_attempt_client_changes_attempt", "tenant_id", "attempt_id", "created_at"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(400))
