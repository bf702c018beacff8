"""Signing staff in through their tenant's OpenID provider (docs/adr/0069).

The steps, each in its own short transaction so that none is held while
the provider answers:

1. :func:`begin`: a sign-in in flight (``sso_logins``): the ``state`` (kept
   by its hash; it names its tenant, as every opaque secret here does), the
   browser it belongs to (the hash of a cookie only that browser holds),
   a fresh ``nonce`` and the PKCE verifier (sealed).
2. :func:`consume`: the provider sent the browser back. The state must be
   known, unexpired, unused and the same browser's; it is spent at once
   (committed before the code is exchanged), so a replayed answer finds it
   used.
3. The route exchanges the code and checks the ID token (``oidc``).
4. :func:`complete`: who it is. A linked (issuer, subject) names the
   account; the first time, a verified e-mail in an allowed domain finds
   it and links it; with accounts made on first sign-in turned on, an
   unknown one is made. Deactivated accounts are refused. Roles follow
   the mapped claim. When the tenant's two-factor rule applies to the
   person and the provider did not say it checked a second factor,
   Invigil's own code is asked for (:func:`check_code`), or, for an
   administrator without an authenticator, the session may only set one up.

Every refusal is a counted sign-in failure with its reason in the audit
log (as a wrong password is); every success an ``auth.signed_in`` entry
saying how.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.identity import auth, mfa, oidc, sso
from invigil.identity.models import (
    AuthSession,
    Role,
    SsoConfig,
    SsoIdentity,
    SsoLogin,
    User,
    UserRole,
)
from invigil.identity.service import find_by_email, permissions_of, roles_of
from invigil.security.permissions import ADMIN_PERMISSIONS
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import digest, new_secret
from invigil.settings import Settings
from invigil.tenants.models import Tenant

LOGIN_MINUTES = 10  # from leaving for the provider to coming back
CODE_MINUTES = 5  # to type Invigil's own code once the provider said yes
STATE = "st"
BROWSER = "sb"


def _verifier_context(tenant: uuid.UUID) -> str:
    return f"sso-pkce:{tenant}"


def callback_url(settings: Settings) -> str:
    """The redirect URI every provider is registered with (one per server)."""
    return settings.issuer.rstrip("/") + "/signin/sso/callback"


def code_csrf(browser: str) -> str:
    """The code form's token, derived from the browser's sign-in cookie."""
    return hmac.new(browser.encode(), b"invigil-sso-code", hashlib.sha256).hexdigest()[:32]


def code_csrf_ok(browser: str, submitted: str) -> bool:
    return bool(browser and submitted) and hmac.compare_digest(submitted, code_csrf(browser))


@dataclass
class Result:
    """How a step ended: ``reason`` (a refusal), a session, or a code to ask for."""

    reason: str | None = None
    session: AuthSession | None = None
    secret: str | None = None
    next_path: str = ""
    ask_code: bool = False
    enroll_only: bool = False
    email: str = ""


def throttled(uow: UnitOfWork, settings: Settings, address: str) -> bool:
    most = settings.sign_in_max_failures_per_address
    return auth._failures(uow, settings, address=address) >= most


def refuse(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    reason: str,
    *,
    address: str,
    email: str = "",
    user: User | None = None,
) -> Result:
    """A refused single sign-on: counted and audited like a failed password."""
    auth.record_failure(
        uow, settings, box, email.strip().lower(), address, user, f"sso_{reason}", method="sso"
    )
    return Result(reason=reason, email=email)


def begin(
    uow: UnitOfWork, settings: Settings, box: SecretBox, provider: oidc.Provider, row: SsoConfig,
    next_path: str,
) -> tuple[str, str]:  # fmt: skip
    """A sign-in in flight: the provider's URL to send the browser to, and
    the secret the browser keeps (its cookie)."""
    state, browser = new_secret(STATE, uow.tenant), new_secret(BROWSER, uow.tenant)
    request = oidc.authorization_request(
        provider, client_id=row.client_id, redirect_uri=callback_url(settings), state=state
    )
    now = datetime.now(UTC)
    # Spent and expired sign-ins of this tenant go as new ones come.
    uow.session.execute(delete(SsoLogin).where(SsoLogin.expires_at < now - timedelta(hours=1)))
    uow.add(
        SsoLogin(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            state_hash=digest(state),
            browser_hash=digest(browser),
            nonce=request.nonce,
            verifier_sealed=box.seal(request.verifier.encode(), _verifier_context(uow.tenant)),
            next_path=next_path[:2000],
            expires_at=now + timedelta(minutes=LOGIN_MINUTES),
        )
    )
    uow.flush()
    return request.url, browser


@dataclass(frozen=True)
class Pending:
    """A spent state's sign-in, with what the exchange needs."""

    login_id: uuid.UUID
    nonce: str
    verifier: str
    next_path: str
    issuer: str
    client_id: str
    client_secret: str


