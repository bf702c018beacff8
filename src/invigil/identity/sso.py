"""A tenant's single sign-on settings (OpenID Connect, docs/integrations/sso.md).

One provider per tenant: its issuer (found through discovery), client id and
client secret (sealed by the secret box, never shown again), the e-mail
domains it may vouch for, which claim's values give which roles, whether an
account is made on first sign-in (off unless turned on) and with which
role, whether passwords are refused for the tenant's staff except the named
break-glass administrators, and whether Invigil's own second factor is
still asked for when the provider does not say it checked one.

No one grants more than they hold (ADR 0013): the administrator who maps a
claim to a role, or makes new accounts get a role, must hold every
permission of that role. Every change is audited in the same transaction,
the secret never (only that it changed).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid
from invigil.identity import grants, oidc
from invigil.identity.models import SsoConfig, User
from invigil.identity.service import role_by_name
from invigil.security.permissions import Permission
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings

DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
CLAIM = re.compile(r"^[A-Za-z0-9_:./-]{1,100}$")
MAX_DOMAINS = 50
MAX_MAPPINGS = 100
MAX_SECRET = 1000
MAX_BREAK_GLASS = 10
KEEP = object()  # the stored client secret stays as it is
# ``amr`` values (RFC 8176) that mean more than one factor was checked.
MFA_AMR = frozenset({"mfa", "otp", "hwk", "sc", "sms", "tel", "fpt", "face", "iris", "retina"})


def _secret_context(tenant: uuid.UUID) -> str:
    return f"sso-client-secret:{tenant}"


@dataclass(frozen=True)
class Mapping:
    value: str
    role: str


@dataclass(frozen=True)
class View:
    """The settings as pages and the API show them (never the secret)."""

    configured: bool = False
    enabled: bool = False
    display_name: str = ""
    issuer: str = ""
    client_id: str = ""
    has_client_secret: bool = False
    allowed_domains: tuple[str, ...] = ()
    role_claim: str = "groups"
    role_mappings: tuple[Mapping, ...] = ()
    jit_enabled: bool = False
    jit_role: str | None = None
    sso_required: bool = False
    break_glass: tuple[uuid.UUID, ...] = ()
    require_mfa: bool = True
    mfa_acr_values: tuple[str, ...] = field(default=())

    def audited(self) -> dict[str, Any]:
        """What an audit entry keeps: the choices, the provider's host, never the secret."""
        return {
            "enabled": self.enabled,
            "display_name": self.display_name,
            "issuer_host": urlsplit(self.issuer).hostname if self.issuer else None,
            "client_id": self.client_id,
            "allowed_domains": list(self.allowed_domains),
            "role_claim": self.role_claim,
            "role_mappings": [{"value": m.value, "role": m.role} for m in self.role_mappings],
            "jit_enabled": self.jit_enabled,
            "jit_role": self.jit_role,
            "sso_required": self.sso_required,
            "break_glass": [str(u) for u in self.break_glass],
            "require_mfa": self.require_mfa,
            "mfa_acr_values": list(self.mfa_acr_values),
        }


def config_of(uow: UnitOfWork) -> SsoConfig | None:
    return uow.scalar(select(SsoConfig))


def view(row: SsoConfig | None) -> View:
    if row is None:
        return View()
    return View(
        configured=True,
        enabled=row.enabled,
        display_name=row.display_name,
        issuer=row.issuer,
        client_id=row.client_id,
        has_client_secret=row.client_secret_sealed is not None,
        allowed_domains=tuple(row.allowed_domains),
        role_claim=row.role_claim,
        role_mappings=tuple(Mapping(m["value"], m["role"]) for m in row.role_mappings),
        jit_enabled=row.jit_enabled,
        jit_role=row.jit_role,
        sso_required=row.sso_required,
        break_glass=tuple(row.break_glass),
        require_mfa=row.require_mfa,
        mfa_acr_values=tuple(row.mfa_acr_values),
    )


