"""Creating and finding tenants (operator tooling and sign-in routing)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from invigil import audit, i18n
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.platform import TenantRef
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.tenants.models import SLUG_PATTERN, Tenant

# What a new tenant gets from the domains above (the built-in roles, from
# identity): they register here at import, so tenants imports none of them.
_created: list[Callable[[UnitOfWork], None]] = []


def on_created(hook: Callable[[UnitOfWork], None]) -> None:
    """Run ``hook(uow)`` in the transaction that creates each tenant (idempotent)."""
    if hook not in _created:
        _created.append(hook)


def validate(slug: str, name: str, region: str, regions: tuple[str, ...]) -> None:
    if not re.match(SLUG_PATTERN, slug):
        raise Invalid(
            f"{slug!r} is not a valid slug: use 3-40 lowercase letters, digits and dashes, "
            "starting with a letter"
        )
    if not name.strip() or len(name) > 200:
        raise Invalid("a tenant name needs 1-200 characters")
    if region not in regions:
        raise Invalid(f"unknown region {region!r}; configured regions: {', '.join(regions)}")


def create_tenant(
    db: Database,
    *,
    slug: str,
    name: str,
    region: str,
    regions: tuple[str, ...],
    actor: Actor | None = None,
) -> Tenant:
    """Operator path: the owner role inserts the registry row, bound to the
    new tenant so that any tenant rows created with it pass RLS."""
    validate(slug, name, region, regions)
    if platform.tenant_by_slug(db, slug) is not None:
        raise Conflict(f"a tenant with slug {slug!r} already exists")
    tenant_id = uuid.uuid4()
    try:
        with db.operator_unit_of_work(tenant_id, actor) as uow:
            tenant = Tenant(id=tenant_id, slug=slug, name=name.strip(), region=region)
            uow.add(tenant)
            uow.flush()
            for hook in _created:
                hook(uow)
            audit.record(
                uow, "tenant.created", tenant, {"slug": slug, "name": tenant.name, "region": region}
            )
    except IntegrityError as exc:
        raise Conflict(f"a tenant with slug {slug!r} already exists") from exc
    return tenant


def require(db: Database, slug: str) -> TenantRef:
    ref = platform.tenant_by_slug(db, slug)
    if ref is None:
        raise NotFound(f"no tenant with slug {slug!r}")
    return ref


def set_mfa_policy(uow: UnitOfWork, *, require_for_admins: bool) -> Tenant:
    tenant = uow.get(Tenant, uow.tenant)
    if tenant.require_mfa_for_admins != require_for_admins:
        tenant.require_mfa_for_admins = require_for_admins
        audit.record(
            uow, "tenant.mfa_policy_changed", tenant, {"require_mfa_for_admins": require_for_admins}
        )
    return tenant


def list_tenants(db: Database) -> list[Tenant]:
    """Operator path: the whole registry (the owner role's registry_read policy)."""
    with db.operator_unit_of_work(None) as uow:
        return uow.scalars(select(Tenant).order_by(Tenant.slug))


def languages_of(uow: UnitOfWork) -> tuple[tuple[str, ...], str]:
    """The languages the tenant enables that Invigil speaks (never empty),
    and its default among them: the tenant's, else the first enabled (as a
    candidate's language falls back). A stored code Invigil no longer
    speaks is left out rather than failing."""
    tenant = uow.get(Tenant, uow.tenant)
    codes = tenant.languages if tenant is not None else [i18n.DEFAULT]
    found = (i18n.normalise(c) for c in codes)
    languages = tuple(dict.fromkeys(c for c in found if c)) or (i18n.DEFAULT,)
    default = i18n.normalise(tenant.default_language if tenant is not None else None)
    return languages, default if default in languages else languages[0]


def set_languages(uow: UnitOfWork, enabled: list[str], default: str | None) -> Tenant:
    """The languages the tenant's candidates may read, and the default one
    (None: the candidate's browser decides among them); audited when they change."""
    codes: list[str] = []
    for raw in enabled[:40]:
        code = i18n.check(raw, field="languages")
        if code not in codes:
            codes.append(code)
    if not codes:
        raise Invalid("enable at least one language", field="languages")
    chosen = i18n.check(default, field="default_language") if default else None
    if chosen is not None and chosen not in codes:
        raise Invalid(
            "the default language must be one of the enabled languages", field="default_language"
        )
    tenant = uow.get(Tenant, uow.tenant)
    before = {"languages": list(tenant.languages), "default_language": tenant.default_language}
    after = {"languages": codes, "default_language": chosen}
    if before != after:
        tenant.languages = codes
        tenant.default_language = chosen
        audit.record(uow, "tenant.languages_changed", tenant, {**after, "before": before})
    return tenant