def consume(uow: UnitOfWork, box: SecretBox, state: str, browser: str) -> Pending | str:
    """Spend ``state`` (once, for the browser that began it), or say why not."""
    login = uow.scalar(
        select(SsoLogin).where(SsoLogin.state_hash == digest(state)).with_for_update()
    )
    if login is None:
        return "state_unknown"
    if login.used_at is not None:
        return "state_replayed"
    login.used_at = datetime.now(UTC)
    uow.flush()
    if not browser or not hmac.compare_digest(login.browser_hash, digest(browser)):
        return "state_other_browser"
    if login.expires_at <= datetime.now(UTC):
        return "state_expired"
    row = sso.config_of(uow)
    if row is None or not row.enabled:
        return "not_configured"
    return Pending(
        login.id,
        login.nonce,
        box.open(login.verifier_sealed, _verifier_context(uow.tenant)).decode(),
        login.next_path,
        row.issuer,
        row.client_id,
        sso.client_secret(uow, box, row),
    )


def _email_verified(row: SsoConfig, claims: dict[str, Any]) -> bool:
    verified = claims.get("email_verified")
    if verified is True or verified == "true":
        return True
    # Microsoft Entra ID says it as its optional claim "xms_edov" (the e-mail's
    # domain is verified by the directory's owner), never as email_verified.
    host = urlsplit(row.issuer).hostname or ""
    return host == "login.microsoftonline.com" and claims.get("xms_edov") in (True, "true", "1")


def _claim_values(claims: dict[str, Any], name: str) -> set[str] | None:
    found = claims.get(name)
    if found is None:
        return None
    if isinstance(found, str):
        return {found}
    if isinstance(found, list):
        return {v for v in found if isinstance(v, str)}
    return set()


def _mapped_roles(uow: UnitOfWork, row: SsoConfig, claims: dict[str, Any]) -> list[Role] | None:
    """The roles the claim's values give (values with no mapping ignored);
    None when the token has no such claim or nothing is mapped."""
    values = _claim_values(claims, row.role_claim)
    if values is None or not row.role_mappings:
        return None
    names = {m["role"] for m in row.role_mappings if m["value"] in values}
    return uow.scalars(select(Role).where(Role.name.in_(sorted(names)))) if names else []


def _managed(uow: UnitOfWork, row: SsoConfig) -> dict[str, Role]:
    names = sorted({m["role"] for m in row.role_mappings})
    return {r.name: r for r in uow.scalars(select(Role).where(Role.name.in_(names)))}


def _last_admin(uow: UnitOfWork, user: User) -> bool:
    admins = uow.scalars(
        select(User.id)
        .join(UserRole, (UserRole.tenant_id == User.tenant_id) & (UserRole.user_id == User.id))
        .join(Role, (Role.tenant_id == UserRole.tenant_id) & (Role.id == UserRole.role_id))
        .where(Role.name == "tenant_admin", User.status == "active")
    )
    return admins == [user.id]