def client_secret(uow: UnitOfWork, box: SecretBox, row: SsoConfig) -> str:
    if row.client_secret_sealed is None:
        return ""
    return box.open(row.client_secret_sealed, _secret_context(uow.tenant)).decode()


def password_refused(uow: UnitOfWork, user_id: uuid.UUID) -> bool:
    """Whether the tenant's "single sign-on required" rule refuses this
    staff member a password sign-in (break-glass administrators keep theirs)."""
    row = config_of(uow)
    return bool(row and row.enabled and row.sso_required and user_id not in row.break_glass)


def mfa_asserted(row: SsoConfig, claims: dict[str, Any]) -> bool:
    """The provider says it checked more than a password: an ``amr`` value
    of RFC 8176 that means a second factor, or an ``acr`` the tenant lists."""
    amr = claims.get("amr")
    if isinstance(amr, list) and MFA_AMR & {a for a in amr if isinstance(a, str)}:
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in row.mfa_acr_values


def _text(value: str, name: str, most: int, *, least: int = 1) -> str:
    value = value.strip()
    if not least <= len(value) <= most or any(not c.isprintable() for c in value):
        raise Invalid(f"{name.replace('_', ' ')}: {least}-{most} printable characters", field=name)
    return value


def _domains(values: list[str]) -> list[str]:
    found: list[str] = []
    for raw in values:
        domain = raw.strip().lower().lstrip("@")
        if not domain:
            continue
        if not DOMAIN.match(domain):
            raise Invalid(f"{raw.strip()[:100]!r} is not a domain name", field="allowed_domains")
        if domain not in found:
            found.append(domain)
    if len(found) > MAX_DOMAINS:
        raise Invalid(f"at most {MAX_DOMAINS} domains", field="allowed_domains")
    return found


def _mappings(uow: UnitOfWork, pairs: list[tuple[str, str]]) -> list[Mapping]:
    found: dict[str, Mapping] = {}
    for value, role in pairs:
        value, role = value.strip(), role.strip()
        if not value and not role:
            continue
        _text(value, "role_mappings", 200)
        if not role:
            raise Invalid(f"choose the role that {value!r} gives", field="role_mappings")
        try:
            role_by_name(uow, role)
        except Invalid:
            raise Invalid(f"unknown role {role!r}", field="role_mappings") from None
        found[value] = Mapping(value, role)
    if len(found) > MAX_MAPPINGS:
        raise Invalid(f"at most {MAX_MAPPINGS} mappings", field="role_mappings")
    return list(found.values())


