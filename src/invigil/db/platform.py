"""The one reviewed path for reads that must cross tenants.

Each function here is backed by a ``SECURITY DEFINER`` SQL function owned by
the owner role, created in a migration, that returns only routing data. No
service reads across tenants any other way; there is no bypass flag.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text

from invigil.db.engine import Database
from invigil.db.uow import UnitOfWork


@dataclass(frozen=True)
class TenantRef:
    id: uuid.UUID
    slug: str
    name: str
    region: str


def tenant_by_slug(db: Database, slug: str) -> TenantRef | None:
    """Resolve a tenant's slug before any tenant is bound (sign-in, CLI)."""
    with db.platform_connection() as conn:
        row = conn.execute(
            text("SELECT id, slug, name, region FROM platform_tenant_by_slug(:slug)"),
            {"slug": slug},
        ).one_or_none()
    return TenantRef(*row) if row else None


def bound_tenant(uow: UnitOfWork) -> TenantRef:
    """The tenant a unit of work is bound to: its own registry row, read
    under RLS (no crossing), for the layers that must not import the tenants
    domain (audit, evidence, web)."""
    row = uow.session.execute(
        text("SELECT id, slug, name, region FROM tenants WHERE id = :t"), {"t": uow.tenant}
    ).one()
    return TenantRef(*row)


def all_tenants(db: Database) -> list[TenantRef]:
    """Operator path: the whole registry by slug (the owner role's
    registry_read policy), for operator tooling below the domains (key rotation)."""
    with db.operator_unit_of_work(None) as uow:
        rows = uow.session.execute(text("SELECT id, slug, name, region FROM tenants ORDER BY slug"))
        return [TenantRef(*row) for row in rows]


def tenant_ids(db: Database) -> list[uuid.UUID]:
    """Every tenant's id, for jobs that visit each tenant in turn (sealing)."""
    with db.platform_connection() as conn:
        return list(conn.execute(text("SELECT * FROM platform_tenant_ids()")).scalars())


def certificate_tenant(db: Database, certificate_id: uuid.UUID) -> uuid.UUID | None:
    """The public verification page: which tenant issued a certificate, by
    its id alone (``platform_certificate_tenant``: the tenant id, nothing else)."""
    with db.platform_connection() as conn:
        found = conn.execute(
            text("SELECT platform_certificate_tenant(:id)"), {"id": certificate_id}
        ).scalar()
    return found if found is None or isinstance(found, uuid.UUID) else uuid.UUID(str(found))