def _sync_roles(uow: UnitOfWork, row: SsoConfig, user: User, mapped: list[Role]) -> bool:
    """Give the mapped roles the account lacks and take away the mapped
    roles the provider no longer asserts (roles no mapping names are left
    alone; the tenant's last administrator keeps the role). False when the
    account would be left with no role at all (nothing is changed)."""
    held = {r.name: r for r in roles_of(uow, user.id)}
    wanted = {r.name: r for r in mapped}
    remove = [
        r for name, r in _managed(uow, row).items()
        if name in held and name not in wanted
        and not (name == "tenant_admin" and _last_admin(uow, user))
    ]  # fmt: skip
    add = [r for name, r in wanted.items() if name not in held]
    if not (set(held) - {r.name for r in remove}) and not add:
        return False
    for role in remove:
        uow.session.execute(
            delete(UserRole).where(UserRole.user_id == user.id, UserRole.role_id == role.id)
        )
        audit.record(uow, "role.revoked", user, {"role_id": role.id, "via": "sso"})
    for role in add:
        uow.add(UserRole(tenant_id=uow.tenant, user_id=user.id, role_id=role.id))
        audit.record(uow, "role.granted", user, {"role_id": role.id, "via": "sso"})
    uow.flush()
    return True


def _link(uow: UnitOfWork, box: SecretBox, user: User, issuer: str, subject: str) -> SsoIdentity:
    link = SsoIdentity(
        tenant_id=uow.tenant, id=uuid.uuid4(), user_id=user.id, issuer=issuer, subject=subject
    )
    uow.add(link)
    uow.flush()
    audit.record(
        uow,
        "sso.identity_linked",
        user,
        {
            "issuer_host": urlsplit(issuer).hostname,
            "subject": box.pseudonym(uow.tenant, "sso_subject", f"{issuer} {subject}"),
        },
    )
    return link


def _create(uow: UnitOfWork, row: SsoConfig, email: str, name: str, roles: list[Role]) -> User:
    """An account made on first sign-in: active, no password, the roles
    the administrator chose for it (checked against what they held then)."""
    user = User(
        tenant_id=uow.tenant, id=uuid.uuid4(), email=email, status="active",
        display_name=name[:200].strip(), password_hash=None,
    )  # fmt: skip
    uow.add(user)
    uow.flush()
    for role in roles:
        uow.add(UserRole(tenant_id=uow.tenant, user_id=user.id, role_id=role.id))
    uow.flush()
    audit.record(
        uow,
        "user.created",
        user,
        {"status": "active", "role_ids": [r.id for r in roles], "via": "sso"},
    )
    return user


def complete(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    pending: Pending,
    claims: dict[str, Any],
    *,
    address: str,
    user_agent: str,
) -> Result:
    """Who the provider vouched for, and what they may do now."""
    row = sso.config_of(uow)
    login = uow.get(SsoLogin, pending.login_id)
    if row is None or not row.enabled or row.issuer != pending.issuer:
        return refuse(uow, settings, box, "not_configured", address=address)
    email = claims.get("email")
    email = email.strip() if isinstance(email, str) and 3 <= len(email.strip()) <= 320 else ""
    if not email or "@" not in email:
        return refuse(uow, settings, box, "no_email", address=address)
    if not _email_verified(row, claims):
        return refuse(uow, settings, box, "email_not_verified", address=address, email=email)
    domain = email.rsplit("@", 1)[1].lower()
    if domain not in row.allowed_domains:
        return refuse(uow, settings, box, "email_domain", address=address, email=email)
    subject = str(claims["sub"])
    link = uow.scalar(
        select(SsoIdentity).where(SsoIdentity.issuer == row.issuer, SsoIdentity.subject == subject)
    )
    user = uow.get(User, link.user_id) if link is not None else find_by_email(uow, email)
    mapped = _mapped_roles(uow, row, claims)
    created = False
    if user is None:
        if not row.jit_enabled or row.jit_role is None:
            return refuse(uow, settings, box, "no_account", address=address, email=email)
        roles = mapped or uow.scalars(select(Role).where(Role.name == row.jit_role))
        if not roles:
            return refuse(uow, settings, box, "no_role", address=address, email=email)
        name = claims.get("name")
        user = _create(uow, row, email, name if isinstance(name, str) else "", roles)
        created = True
    if user.status == "deactivated":
        return refuse(uow, settings, box, "not_active", address=address, email=email, user=user)
    if link is None:
        other = uow.scalar(
            select(SsoIdentity).where(
                SsoIdentity.user_id == user.id, SsoIdentity.issuer == row.issuer
            )
        )
        if other is not None:  # the account is another of the provider's people
            return refuse(
                uow, settings, box, "identity_conflict", address=address, email=email, user=user
            )
        link = _link(uow, box, user, row.issuer, subject)
    if user.status == "invited":  # the provider vouches for them: no password needed
        user.status = "active"
        audit.record(uow, "user.activated_by_sso", user, {})
    if mapped is not None and not created and not _sync_roles(uow, row, user, mapped):
        return refuse(uow, settings, box, "no_role", address=address, email=email, user=user)
    link.last_used_at = datetime.now(UTC)
    granted = permissions_of(roles_of(uow, user.id))
    tenant = uow.get(Tenant, uow.tenant)
    is_admin = bool(granted & {p.value for p in ADMIN_PERMISSIONS})
    applies = user.totp_enabled_at is not None or (tenant.require_mfa_for_admins and is_admin)
    asserted = sso.mfa_asserted(row, claims)
    login.user_id = user.id
    if row.require_mfa and applies and not asserted and user.totp_enabled_at is not None:
        login.stage = "mfa"  # Invigil's own code, as a password sign-in asks it
        login.expires_at = datetime.now(UTC) + timedelta(minutes=CODE_MINUTES)
        uow.flush()
        return Result(ask_code=True, email=user.email)
    enroll_only = bool(row.require_mfa and applies and not asserted)
    return _session(
        uow, settings, box, login, user, address=address, user_agent=user_agent,
        mfa_by="idp" if asserted else None, enroll_only=enroll_only,
    )  # fmt: skip