def _break_glass(uow: UnitOfWork, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    chosen = list(dict.fromkeys(ids))
    if len(chosen) > MAX_BREAK_GLASS:
        raise Invalid(f"at most {MAX_BREAK_GLASS} break-glass administrators", field="break_glass")
    for user_id in chosen:
        user = uow.scalar(select(User).where(User.id == user_id))
        if user is None or user.status != "active":
            raise Invalid(f"no active staff member {user_id}", field="break_glass")
        if Permission.TENANT_MANAGE.value not in grants.user_permissions(uow, user.id):
            raise Invalid(
                f"{user.email} cannot be a break-glass administrator: they do not hold "
                "tenant:manage",
                field="break_glass",
            )
    return chosen


def update(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    *,
    enabled: bool,
    display_name: str,
    issuer: str,
    client_id: str,
    client_secret: str | object | None = KEEP,
    allowed_domains: list[str],
    role_claim: str = "groups",
    role_mappings: list[tuple[str, str]] | None = None,
    jit_enabled: bool = False,
    jit_role: str | None = None,
    sso_required: bool = False,
    break_glass: list[uuid.UUID] | None = None,
    require_mfa: bool = True,
    mfa_acr_values: list[str] | None = None,
) -> View:
    """Save the tenant's single sign-on settings (audited). ``client_secret``:
    a new one, None to remove it, KEEP to keep the stored one."""
    display_name = _text(display_name, "display_name", 100)
    issuer = oidc.check_issuer(_text(issuer, "issuer", 2000), settings)
    client_id = _text(client_id, "client_id", 500)
    if isinstance(client_secret, str):
        client_secret = _text(client_secret, "client_secret", MAX_SECRET)
    domains = _domains(allowed_domains)
    role_claim = role_claim.strip() or "groups"
    if not CLAIM.match(role_claim):
        raise Invalid("role claim: 1-100 letters, digits and _ : . / -", field="role_claim")
    mappings = _mappings(uow, role_mappings or [])
    jit_role = (jit_role or "").strip() or None
    if jit_role is not None:
        try:
            role_by_name(uow, jit_role)
        except Invalid:
            raise Invalid(f"unknown role {jit_role!r}", field="jit_role") from None
    if jit_enabled and jit_role is None:
        raise Invalid(
            "choose the role new accounts get when they are made on first sign-in",
            field="jit_role",
        )
    acr_values = []
    for raw in mfa_acr_values or []:
        value = raw.strip()
        if value:
            acr_values.append(_text(value, "mfa_acr_values", 200))
    if len(acr_values) > 20:
        raise Invalid("at most 20 acr values", field="mfa_acr_values")
    guards = _break_glass(uow, break_glass or [])
    row = config_of(uow)
    before = view(row)
    will_have_secret = isinstance(client_secret, str) or (
        client_secret is KEEP and row is not None and row.client_secret_sealed is not None
    )
    if enabled and not will_have_secret:
        raise Invalid("give the client secret the provider issued", field="client_secret")
    if enabled and not domains:
        raise Invalid(
            "give at least one e-mail domain the provider may sign in", field="allowed_domains"
        )
    if sso_required and not enabled:
        raise Conflict(
            "single sign-on must be on before passwords can be turned off", field="sso_required"
        )
    # No one grants more than they hold: the roles this setting hands out.
    given = {m.role for m in mappings} | ({jit_role} if jit_role else set())
    newly = given - {m.role for m in before.role_mappings} - {before.jit_role}
    grants.require_roles(
        uow, [role_by_name(uow, name) for name in sorted(newly)], subject=("sso_config", "new")
    )
    if row is None:
        row = SsoConfig(tenant_id=uow.tenant, id=uuid.uuid4())
        uow.add(row)
    row.enabled, row.display_name, row.issuer, row.client_id = (
        enabled, display_name, issuer, client_id,
    )  # fmt: skip
    if client_secret is None:
        row.client_secret_sealed = None
    elif isinstance(client_secret, str):
        row.client_secret_sealed = box.seal(client_secret.encode(), _secret_context(uow.tenant))
    row.allowed_domains = domains
    row.role_claim = role_claim
    row.role_mappings = [{"value": m.value, "role": m.role} for m in mappings]
    row.jit_enabled, row.jit_role = jit_enabled, jit_role
    row.sso_required, row.break_glass = sso_required, guards
    row.require_mfa, row.mfa_acr_values = require_mfa, acr_values
    row.updated_at = datetime.now(UTC)
    uow.flush()
    after = view(row)
    secret_changed = isinstance(client_secret, str) or (
        client_secret is None and before.has_client_secret
    )
    if before.audited() != after.audited() or secret_changed:
        audit.record(
            uow,
            "sso.settings_changed",
            ("sso_config", row.id),
            {
                "before": before.audited() if before.configured else None,
                "after": after.audited(),
                "secret_changed": secret_changed,
            },
        )
    return after


def remove(uow: UnitOfWork) -> None:
    """Forget the tenant's provider (accounts stay linked for a later one of
    the same issuer); passwords work again for everyone."""
    row = config_of(uow)
    if row is None:
        return
    audit.record(uow, "sso.settings_removed", ("sso_config", row.id), view(row).audited())
    uow.session.delete(row)
    uow.flush()
