"""The webhook pages: create an endpoint and see its secret once, edit it,
read the delivery log and an attempt's details, redeliver."""

from __future__ import annotations

import re

from fastapi import FastAPI
from sqlalchemy import select

from invigil.tenants.models import Tenant
from invigil.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.conftest import BoundDatabase
from tests.test_pages_matrix import web_client
from tests.webhooks.factories import EVENT

URL = "https://receiver.example.invalid/hook"


def test_an_admin_creates_an_endpoint_and_reads_its_log(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, ["tenant_admin"])
    form = client.get("/admin/webhooks/endpoints/new")
    assert form.status_code == 200 and EVENT in form.text
    made = client.post(
        "/admin/webhooks/endpoints/new",
        data={"csrf": csrf, "url": URL, "description": "ATS", "events": [EVENT], "active": "on"},
    )
    assert made.status_code == 200
    secret = re.search(r"whsec_[A-Za-z0-9_-]{43}", made.text)
    assert secret is not None
    with db.unit_of_work(tenant_a.id) as uow:
        endpoint = uow.scalar(select(WebhookEndpoint).where(WebhookEndpoint.description == "ATS"))
        assert endpoint is not None and endpoint.events == [EVENT]
    page = client.get(f"/admin/webhooks/endpoints/{endpoint.id}")
    assert page.status_code == 200 and secret.group(0) not in page.text
    assert URL in client.get("/admin/webhooks").text

    saved = client.post(
        f"/admin/webhooks/endpoints/{endpoint.id}",
        data={"csrf": csrf, "url": URL, "description": "ATS 2", "events": [EVENT]},
    )
    assert saved.status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        row = uow.get(WebhookEndpoint, endpoint.id)
        assert (row.description, row.active) == ("ATS 2", False)

    refused = client.post(
        f"/admin/webhooks/endpoints/{endpoint.id}",
        data={"csrf": csrf, "url": "https://10.0.0.7/x", "events": [EVENT], "active": "on"},
    )
    assert refused.status_code == 422 and 'aria-invalid="true"' in refused.text

    client.post(
        f"/admin/webhooks/endpoints/{endpoint.id}",
        data={"csrf": csrf, "url": URL, "events": [EVENT], "active": "on"},
    )
    pinged = client.post(f"/admin/webhooks/endpoints/{endpoint.id}/ping", data={"csrf": csrf})
    assert pinged.status_code == 303
    delivery_path = pinged.headers["location"]
    with db.unit_of_work(tenant_a.id) as uow:
        delivery = uow.scalar(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        )
        assert delivery is not None
        delivery.state, delivery.attempts = "failed", 1
        uow.add(
            WebhookAttempt(
                tenant_id=tenant_a.id,
                delivery_id=delivery.id,
                number=1,
                manual=False,
                url=URL,
                status_code=502,
                response_excerpt="bad gateway from the receiver",
                error="the receiver answered 502",
                duration_ms=41,
            )
        )
    log = client.get(f"/admin/webhooks/deliveries?endpoint={endpoint.id}&state=failed")
    assert log.status_code == 200 and f"/admin/webhooks/deliveries/{delivery.id}" in log.text
    assert (
        client.get("/admin/webhooks/deliveries?state=delivered").text.count(
            "/admin/webhooks/deliveries/"
        )
        == 0
    )
    assert client.get("/admin/webhooks/deliveries?endpoint=nope").status_code == 400
    detail = client.get(delivery_path)
    assert "bad gateway from the receiver" in detail.text and "502" in detail.text
    assert "Redeliver" in detail.text
    again = client.post(f"{delivery_path}/redeliver", data={"csrf": csrf})
    assert again.status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.get(WebhookDelivery, delivery.id).state == "pending"

    rotated = client.post(f"/admin/webhooks/endpoints/{endpoint.id}/rotate", data={"csrf": csrf})
    fresh = re.search(r"whsec_[A-Za-z0-9_-]{43}", rotated.text)
    assert fresh is not None and fresh.group(0) != secret.group(0)
    deleted = client.post(f"/admin/webhooks/endpoints/{endpoint.id}/delete", data={"csrf": csrf})
    assert deleted.status_code == 303
    with db.unit_of_work(tenant_a.id) as uow:
        assert uow.session.get(WebhookDelivery, (tenant_a.id, delivery.id)) is None


def test_the_pages_speak_german(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> None:
    from invigil.identity.models import User

    client, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    with db.unit_of_work(tenant_a.id) as uow:
        for user in uow.scalars(select(User)):
            user.language = "de"
    page = client.get("/admin/webhooks/endpoints/new")
    assert "Neuer Webhook-Endpunkt" in page.text
