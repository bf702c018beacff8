"""A tenant's learning platforms (LMS registrations), and the values an LMS
administrator types into their platform to register Invigil.

A registration names a platform by its issuer and the client id it gave
Invigil (one registration per pair, per tenant), the deployment ids it may
launch from (a launch from any other deployment is refused), the
platform's key set URL, its authorisation (OIDC login) URL and its token
URL (Assignment and Grade Services). ``instructor_role`` is the Invigil role
an instructor launched from the platform gets (none: instructors are
refused); the administrator who chooses it must hold every permission of
that role (ADR 0013), and a platform never makes tenant administrators.

Each registration has a ``public_key``: the part of Invigil's URLs that
names it (``/lti/<public_key>/login`` ...). It names its tenant, so a
request from the platform opens a unit of work bound to that tenant
before anything else; naming it grants nothing. Every change is audited.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid, NotFound
from invigil.identity import grants
from invigil.identity.service import role_by_name
from invigil.lti import remote
from invigil.lti.models import LtiPlatform
from invigil.security.tokens import new_secret, split_secret
from invigil.settings import Settings

PREFIX = "lti"
MAX_DEPLOYMENTS = 50
URL_FIELDS = ("jwks_url", "auth_login_url", "token_url")


def tenant_of(public_key: str) -> uuid.UUID | None:
    return split_secret(PREFIX, public_key)


@dataclass(frozen=True)
class ToolUrls:
    """What an LMS administrator types into their platform."""

    login: str
    launch: str
    deep_linking: str
    jwks: str

    @classmethod
    def of(cls, settings: Settings, public_key: str) -> ToolUrls:
        base = f"{settings.issuer.rstrip('/')}/lti/{public_key}"
        return cls(f"{base}/login", f"{base}/launch", f"{base}/launch", f"{base}/jwks")


def audited(row: LtiPlatform) -> dict[str, Any]:
    return {
        "name": row.name,
        "issuer": row.issuer,
        "client_id": row.client_id,
        "deployment_ids": list(row.deployment_ids),
        "jwks_host": urlsplit(row.jwks_url).hostname,
        "auth_login_host": urlsplit(row.auth_login_url).hostname,
        "token_host": urlsplit(row.token_url).hostname,
        "instructor_role": row.instructor_role,
        "enabled": row.enabled,
        "roster_sync": row.roster_sync,
    }


def listed(uow: UnitOfWork) -> list[LtiPlatform]:
    return uow.scalars(select(LtiPlatform).order_by(LtiPlatform.name, LtiPlatform.id))


def get(uow: UnitOfWork, platform_id: uuid.UUID) -> LtiPlatform:
    return uow.get(LtiPlatform, platform_id, label="learning platform")


def by_public_key(uow: UnitOfWork, public_key: str) -> LtiPlatform | None:
    return uow.scalar(select(LtiPlatform).where(LtiPlatform.public_key == public_key))


def _text(value: str, name: str, most: int) -> str:
    value = value.strip()
    if not 1 <= len(value) <= most or any(not c.isprintable() for c in value):
        raise Invalid(f"{name.replace('_', ' ')}: 1-{most} printable characters", field=name)
    return value


def _deployments(values: list[str]) -> list[str]:
    found: list[str] = []
    for raw in values:
        value = raw.strip()
        if not value:
            continue
        value = _text(value, "deployment_ids", 255)
        if value not in found:
            found.append(value)
    if not found:
        raise Invalid(
            "give at least one deployment id the platform launches from", field="deployment_ids"
        )
    if len(found) > MAX_DEPLOYMENTS:
        raise Invalid(f"at most {MAX_DEPLOYMENTS} deployment ids", field="deployment_ids")
    return found


def _role(uow: UnitOfWork, name: str | None, *, granting: bool = True) -> str | None:
    name = (name or "").strip() or None
    if name is None:
        return None
    if name == "tenant_admin":
        raise Invalid(
            "a learning platform cannot make administrators; choose another role",
            field="instructor_role",
        )
    try:
        role = role_by_name(uow, name)
    except Invalid:
        raise Invalid(f"unknown role {name!r}", field="instructor_role") from None
    if granting:
        grants.require_roles(uow, [role], subject=("lti_platform", "new"))
    return name


def checked_role(uow: UnitOfWork, name: str | None) -> str | None:
    """The instructor role an administrator chooses (they must hold all it grants)."""
    return _role(uow, name)


@dataclass(frozen=True)
class Values:
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    jwks_url: str
    auth_login_url: str
    token_url: str
    instructor_role: str | None = None
    enabled: bool = True
    roster_sync: bool = False


def _checked(
    uow: UnitOfWork, settings: Settings, v: Values, *, granting: bool = True
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": _text(v.name, "name", 100),
        "issuer": _text(v.issuer, "issuer", 2000),
        "client_id": _text(v.client_id, "client_id", 500),
        "deployment_ids": _deployments(v.deployment_ids),
        "instructor_role": _role(uow, v.instructor_role, granting=granting),
        "enabled": v.enabled,
        "roster_sync": v.roster_sync,
    }
    for name in URL_FIELDS:
        out[name] = remote.check_url(_text(getattr(v, name), name, 2000), settings, name)
    return out


def _unique(uow: UnitOfWork, issuer: str, client_id: str, other: uuid.UUID | None) -> None:
    found = uow.scalar(
        select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.client_id == client_id)
    )
    if found is not None and found.id != other:
        raise Invalid("this issuer and client id are registered already", field="client_id")


def new_public_key(tenant_id: uuid.UUID) -> str:
    return new_secret(PREFIX, tenant_id)


def create(
    uow: UnitOfWork,
    settings: Settings,
    values: Values,
    *,
    public_key: str | None = None,
    dynamic: bool = False,
) -> LtiPlatform:
    """Register a platform (audited). ``dynamic``: the platform registered
    itself with a registration URL (LTI Dynamic Registration); the role was
    checked against the administrator who made the URL, not the visitor."""
    checked = _checked(uow, settings, values, granting=not dynamic)
    _unique(uow, checked["issuer"], checked["client_id"], None)
    row = LtiPlatform(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        public_key=public_key or new_public_key(uow.tenant),
        **checked,
    )
    uow.add(row)
    uow.flush()
    payload = audited(row) | ({"dynamic": True} if dynamic else {})
    audit.record(uow, "lti.platform_registered", row, payload)
    return row


def update(
    uow: UnitOfWork, settings: Settings, platform_id: uuid.UUID, values: Values
) -> LtiPlatform:
    row = get(uow, platform_id)
    checked = _checked(uow, settings, values)
    _unique(uow, checked["issuer"], checked["client_id"], row.id)
    before = audited(row)
    for name, value in checked.items():
        setattr(row, name, value)
    row.updated_at = datetime.now(UTC)
    uow.flush()
    if audited(row) != before:
        audit.record(uow, "lti.platform_changed", row, {"before": before, "after": audited(row)})
    return row


def remove(uow: UnitOfWork, platform_id: uuid.UUID) -> None:
    """Forget the registration, its links, launches and accounts (invitations,
    attempts and results stay; their scores are no longer sent)."""
    row = uow.session.get(LtiPlatform, (uow.tenant, platform_id))
    if row is None:
        raise NotFound("learning platform was not found")
    audit.record(uow, "lti.platform_removed", row, audited(row))
    uow.session.delete(row)
    uow.flush()