def _session(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    login: SsoLogin,
    user: User,
    *,
    address: str,
    user_agent: str,
    mfa_by: str | None,
    enroll_only: bool,
) -> Result:
    login.stage, login.mfa_by = "done", mfa_by
    user.last_sign_in_at = datetime.now(UTC)
    uow.actor = Actor("user", str(user.id))  # from here on, the person acts
    session, secret = auth.open_session(
        uow, settings, user, kind="web", address=address, user_agent=user_agent,
        enroll_only=enroll_only,
    )  # fmt: skip
    audit.record(
        uow,
        "auth.signed_in",
        user,
        {
            "session": str(session.id),
            "kind": "web",
            "method": "sso",
            "address": box.pseudonym(uow.tenant, "address", address),
            "mfa": mfa_by is not None,
            "mfa_by": mfa_by,
            "enroll_only": enroll_only,
        },
    )
    return Result(
        session=session,
        secret=secret,
        next_path="/account" if enroll_only else login.next_path,
        enroll_only=enroll_only,
        email=user.email,
    )


def waiting_for_code(uow: UnitOfWork, browser: str) -> tuple[SsoLogin, User] | None:
    """The browser's sign-in that waits for Invigil's own code, if any."""
    login = uow.scalar(
        select(SsoLogin)
        .where(SsoLogin.browser_hash == digest(browser), SsoLogin.stage == "mfa")
        .with_for_update()
    )
    if login is None or login.user_id is None or login.expires_at <= datetime.now(UTC):
        return None
    return login, uow.get(User, login.user_id)


def check_code(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    browser: str,
    code: str,
    *,
    address: str,
    user_agent: str,
) -> Result:
    """The second step: Invigil's own TOTP code, counted like a password's."""
    found = waiting_for_code(uow, browser)
    if found is None:
        return refuse(uow, settings, box, "state_expired", address=address)
    login, user = found
    email_key = user.email.lower()
    locked = auth._failures(uow, settings, email_key=email_key)
    if locked >= settings.sign_in_max_failures_per_account:
        login.stage = "done"
        return refuse(uow, settings, box, "locked", address=address, email=email_key, user=user)
    if user.status != "active":
        login.stage = "done"
        return refuse(uow, settings, box, "not_active", address=address, email=email_key, user=user)
    if not mfa.verify_code(uow, box, user, code):
        result = refuse(uow, settings, box, "bad_otp", address=address, email=email_key, user=user)
        result.ask_code = True
        return result
    return _session(
        uow, settings, box, login, user, address=address, user_agent=user_agent,
        mfa_by="totp", enroll_only=False,
    )  # fmt: skip
