"""The webhook API: admins manage endpoints (secret answered once), read the
delivery log newest first with filters and cursors, and redeliver."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.tenants.models import Tenant
from invigil.webhooks import service
from invigil.webhooks.models import WebhookDelivery
from tests.conftest import BoundDatabase, bearer, make_user
from tests.webhooks.factories import EVENT, OTHER

URL = "https://receiver.example.invalid/hook"


def admin(app: FastAPI, db: BoundDatabase, tenant: Tenant) -> dict[str, str]:
    return bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))


def test_an_admin_manages_an_endpoint(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = admin(app, db, tenant_a)
    assert EVENT in {e["name"] for e in client.get("/api/v1/webhooks/events", headers=h).json()}
    made = client.post(
        "/api/v1/webhooks/endpoints",
        json={"url": URL, "description": "ATS", "events": [EVENT]},
        headers=h,
    )
    assert made.status_code == 201, made.text
    endpoint = made.json()
    assert endpoint["secret"].startswith("whsec_")
    shown = client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}", headers=h).json()
    assert "secret" not in shown and shown["events"] == [EVENT] and shown["active"] is True
    listed = client.get("/api/v1/webhooks/endpoints", headers=h).json()
    assert endpoint["id"] in {e["id"] for e in listed["items"]}
    assert endpoint["secret"] not in str(listed)
    changed = client.patch(
        f"/api/v1/webhooks/endpoints/{endpoint['id']}",
        json={"events": [EVENT, OTHER], "active": False},
        headers=h,
    ).json()
    assert changed["events"] == sorted([EVENT, OTHER]) and changed["active"] is False
    rotated = client.post(f"/api/v1/webhooks/endpoints/{endpoint['id']}/rotate", headers=h).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    gone = client.delete(f"/api/v1/webhooks/endpoints/{endpoint['id']}", headers=h)
    assert gone.status_code == 204
    assert client.get(f"/api/v1/webhooks/endpoints/{endpoint['id']}", headers=h).status_code == 404
    with db.unit_of_work(tenant_a.id) as uow:
        actions = uow.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == endpoint["id"])
            .order_by(AuditEvent.seq)
        )
    assert actions == [
        "webhook.endpoint_created",
        "webhook.endpoint_changed",
        "webhook.secret_rotated",
        "webhook.endpoint_deleted",
    ]


def test_bad_bodies_name_the_field(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = admin(app, db, tenant_a)
    for body, field in (
        ({"url": "https://127.0.0.1/x", "events": [EVENT]}, "url"),
        ({"url": "http://hooks.example.com/x", "events": [EVENT]}, "url"),
        ({"url": URL, "events": ["test.not_registered"]}, "events"),
        ({"url": URL, "events": [EVENT], "description": "x" * 301}, "description"),
    ):
        r = client.post("/api/v1/webhooks/endpoints", json=body, headers=h)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
        assert field in r.text, r.text


def test_the_log_is_newest_first_filtered_and_paged(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = admin(app, db, tenant_a)
    ids = []
    for _ in range(2):
        made = client.post(
            "/api/v1/webhooks/endpoints", json={"url": URL, "events": [EVENT]}, headers=h
        ).json()
        ids.append(made["id"])
    with db.unit_of_work(tenant_a.id) as uow:
        for n in range(3):
            service.emit(uow, EVENT, {"n": n})
    first = client.get(f"/api/v1/webhooks/deliveries?endpoint_id={ids[0]}&limit=2", headers=h)
    page = first.json()
    assert len(page["items"]) == 2 and page["next"]
    rest = client.get(
        f"/api/v1/webhooks/deliveries?endpoint_id={ids[0]}&limit=2&cursor={page['next']}",
        headers=h,
    ).json()
    items = page["items"] + rest["items"]
    assert len(items) == 3 and rest["next"] is None
    assert {i["endpoint_id"] for i in items} == {ids[0]}
    stamps = [(i["created_at"], i["id"]) for i in items]
    assert stamps == sorted(stamps, reverse=True)
    assert (
        client.get("/api/v1/webhooks/deliveries?state=delivered", headers=h).json()["items"] == []
    )
    assert client.get("/api/v1/webhooks/deliveries?state=nope", headers=h).status_code == 422
    one = client.get(f"/api/v1/webhooks/deliveries/{items[0]['id']}", headers=h).json()
    assert one["attempt_log"] == [] and '"type":"test.happened"' in one["body"]


def test_redelivery_waits_for_the_delivery_to_finish(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = admin(app, db, tenant_a)
    made = client.post(
        "/api/v1/webhooks/endpoints", json={"url": URL, "events": [EVENT]}, headers=h
    ).json()
    ping = client.post(f"/api/v1/webhooks/endpoints/{made['id']}/ping", headers=h)
    assert ping.status_code == 202 and ping.json()["event"] == "webhook.ping"
    delivery_id = ping.json()["id"]
    again = client.post(f"/api/v1/webhooks/deliveries/{delivery_id}/redeliver", headers=h)
    assert again.status_code == 409
    with db.unit_of_work(tenant_a.id) as uow:
        row = uow.scalar(select(WebhookDelivery).where(WebhookDelivery.id == ping.json()["id"]))
        assert row is not None
        row.state = "failed"
    again = client.post(f"/api/v1/webhooks/deliveries/{delivery_id}/redeliver", headers=h)
    assert again.status_code == 202 and again.json()["state"] == "pending"
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.scalar(
            select(AuditEvent.id).where(
                AuditEvent.action == "webhook.redelivered", AuditEvent.subject_id == delivery_id
            )
        )


def test_only_admins_manage_webhooks(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    grader = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    assert client.get("/api/v1/webhooks/endpoints", headers=grader).status_code == 403
