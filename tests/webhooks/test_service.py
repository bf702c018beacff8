"""emit: one delivery per active subscribed endpoint, written and queued in
the caller's transaction (nothing when it rolls back), its body frozen."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select, text

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.webhooks import events, service
from invigil.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for
from tests.webhooks.factories import EVENT, OTHER, make_endpoint


def deliveries(database: Database, tenant_id: uuid.UUID) -> list[WebhookDelivery]:
    with database.unit_of_work(tenant_id) as uow:
        return uow.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))


def jobs_for(database: Database, ids: list[uuid.UUID]) -> int:
    with database.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE task_name = :t"
                    " AND args->>'delivery_id' = ANY(:ids)"
                ),
                {"t": service.TASK, "ids": [str(i) for i in ids]},
            ).scalar_one()
        )


def test_one_delivery_per_subscribed_active_endpoint_only_on_commit(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    box = kit_for(settings).box
    first, _ = make_endpoint(database, tenant.id, box, names=[EVENT, OTHER])
    second, _ = make_endpoint(database, tenant.id, box, names=[EVENT])
    make_endpoint(database, tenant.id, box, names=[OTHER])  # not subscribed
    make_endpoint(database, tenant.id, box, names=[EVENT], active=False)  # switched off
    with pytest.raises(RuntimeError), database.unit_of_work(tenant.id) as uow:
        service.emit(uow, EVENT, {"n": 1})
        raise RuntimeError("the change failed")
    assert deliveries(database, tenant.id) == []
    with database.unit_of_work(tenant.id) as uow:
        service.emit(uow, EVENT, {"n": 2})
    rows = deliveries(database, tenant.id)
    assert sorted(r.endpoint_id for r in rows) == sorted([first.id, second.id])
    assert len({r.event_id for r in rows}) == 1 and {r.state for r in rows} == {"pending"}
    assert rows[0].body == rows[1].body
    assert jobs_for(database, [r.id for r in rows]) == 2


def test_the_body_is_frozen_when_emitted(
    db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    endpoint, _ = make_endpoint(db, tenant_a.id, kit_for(settings).box)
    with db.unit_of_work(tenant_a.id) as uow:
        service.emit(uow, EVENT, {"candidate": uuid.UUID(int=5), "name": "Zoë"})
        row = uow.scalar(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id))
        assert row is not None
        frozen = row.body
    body = json.loads(frozen)
    assert set(body) == {"id", "type", "created", "tenant", "data"}
    assert body["type"] == EVENT and body["tenant"] == str(tenant_a.id)
    assert body["data"] == {"candidate": str(uuid.UUID(int=5)), "name": "Zoë"}
    assert body["id"] == str(row.event_id) and body["created"].endswith("Z")
    assert (
        frozen
        == json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    )
    with db.unit_of_work(tenant_a.id) as uow:  # later changes do not reach a sent event
        service.change_endpoint(uow, settings, endpoint.id, event_names=[OTHER])
        assert service.get_delivery(uow, row.id).body == frozen


def test_an_unregistered_event_is_a_programming_error(db: BoundDatabase, tenant_a: Tenant) -> None:
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(ValueError, match="not registered"):
        service.emit(uow, "test.never_registered", {})


def test_the_registry_refuses_bad_names_and_conflicting_words() -> None:
    with pytest.raises(ValueError):
        events.register("NoDots", "x")
    with pytest.raises(ValueError):
        events.register(events.PING, "mine now")
    with pytest.raises(ValueError):
        events.register(EVENT, "Different words.")
    events.register(EVENT, "Something happened in a test.")  # the same again: fine
    assert EVENT in {e.name for e in events.registered()}


def test_endpoint_changes_are_audited_and_the_secret_sealed(
    db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    box = kit_for(settings).box
    endpoint, secret = make_endpoint(db, tenant_a.id, box)
    assert secret.startswith("whsec_") and secret.encode() not in endpoint.secret_sealed
    with db.unit_of_work(tenant_a.id) as uow:
        assert service.open_secret(box, uow.get(WebhookEndpoint, endpoint.id)) == secret
        _, rotated = service.rotate_secret(uow, box, endpoint.id)
        assert rotated != secret
        assert service.open_secret(box, uow.get(WebhookEndpoint, endpoint.id)) == rotated
        service.change_endpoint(uow, settings, endpoint.id, description="ATS")
        service.delete_endpoint(uow, endpoint.id)
        actions = uow.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == str(endpoint.id))
            .order_by(AuditEvent.seq)
        )
    assert actions == [
        "webhook.endpoint_created",
        "webhook.secret_rotated",
        "webhook.endpoint_changed",
        "webhook.endpoint_deleted",
    ]
    assert all(secret not in a and rotated not in a for a in actions)


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:192.168.0.1]/x",
        "https://100.64.0.1/x",
        "https://localhost/x",
        "https://user:pw@hooks.example.com/x",
        "ftp://hooks.example.com/x",
    ],
)
def test_urls_that_could_reach_the_servers_network_are_refused(
    db: BoundDatabase, tenant_a: Tenant, settings: Settings, url: str
) -> None:
    with pytest.raises(Invalid) as refused:
        make_endpoint(db, tenant_a.id, kit_for(settings).box, url=url, settings=settings)
    assert refused.value.extensions["field"] == "url"


def test_the_setting_allows_a_local_receiver(
    db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    local = settings.model_copy(update={"webhook_allow_private": True, "webhook_allow_http": True})
    endpoint, _ = make_endpoint(
        db, tenant_a.id, kit_for(settings).box, url="http://127.0.0.1:9/x", settings=local
    )
    assert endpoint.url == "http://127.0.0.1:9/x"
