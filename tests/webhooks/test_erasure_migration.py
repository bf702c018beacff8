"""Migration 0053 fills what erasure needs for the rows written before it, in
every tenant (RLS is forced on the owner too): the hash of each stored
body, the people each delivered event names (its ``candidate_id``
members, nested or not), and ``erased_at`` of the candidates erased
earlier."""

from __future__ import annotations

import hashlib
import importlib
import uuid

from sqlalchemy import Connection, text

from invigil.db.engine import Database
from invigil.delivery.models import Candidate
from invigil.settings import Settings
from invigil.webhooks import service
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for
from tests.webhooks.factories import EVENT, make_endpoint

MIGRATION = importlib.import_module("invigil.db.migrations.versions.0053_erasure_reaches_sent")


def test_the_backfill_indexes_old_deliveries_and_marks_old_erasures(
    database: Database, settings: Settings, owner_conn: Connection
) -> None:
    tenant = make_tenant(database, settings)
    make_endpoint(database, tenant.id, kit_for(settings).box)
    top, nested, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with database.unit_of_work(tenant.id) as uow:
        data = {"candidate_id": str(top), "entries": [{"candidate_id": str(nested)}, {"x": 1}]}
        service.emit(uow, EVENT, data)  # as before 0053: nobody named
        service.emit(uow, EVENT, {"candidate_id": "not-an-id"})
        uow.add(
            Candidate(
                tenant_id=tenant.id, id=erased, name="Erased candidate",
                email=f"erased-{erased}@erased.invalid",
            )
        )  # fmt: skip
    owner_conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
    owner_conn.execute(text("UPDATE webhook_deliveries SET body_sha256 = repeat('0', 64)"))
    owner_conn.execute(text("SELECT set_config('app.tenant_id', '', true)"))
    owner_conn.exec_driver_sql(MIGRATION.BACKFILL)
    owner_conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
    people = set(owner_conn.scalars(text("SELECT person_id FROM webhook_event_people")))
    assert people == {top, nested}
    rows = owner_conn.execute(text("SELECT body, body_sha256 FROM webhook_deliveries")).all()
    assert len(rows) == 2
    assert all(hashlib.sha256(bytes(body)).hexdigest() == digest for body, digest in rows)
    assert owner_conn.scalar(
        text("SELECT erased_at IS NOT NULL FROM candidates WHERE id = :c"), {"c": erased}
    )
