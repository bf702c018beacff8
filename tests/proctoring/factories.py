"""Proctoring rows for the generated matrices."""

from __future__ import annotations

import uuid

from invigil.db.engine import Database
from invigil.proctoring.models import Snapshot
from invigil.tenants.models import Tenant


def snapshot_factory(db: Database, tenant: Tenant) -> str:
    """A snapshot row of a running attempt of ``tenant`` (for the
    cross-tenant matrices): its image a real stored object."""
    from datetime import UTC, datetime

    from tests.delivery.factories import attempt_factory
    from tests.evidence.factories import object_factory

    attempt_id = uuid.UUID(attempt_factory(db, tenant))
    object_id = uuid.UUID(object_factory(db, tenant))
    with db.unit_of_work(tenant.id) as uow:
        snapshot = Snapshot(
            tenant_id=tenant.id,
            attempt_id=attempt_id,
            object_id=object_id,
            taken_at=datetime.now(UTC),
            reason="periodic",
        )
        uow.add(snapshot)
        uow.flush()
        return str(snapshot.id)
