"""The applicant tracking system's view: a run and a stage move reach an
endpoint subscribed to ``shortlist.completed`` and ``stage.changed`` as
signed deliveries through the webhook outbox, with exactly the payloads the
shortlists domain announces; nothing goes out for a change that rolls back,
and an endpoint subscribed to neither gets nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from invigil.context import Services
from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.shortlists import service, stages
from invigil.tenants.models import Tenant
from invigil.webhooks import events, signing
from invigil.webhooks.models import WebhookDelivery
from tests.conftest import make_tenant
from tests.shortlists.factories import exam, rule_set, sit
from tests.webhooks.factories import EVENT, LOCAL, make_endpoint
from tests.webhooks.receiver import receiver
from tests.webhooks.test_sending import run_next


@pytest.fixture
def tenant(database: Database, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@pytest.fixture
def local(settings: Settings) -> Services:
    return Services.build(settings.model_copy(update=LOCAL))


def deliveries(database: Database, tenant: Tenant) -> list[WebhookDelivery]:
    with database.unit_of_work(tenant.id) as uow:
        return uow.scalars(select(WebhookDelivery).order_by(WebhookDelivery.created_at))


def test_the_shortlist_events_are_registered_for_webhooks() -> None:
    names = {e.name for e in events.registered()}
    assert {"shortlist.completed", "stage.changed"} <= names


def test_a_run_and_a_stage_move_reach_the_subscribed_receiver_signed(
    database: Database, tenant: Tenant, local: Services
) -> None:
    t = tenant.id
    e = exam(database, t)
    kept = sit(database, t, e, "80.00")
    sit(database, t, e, "30.00")
    rules = rule_set(database, t, {"min_percent": "50"})
    with receiver((200, {}, b"ok")) as hook:
        _, secret = make_endpoint(
            database,
            t,
            local.box,
            url=hook.url,
            names=["shortlist.completed", "stage.changed"],
            settings=local.settings,
        )
        make_endpoint(database, t, local.box, url=hook.url, names=[EVENT], settings=local.settings)
        with database.unit_of_work(t) as uow:
            run = service.create_run(uow, rules, exam_ids=[e])
        with pytest.raises(RuntimeError), database.unit_of_work(t) as uow:
            stages.move(uow, run.id, kept, "interview", "rolled back")
            raise RuntimeError("the move's transaction fails")
        with database.unit_of_work(t) as uow:
            stages.move(uow, run.id, kept, "interview", "strong essay")
        sent = deliveries(database, tenant)
        assert [d.event for d in sent] == ["shortlist.completed", "stage.changed"]
        for delivery in sent:
            run_next(database, local, tenant, delivery.id)
        assert len(hook.received) == 2
        now = int(datetime.now(UTC).timestamp())
        bodies = []
        for got, delivery in zip(hook.received, sent, strict=True):
            assert got.headers["Invigil-Event"] == delivery.event
            assert signing.verify(secret, got.headers["Invigil-Signature"], got.body, now)
            bodies.append(json.loads(got.body))
    completed, changed = (b["data"] for b in bodies)
    assert completed["run_id"] == str(run.id)
    assert (completed["considered"], completed["shortlisted"], completed["excluded"]) == (2, 1, 1)
    assert completed["entries"][0]["attempt_id"] == str(kept)
    assert changed["run_id"] == str(run.id) and changed["attempt_id"] == str(kept)
    assert changed["stage"] == "interview"
    assert "strong essay" not in json.dumps(bodies)  # a stage note never leaves Invigil
