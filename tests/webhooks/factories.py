"""Webhook endpoints and deliveries for tests (and the FACTORIES of the
generated authorization tests). Registers the test-only event ``test.happened``."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from invigil.db.engine import Database
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.webhooks import events, service
from invigil.webhooks.models import WebhookEndpoint

EVENT = "test.happened"
OTHER = "test.other_thing"
events.register(EVENT, "Something happened in a test.")
events.register(OTHER, "Something else happened in a test.")

# What the local receivers of these tests need: plain http on loopback.
LOCAL = {"webhook_allow_private": True, "webhook_allow_http": True}


def make_endpoint(
    db: Database,
    tenant_id: uuid.UUID,
    box: SecretBox,
    *,
    url: str = "https://receiver.example.invalid/hook",
    names: list[str] | None = None,
    active: bool = True,
    settings: Settings | None = None,
) -> tuple[WebhookEndpoint, str]:
    with db.unit_of_work(tenant_id) as uow:
        return service.create_endpoint(
            uow,
            settings or Settings(),
            box,
            url=url,
            description="test receiver",
            event_names=[EVENT] if names is None else names,
            active=active,
        )


def _box() -> SecretBox:
    return SecretBox(Path(tempfile.mkdtemp(prefix="invigil-wh-")) / "secrets.key")


def endpoint_factory(db: Database, tenant: Tenant) -> str:
    return str(make_endpoint(db, tenant.id, _box())[0].id)


def delivery_factory(db: Database, tenant: Tenant) -> str:
    endpoint, _ = make_endpoint(db, tenant.id, _box())
    with db.unit_of_work(tenant.id) as uow:
        return str(service.ping(uow, endpoint.id).id)
