"""The demo's data-subject request: an access request by the first demo
candidate, received a few days ago and still open (idempotent)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Candidate
from invigil.retention import requests
from invigil.retention.models import PrivacyRequest


def seed_privacy_requests(db: Database, tenant_id: uuid.UUID) -> bool:
    with db.unit_of_work(tenant_id, Actor.operator("demo")) as uow:
        if uow.scalar(select(PrivacyRequest.id).limit(1)) is not None:
            return False
        candidate = uow.scalar(select(Candidate.id).order_by(Candidate.created_at, Candidate.id))
        if candidate is None:
            return False
        requests.receive(
            uow,
            candidate_id=candidate,
            kind="access",
            received_at=requests.today() - timedelta(days=3),
            channel="email",
            note="Asked for a copy of everything kept about them.",
        )
    return True
