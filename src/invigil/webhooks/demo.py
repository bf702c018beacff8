"""Demo data for webhooks: one endpoint per demo tenant, at an address that
never resolves (``.invalid``), with a test event sent to it, so the delivery
log shows attempts that fail and are retried. Idempotent."""

from __future__ import annotations

import uuid

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.security.secretbox import SecretBox
from invigil.settings import get_settings
from invigil.webhooks import events, service

URL = "https://ats.example.invalid/invigil/webhooks"


def seed_webhooks(db: Database, tenant_id: uuid.UUID, box: SecretBox) -> bool:
    """True when something was created."""
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if service.endpoints(uow):
            return False
        endpoint, _ = service.create_endpoint(
            uow,
            get_settings(),
            box,
            url=URL,
            description="Applicant tracking system (demo)",
            event_names=[e.name for e in events.registered()],
        )
        service.ping(uow, endpoint.id)
    return True
