"""LTI 1.3 tables (migration 0062, docs/integrations/lti.md, ADR 0071).

- ``lti_platforms``: an LMS registered by a tenant administrator: its
  issuer, the client id it gave Invigil, the deployment ids it may launch
  from, its key set, login (authorisation) and token URLs. ``public_key``
  names the registration in Invigil's URLs (it names its tenant, so a
  request can open a unit of work bound to it before anything else).
- ``lti_tool_keys``: the tenant's RSA key pairs that sign what Invigil sends
  platforms (service tokens' assertions, deep linking answers); the
  private key sealed by the secret box; retired keys stay published a while.
- ``lti_launches``: a launch in flight: state (by hash), the browser's
  cookie (by hash), the single-use nonce; after the id_token checked, the
  staff member's one-time hand-off or the deep linking return address.
- ``lti_links``: a platform's resource link and the exam it opens, with the
  AGS line item its scores go to and the NRPS roster of its course.
- ``lti_accounts``: a platform's user (its ``sub``) and the candidate and/or
  staff account they are in Invigil.
- ``lti_seats``: the invitation a learner's launch made, so a release knows
  where the score goes.
- ``lti_score_posts``: each score sent (or being sent) to a line item.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


def _fk(column: str, table: str, ondelete: str = "CASCADE") -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id", column], [f"{table}.tenant_id", f"{table}.id"], ondelete=ondelete
    )


class LtiPlatform(TenantScoped, Base):
    __tablename__ = "lti_platforms"
    __table_args__ = (
        UniqueConstraint("tenant_id", "issuer", "client_id", name="uq_lti_platforms_client"),
        UniqueConstraint("tenant_id", "public_key", name="uq_lti_platforms_public_key"),
    )

    name: Mapped[str] = mapped_column(String(100))
    public_key: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str] = mapped_column(String(500))
    deployment_ids: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    jwks_url: Mapped[str] = mapped_column(String(2000))
    auth_login_url: Mapped[str] = mapped_column(String(2000))
    token_url: Mapped[str] = mapped_column(String(2000))
    instructor_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    # Names and Role Provisioning Services may be used (migration 0064).
    roster_sync: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class LtiToolKey(TenantScoped, Base):
    __tablename__ = "lti_tool_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kid", name="uq_lti_tool_keys_kid"),
        CheckConstraint("status IN ('current', 'retired')", name="status"),
    )

    kid: Mapped[str] = mapped_column(String(64))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONB)
    private_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), server_default="current")
    retired_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class LtiLaunch(TenantScoped, Base):
    __tablename__ = "lti_launches"
    __table_args__ = (
        _fk("platform_id", "lti_platforms"),
        _fk("user_id", "users"),
        UniqueConstraint("tenant_id", "state_hash", name="uq_lti_launches_state"),
        UniqueConstraint("tenant_id", "nonce", name="uq_lti_launches_nonce"),
        UniqueConstraint("tenant_id", "handoff_hash", name="uq_lti_launches_handoff"),
        CheckConstraint("stage IN ('started', 'launched', 'done')", name="stage"),
    )

    platform_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    state_hash: Mapped[bytes] = mapped_column(LargeBinary)
    browser_hash: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[str] = mapped_column(String(128))
    stage: Mapped[str] = mapped_column(String(16), server_default="started")
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    handoff_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    deployment_id: Mapped[str] = mapped_column(String(255), server_default="")
    return_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    return_data: Mapped[str | None] = mapped_column(String(4000), nullable=True)


class LtiLink(TenantScoped, Base):
    __tablename__ = "lti_links"
    __table_args__ = (
        _fk("platform_id", "lti_platforms"),
        _fk("exam_id", "exams", "RESTRICT"),
        UniqueConstraint("tenant_id", "platform_id", "resource_link_id", name="uq_lti_links_link"),
    )

    platform_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255), server_default="")
    exam_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    lineitem_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # The NRPS context_memberships_url of the last launch (migration 0064).
    memberships_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class LtiAccount(TenantScoped, Base):
    __tablename__ = "lti_accounts"
    __table_args__ = (
        _fk("platform_id", "lti_platforms"),
        _fk("candidate_id", "candidates"),
        _fk("user_id", "users"),
        UniqueConstraint("tenant_id", "platform_id", "subject", name="uq_lti_accounts_subject"),
    )

    platform_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    subject: Mapped[str] = mapped_column(String(255))
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class LtiSeat(TenantScoped, Base):
    __tablename__ = "lti_seats"
    __table_args__ = (
        _fk("link_id", "lti_links"),
        _fk("account_id", "lti_accounts"),
        _fk("invitation_id", "invitations"),
        UniqueConstraint("tenant_id", "invitation_id", name="uq_lti_seats_invitation"),
        UniqueConstraint("tenant_id", "link_id", "account_id", name="uq_lti_seats_learner"),
    )

    link_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    invitation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class LtiScorePost(TenantScoped, Base):
    __tablename__ = "lti_score_posts"
    __table_args__ = (
        _fk("seat_id", "lti_seats"),
        _fk("release_id", "result_releases"),
        UniqueConstraint("tenant_id", "release_id", name="uq_lti_score_posts_release"),
        CheckConstraint("status IN ('pending', 'posted', 'failed')", name="status"),
    )

    seat_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    release_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    tries: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str] = mapped_column(String(500), server_default="")
    posted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class LtiProctoringSession(TenantScoped, Base):
    """A learner's attempt at an assessment the platform delivers itself,
    proctored by Invigil (LTI Proctoring Services; migration 0063)."""

    __tablename__ = "lti_proctoring_sessions"
    __table_args__ = (
        _fk("link_id", "lti_links"),
        _fk("account_id", "lti_accounts"),
        _fk("invitation_id", "invitations"),
        UniqueConstraint(
            "tenant_id",
            "link_id",
            "account_id",
            "attempt_number",
            name="uq_lti_proctoring_sessions_attempt",
        ),
        UniqueConstraint(
            "tenant_id", "invitation_id", name="uq_lti_proctoring_sessions_invitation"
        ),
        CheckConstraint("status IN ('started', 'assessing', 'ended')", name="status"),
        CheckConstraint("attempt_number >= 1", name="attempt_number"),
    )

    link_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    account_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    invitation_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    deployment_id: Mapped[str] = mapped_column(String(255))
    attempt_number: Mapped[int] = mapped_column(Integer)
    session_data: Mapped[str] = mapped_column(String(4000), server_default="")
    start_assessment_url: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), server_default="started")
    assessing_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class LtiRegistrationUrl(TenantScoped, Base):
    """A one-time URL an LMS administrator gives their platform so that it
    registers itself (LTI Dynamic Registration, migration 0065): only the
    token's hash is kept; it is spent by its first use and expires."""

    __tablename__ = "lti_registration_urls"
    __table_args__ = (
        _fk("platform_id", "lti_platforms"),
        UniqueConstraint("tenant_id", "token_hash", name="uq_lti_registration_urls_token"),
    )

    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    name: Mapped[str] = mapped_column(String(100))
    instructor_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by: Mapped[str] = mapped_column(String(200), server_default="")
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    platform_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
