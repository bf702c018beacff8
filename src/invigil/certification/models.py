"""The certification domain's tables (migration 0032).

Programs and their frozen versions (a change of requirements is a new
version); certificates with their append-only state changes (the current
state is kept on the certificate in the same transaction, and
``invigil audit verify`` checks it equals the last change); issuance waiting
for an approver; the tenant's groups (teams, job roles, sites) with their
members, managers and required programs; and the recertification notices
already sent (one row per certificate and step, so a job that runs twice
sends nothing twice)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
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
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)

STATES = ("issued", "suspended", "expired", "revoked")
PENDING_STATES = ("pending", "approved", "rejected")
NOTICE_KINDS = ("reminder", "escalation", "invitation", "expiry")


def _tenant_key() -> Mapped[uuid.UUID]:
    return mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )


class Program(TenantScoped, Base):
    """A certification program; its requirements live in its versions."""

    __tablename__ = "cert_programs"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    archived: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class ProgramVersion(TenantScoped, Base):
    """One version of a program's definition (canonical JSON and its sha256),
    written once (:mod:`invigil.certification.definition`)."""

    __tablename__ = "cert_program_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "program_id", "version"),
        ForeignKeyConstraint(
            ["tenant_id", "program_id"],
            ["cert_programs.tenant_id", "cert_programs.id"],
            ondelete="RESTRICT",
            name="fk_cert_program_versions_program",
        ),
        CheckConstraint("version >= 1", name="version"),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSONB)
    definition_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class Certificate(TenantScoped, Base):
    """A certificate: written once except its current state (``state``,
    ``state_seq``, ``state_changed_at``: the app role may update those three
    columns only), which always equals its last state change."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "status_index"),
        ForeignKeyConstraint(
            ["tenant_id", "program_id"],
            ["cert_programs.tenant_id", "cert_programs.id"],
            ondelete="RESTRICT",
            name="fk_certificates_program",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "program_version_id"],
            ["cert_program_versions.tenant_id", "cert_program_versions.id"],
            ondelete="RESTRICT",
            name="fk_certificates_program_version",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "holder_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="RESTRICT",
            name="fk_certificates_holder",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "renews_id"],
            ["certificates.tenant_id", "certificates.id"],
            ondelete="RESTRICT",
            name="fk_certificates_renews",
        ),
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        CheckConstraint("expires_at IS NULL OR expires_at > issued_at", name="dates"),
        CheckConstraint("status_index >= 0", name="status_index"),
        Index("ix_certificates_holder", "tenant_id", "holder_id", "program_id"),
        Index("ix_certificates_expiry", "tenant_id", "expires_at"),
        # The holder's latest certificate of a program (coverage, 0035).
        Index(
            "ix_certificates_latest",
            "tenant_id",
            "holder_id",
            "program_id",
            text("issued_at DESC"),
            "id",
            postgresql_include=["state", "expires_at", "state_changed_at"],
        ),
        # The recertification page's upcoming steps, per program version (0036).
        Index("ix_certificates_version_expiry", "tenant_id", "program_version_id", "expires_at"),
        # The public verification page's one lookup across tenants (by id
        # alone, through platform_certificate_tenant()): not a key.
        Index("ix_certificates_public_id", "id"),
    )

    number: Mapped[str] = mapped_column(String(40))
    program_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    program_version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    holder_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    issued_at: Mapped[datetime] = mapped_column(TS)
    expires_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    # The results it rests on: [{"attempt_id", "exam_id", "revision",
    # "document_sha256", "percent", "integrity"}], in exam order.
    basis: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    renews_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    status_index: Mapped[int] = mapped_column(Integer)
    issued_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    state_seq: Mapped[int] = mapped_column(Integer)
    state_changed_at: Mapped[datetime] = mapped_column(TS)


class StateChange(TenantScoped, Base):
    """One change of a certificate's state, written once. ``seq`` 1 is the
    issue itself (``from_state`` NULL, ``state`` issued)."""

    __tablename__ = "certificate_state_changes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "certificate_id", "seq"),
        ForeignKeyConstraint(
            ["tenant_id", "certificate_id"],
            ["certificates.tenant_id", "certificates.id"],
            ondelete="RESTRICT",
            name="fk_certificate_state_changes_certificate",
        ),
        CheckConstraint(f"state IN {STATES!r}", name="state"),
        CheckConstraint("seq >= 1", name="seq"),
    )

    certificate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    seq: Mapped[int] = mapped_column(Integer)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(TS)


