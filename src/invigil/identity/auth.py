"""Signing in and staying signed in: throttled password (+ TOTP) sign-in,
API sessions with rotating refresh tokens and reuse detection, web sessions.

Failures answer one neutral message whether or not the email exists; they
are counted per email and per address inside the tenant, committed even
though the request fails, and audited. The audit entries name a person by
their user id; an e-mail that is no account's and a network address go in
as keyed hashes (``SecretBox.pseudonym``, docs/adr/0062), so the log keeps
no one's address while equal values still match.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.i18n import N_
from invigil.identity import mfa, sso
from invigil.identity.models import AuthSession, RefreshToken, SignInFailure, User
from invigil.identity.service import permissions_of, roles_of
from invigil.security.passwords import hash_password, needs_rehash, verify_password
from invigil.security.permissions import ADMIN_PERMISSIONS, Permission
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import digest, new_secret
from invigil.settings import Settings
from invigil.tenants.models import Tenant

FAILED = N_(
    "sign-in failed: the tenant, email, password or code is wrong, or the account is "
    "locked for a while after repeated failures"
)
SSO_REQUIRED = N_(
    "Your organisation signs its staff in through its identity provider: use the "
    "single sign-on button on the sign-in page."
)
THROTTLED = "too many failed sign-ins from this address; wait a few minutes and try again"


@dataclass
class Outcome:
    """What a sign-in or a refresh produced: a session and its secret, or why not."""

    ok: bool
    user: User | None = None
    session: AuthSession | None = None
    refresh_token: str | None = None
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    mfa_required: bool = False
    sso_required: bool = False  # the tenant signs its staff in through its provider
    throttled: bool = False
    retry_after: int = 0
    reused: bool = False  # a spent refresh token came back: the family was revoked


def _window(settings: Settings) -> datetime:
    return datetime.now(UTC) - timedelta(minutes=settings.sign_in_window_minutes)


def _failures(
    uow: UnitOfWork, settings: Settings, *, email_key: str | None = None, address: str | None = None
) -> int:
    stmt = (
        select(func.count()).select_from(SignInFailure).where(SignInFailure.at > _window(settings))
    )
    if email_key is not None:
        stmt = stmt.where(SignInFailure.email_key == email_key)
    if address is not None:
        stmt = stmt.where(SignInFailure.address == address)
    return uow.scalar(stmt) or 0


def _last_failure(uow: UnitOfWork, address: str) -> uuid.UUID | None:
    """The latest failure from ``address``: the row a reader of a throttle
    entry sees the address in, while the row is kept."""
    return uow.scalar(
        select(SignInFailure.id)
        .where(SignInFailure.address == address)
        .order_by(SignInFailure.at.desc())
        .limit(1)
    )


def _fail(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    email_key: str,
    address: str,
    user: User | None,
    reason: str,
    *,
    method: str = "password",
) -> Outcome:
    failure = SignInFailure(tenant_id=uow.tenant, id=uuid.uuid4(), email_key=email_key,
                            address=address)  # fmt: skip
    uow.add(failure)
    uow.flush()
    # An e-mail that is no account's, and the address, only as keyed hashes:
    # the row (failure) shows them while it is kept; the log keeps no copy.
    subject: User | tuple[str, str] = user or (
        ("sign_in", box.pseudonym(uow.tenant, "email", email_key))
        if email_key
        else ("address", box.pseudonym(uow.tenant, "address", address))
    )
    payload: dict[str, object] = {
        "reason": reason,
        "address": box.pseudonym(uow.tenant, "address", address),
        "failure": failure.id,
    }
    if method != "password":
        payload["method"] = method
    audit.record(uow, "auth.sign_in_failed", subject, payload)
    count = _failures(uow, settings, email_key=email_key) if email_key else 0
    if count == settings.sign_in_max_failures_per_account:
        audit.record(
            uow,
            "auth.locked_out",
            subject,
            {"failures": count, "minutes": settings.sign_in_window_minutes},
        )
    return Outcome(
        ok=False, mfa_required=(reason == "otp_missing"), sso_required=(reason == "sso_required")
    )


record_failure = _fail  # for the other ways in (single sign-on): counted and audited alike


def sign_in(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    *,
    email: str,
    password: str,
    otp: str | None,
    address: str,
    user_agent: str,
    kind: str = "api",
) -> Outcome:
    email_key = email.strip().lower()
    if _failures(uow, settings, address=address) >= settings.sign_in_max_failures_per_address:
        audit.record(
            uow,
            "auth.throttled",
            ("address", box.pseudonym(uow.tenant, "address", address)),
            {
                "email": box.pseudonym(uow.tenant, "email", email_key),
                "last_failure": _last_failure(uow, address),
            },
        )
        return Outcome(ok=False, throttled=True, retry_after=settings.sign_in_window_minutes * 60)
    locked = (
        _failures(uow, settings, email_key=email_key) >= settings.sign_in_max_failures_per_account
    )
    user = uow.scalar(select(User).where(func.lower(User.email) == email_key))
    # Always spend the hash: timing must not tell whether the email exists.
    password_ok = verify_password(user.password_hash if user else None, password)
    if locked:
        return _fail(uow, settings, box, email_key, address, user, "locked")
    if user is None or user.status != "active" or not password_ok:
        reason = (
            "unknown_email"
            if user is None
            else ("not_active" if user.status != "active" else "bad_password")
        )
        return _fail(uow, settings, box, email_key, address, user, reason)
    if sso.password_refused(uow, user.id):  # after the password: says nothing to a guesser
        return _fail(uow, settings, box, email_key, address, user, "sso_required")
    if user.totp_enabled_at is not None:
        if not otp:
            return _fail(uow, settings, box, email_key, address, user, "otp_missing")
        if not mfa.verify_code(uow, box, user, otp):
            return _fail(uow, settings, box, email_key, address, user, "bad_otp")
    roles = roles_of(uow, user.id)
    granted = set(permissions_of(roles))
    tenant = uow.get(Tenant, uow.tenant)
    enroll_only = bool(
        tenant.require_mfa_for_admins
        and user.totp_enabled_at is None
        and granted & {p.value for p in ADMIN_PERMISSIONS}
    )
    if enroll_only:  # may only set up the second factor, then sign in again
        granted = {Permission.ACCOUNT_SELF.value}
    if password and user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_sign_in_at = datetime.now(UTC)
    uow.actor = Actor("user", str(user.id))  # from here on, the person acts
    session, refresh = open_session(
        uow,
        settings,
        user,
        kind=kind,
        address=address,
        user_agent=user_agent,
        enroll_only=enroll_only,
    )
    audit.record(
        uow,
        "auth.signed_in",
        user,
        {
            "session": str(session.id),
            "kind": kind,
            "address": box.pseudonym(uow.tenant, "address", address),
            "mfa": user.totp_enabled_at is not None,
            "enroll_only": enroll_only,
        },
    )
    return Outcome(
        ok=True,
        user=user,
        session=session,
        refresh_token=refresh,
        roles=[r.name for r in roles],
        permissions=sorted(granted),
    )


def open_session(
    uow: UnitOfWork,
    settings: Settings,
    user: User,
    *,
    kind: str,
    address: str,
    user_agent: str,
    enroll_only: bool,
) -> tuple[AuthSession, str]:
    now = datetime.now(UTC)
    lifetime = (
        timedelta(hours=settings.refresh_token_hours)
        if kind == "api"
        else timedelta(minutes=settings.web_session_idle_minutes)
    )
    secret = new_secret("rt" if kind == "api" else "ws", uow.tenant)
    session = AuthSession(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        user_id=user.id,
        kind=kind,
        expires_at=now + timedelta(hours=settings.refresh_token_hours),
        address=address[:64],
        user_agent=user_agent[:300],
        mfa_enroll_only=enroll_only,
        token_hash=digest(secret) if kind == "web" else None,
    )
    uow.add(session)
    uow.flush()
    if kind == "api":
        uow.add(
            RefreshToken(
                tenant_id=uow.tenant,
                session_id=session.id,
                token_hash=digest(secret),
                expires_at=now + lifetime,
            )
        )
        uow.flush()
    return session, secret


def refresh(uow: UnitOfWork, settings: Settings, secret: str) -> Outcome:
    """Rotate: the presented token is spent and a new one issued. A spent
    token presented again means it was stolen: the whole family is revoked."""
    now = datetime.now(UTC)
    token = uow.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest(secret)).with_for_update()
    )
    if token is None:
        return Outcome(ok=False)
    session = uow.get(AuthSession, token.session_id)
    if token.used_at is not None:
        if session.revoked_at is None:
            session.revoked_at, session.revoked_reason = now, "refresh_token_reused"
            audit.record(
                uow,
                "auth.token_family_revoked",
                session,
                {"user": str(session.user_id), "reason": "refresh_token_reused"},
            )
        return Outcome(ok=False, reused=True)
    user = uow.get(User, session.user_id)
    if (
        session.revoked_at is not None
        or token.expires_at <= now
        or session.expires_at <= now
        or user.status != "active"
    ):
        return Outcome(ok=False)
    token.used_at = now
    secret_new = new_secret("rt", uow.tenant)
    uow.add(
        RefreshToken(
            tenant_id=uow.tenant,
            session_id=session.id,
            token_hash=digest(secret_new),
            expires_at=min(session.expires_at, now + timedelta(hours=settings.refresh_token_hours)),
        )
    )
    session.last_seen_at = now
    uow.flush()
    roles = roles_of(uow, user.id)
    granted = sorted(permissions_of(roles))
    if session.mfa_enroll_only:
        granted = [Permission.ACCOUNT_SELF.value]
    audit.record(uow, "auth.token_refreshed", session, {"user": str(user.id)})
    return Outcome(
        ok=True,
        user=user,
        session=session,
        refresh_token=secret_new,
        roles=[r.name for r in roles],
        permissions=granted,
    )


def end_session(uow: UnitOfWork, session_id: uuid.UUID, reason: str = "logout") -> bool:
    result = uow.session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
        .returning(AuthSession.user_id)
    )
    user_id = result.scalar_one_or_none()
    if user_id is not None:
        audit.record(
            uow,
            "auth.signed_out",
            ("auth_session", session_id),
            {"user": str(user_id), "reason": reason},
        )
    return user_id is not None


def session_by_refresh(uow: UnitOfWork, secret: str) -> AuthSession | None:
    token = uow.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(secret)))
    return uow.get(AuthSession, token.session_id) if token else None


def active_session(uow: UnitOfWork, session_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    """The per-request check behind every access token: signed out, revoked
    or deactivated means the token stops working now, not at its expiry."""
    found = uow.session.execute(
        select(AuthSession.id)
        .join(User, (User.tenant_id == AuthSession.tenant_id) & (User.id == AuthSession.user_id))
        .where(
            AuthSession.id == session_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > func.now(),
            User.status == "active",
        )
    ).first()
    return found is not None


def web_session(
    uow: UnitOfWork, settings: Settings, secret: str
) -> tuple[AuthSession, User] | None:
    """A web session by its cookie; sliding idle timeout, absolute expiry."""
    now = datetime.now(UTC)
    session = uow.scalar(
        select(AuthSession).where(
            AuthSession.kind == "web", AuthSession.token_hash == digest(secret)
        )
    )
    if session is None or session.revoked_at is not None or session.expires_at <= now:
        return None
    if session.last_seen_at + timedelta(minutes=settings.web_session_idle_minutes) <= now:
        session.revoked_at, session.revoked_reason = now, "idle_timeout"
        return None
    user = uow.get(User, session.user_id)
    if user.status != "active":
        return None
    session.last_seen_at = now
    return session, user
