from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
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


class User(TenantScoped, Base):
    """A staff account of one tenant. Email is unique per tenant, case-folded.
    ``invited`` accounts have no password until they use their invitation."""

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_tenant_id_email", "tenant_id", func.lower(text("email")), unique=True),
        CheckConstraint("position('@' in email) > 1", name="email_format"),
        CheckConstraint("status IN ('invited', 'active', 'deactivated')", name="status"),
    )

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), server_default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(16), server_default="active")
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    # The staff pages' language (None: English); one Invigil has a catalog for.
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)


class Role(TenantScoped, Base):
    """Built-in roles take their permissions from code; custom ones store theirs."""

    __tablename__ = "roles"
    __table_args__ = (
        CheckConstraint("name ~ '^[a-z][a-z0-9_]{1,63}$'", name="name_format"),
        UniqueConstraint("tenant_id", "name", name="uq_roles_tenant_id_name"),
    )

    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(500), server_default="")
    builtin: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")


class UserRole(Base):
    __tablename__ = "user_roles"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "role_id"], ["roles.tenant_id", "roles.id"], ondelete="RESTRICT"
        ),
        Index("ix_user_roles_role", "tenant_id", "role_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    role_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class AuthSession(TenantScoped, Base):
    """One sign-in: the family of its refresh tokens (API) or a web session."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        CheckConstraint("kind IN ('api', 'web')", name="kind"),
        UniqueConstraint("tenant_id", "token_hash", name="uq_auth_sessions_tenant_id_token_hash"),
        Index("ix_auth_sessions_user", "tenant_id", "user_id"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(8))
    token_hash: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(TS)
    last_seen_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(64), nullable=True)
    address: Mapped[str] = mapped_column(String(64), server_default="")
    user_agent: Mapped[str] = mapped_column(String(300), server_default="")
    mfa_enroll_only: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class RefreshToken(TenantScoped, Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "session_id"],
            ["auth_sessions.tenant_id", "auth_sessions.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "token_hash", name="uq_refresh_tokens_tenant_id_token_hash"),
    )

    session_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class UserToken(TenantScoped, Base):
    """A one-time link: accept an invitation or reset a password."""

    __tablename__ = "user_tokens"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        CheckConstraint("purpose IN ('invite', 'reset')", name="purpose"),
        UniqueConstraint("tenant_id", "token_hash", name="uq_user_tokens_tenant_id_token_hash"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class SignInFailure(Base):
    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_email", "tenant_id", "email_key", "at"),
        Index("ix_sign_in_failures_address", "tenant_id", "address", "at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    email_key: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))


class SsoConfig(TenantScoped, Base):
    """A tenant's OpenID Connect provider for staff sign-in (at most one).
    The client secret is sealed by the secret box and never shown again."""

    __tablename__ = "sso_configs"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_sso_configs_tenant_id"),)

    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    display_name: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(2000))
    client_id: Mapped[str] = mapped_column(String(500))
    client_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    allowed_domains: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    role_claim: Mapped[str] = mapped_column(String(100), server_default="groups")
    # [{"value": "<claim value>", "role": "<role name>"}]
    role_mappings: Mapped[list[dict[str, str]]] = mapped_column(JSONB, server_default="[]")
    jit_enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    jit_role: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sso_required: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    break_glass: Mapped[list[uuid.UUID]] = mapped_column(
        ARRAY(UUID(as_uuid=True)), server_default="{}"
    )
    require_mfa: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    mfa_acr_values: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class SsoIdentity(TenantScoped, Base):
    """A staff account linked to a provider's subject: (issuer, sub) names
    one person for good, whatever their e-mail becomes."""

    __tablename__ = "sso_identities"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "issuer", "subject", name="uq_sso_identities_subject"),
        UniqueConstraint("tenant_id", "user_id", "issuer", name="uq_sso_identities_user"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    issuer: Mapped[str] = mapped_column(String(2000))
    subject: Mapped[str] = mapped_column(String(255))
    last_used_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class SsoLogin(TenantScoped, Base):
    """One single sign-on attempt in flight: the ``state`` (by its hash),
    the browser it is bound to (the hash of a cookie), the ``nonce`` and
    the PKCE verifier. Used once; then, when Invigil's own second factor
    is still needed, it carries the user until the code is given."""

    __tablename__ = "sso_logins"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "state_hash", name="uq_sso_logins_tenant_id_state_hash"),
        CheckConstraint("stage IN ('started', 'mfa', 'done')", name="stage"),
        Index("ix_sso_logins_expires", "tenant_id", "expires_at"),
    )

    state_hash: Mapped[bytes] = mapped_column(LargeBinary)
    browser_hash: Mapped[bytes] = mapped_column(LargeBinary)
    nonce: Mapped[str] = mapped_column(String(128))
    verifier_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    next_path: Mapped[str] = mapped_column(String(2000), server_default="")
    stage: Mapped[str] = mapped_column(String(16), server_default="started")
    expires_at: Mapped[datetime] = mapped_column(TS)
    used_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    mfa_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