class PendingIssue(TenantScoped, Base):
    """A candidate whose final results meet a program that needs an approver:
    waits here until approved (a certificate is issued) or rejected."""

    __tablename__ = "cert_pending"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "program_version_id"],
            ["cert_program_versions.tenant_id", "cert_program_versions.id"],
            ondelete="RESTRICT",
            name="fk_cert_pending_program_version",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "program_id"],
            ["cert_programs.tenant_id", "cert_programs.id"],
            ondelete="RESTRICT",
            name="fk_cert_pending_program",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "holder_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="RESTRICT",
            name="fk_cert_pending_holder",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "certificate_id"],
            ["certificates.tenant_id", "certificates.id"],
            ondelete="RESTRICT",
            name="fk_cert_pending_certificate",
        ),
        CheckConstraint(f"status IN {PENDING_STATES!r}", name="status"),
        # One open request per program and holder.
        Index(
            "uq_cert_pending_open",
            "tenant_id",
            "program_id",
            "holder_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    program_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    program_version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    holder_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    basis: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    decided_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    reason: Mapped[str] = mapped_column(Text, server_default="")
    certificate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class Group(TenantScoped, Base):
    """A team, job role or site whose people must hold certain programs."""

    __tablename__ = "cert_groups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("kind IN ('team', 'role', 'site')", name="kind"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), server_default="team")


class GroupRequirement(Base):
    """Group ``group_id`` requires program ``program_id``."""

    __tablename__ = "cert_group_requirements"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["cert_groups.tenant_id", "cert_groups.id"],
            ondelete="CASCADE",
            name="fk_cert_group_requirements_group",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "program_id"],
            ["cert_programs.tenant_id", "cert_programs.id"],
            ondelete="RESTRICT",
            name="fk_cert_group_requirements_program",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    program_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class GroupMember(Base):
    """Person (a candidate record: certificates are held by candidates)
    ``candidate_id`` belongs to group ``group_id``."""

    __tablename__ = "cert_group_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["cert_groups.tenant_id", "cert_groups.id"],
            ondelete="CASCADE",
            name="fk_cert_group_members_group",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "candidate_id"],
            ["candidates.tenant_id", "candidates.id"],
            ondelete="RESTRICT",
            name="fk_cert_group_members_candidate",
        ),
        Index("ix_cert_group_members_candidate", "tenant_id", "candidate_id"),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(TS, server_default=text("now()"))


class GroupManager(Base):
    """Staff user ``user_id`` manages group ``group_id`` (lapse escalations go to them)."""

    __tablename__ = "cert_group_managers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "group_id"],
            ["cert_groups.tenant_id", "cert_groups.id"],
            ondelete="CASCADE",
            name="fk_cert_group_managers_group",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["users.tenant_id", "users.id"],
            ondelete="RESTRICT",
            name="fk_cert_group_managers_user",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = _tenant_key()
    group_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class Notice(TenantScoped, Base):
    """One recertification step taken for one certificate (a reminder at an
    offset, the recertification invitation, a lapse escalation, the expiry):
    unique per certificate and ``step`` (e.g. ``reminder:30``), so the daily
    pass that runs twice does nothing twice. Written once."""

    __tablename__ = "cert_notices"
    __table_args__ = (
        UniqueConstraint("tenant_id", "certificate_id", "step"),
        ForeignKeyConstraint(
            ["tenant_id", "certificate_id"],
            ["certificates.tenant_id", "certificates.id"],
            ondelete="RESTRICT",
            name="fk_cert_notices_certificate",
        ),
        CheckConstraint(f"kind IN {NOTICE_KINDS!r}", name="kind"),
        Index("ix_cert_notices_done", "tenant_id", "done_at"),  # migration 0036
    )

    certificate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(16))
    step: Mapped[str] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(TS)
    done_at: Mapped[datetime] = mapped_column(TS)
    # What was sent: outbox mail ids, the invitation id (ids only).
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class IssuerKey(TenantScoped, Base):
    """One of the tenant's credential signing keys (migration 0034): the
    public JWK, the private key sealed by the secret box (never in the
    clear). The key with no ``retired_at`` signs; retired keys stay
    published so that what they signed still verifies, until withdrawn."""

    __tablename__ = "cert_issuer_keys"
    __table_args__ = (
        CheckConstraint("alg IN ('RS256')", name="alg"),
        CheckConstraint("withdrawn_at IS NULL OR retired_at IS NOT NULL", name="withdrawn"),
        Index(
            "uq_cert_issuer_keys_current",
            "tenant_id",
            unique=True,
            postgresql_where=text("retired_at IS NULL"),
        ),
    )

    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    retired_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    # Stolen: no longer published, so nothing it signed verifies any more.
    withdrawn_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
