"""Sending against a real local receiver: signed, retried with backoff
through the job queue, logged per attempt, redirects not followed, private
addresses refused unless allowed. The job function runs directly (one
attempt per call); the next attempt's job is read back from the queue."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from invigil.context import Services
from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.webhooks import jobs, sending, service, signing
from invigil.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.conftest import make_tenant
from tests.webhooks.factories import EVENT, LOCAL, make_endpoint
from tests.webhooks.receiver import receiver


@pytest.fixture
def tenant(database: Database, settings: Settings) -> Tenant:
    return make_tenant(database, settings)


@pytest.fixture
def local(settings: Settings) -> Services:
    return Services.build(settings.model_copy(update=LOCAL))


@pytest.fixture
def strict(settings: Settings) -> Services:
    """Plain http still allowed, private addresses not (the default)."""
    return Services.build(settings.model_copy(update={"webhook_allow_http": True}))


def queued(database: Database, delivery_id: uuid.UUID) -> list[dict]:
    """The send jobs waiting for a delivery: args and when they may run."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, args, scheduled_at FROM procrastinate_jobs"
                " WHERE task_name = :t AND status = 'todo' AND args->>'delivery_id' = :d"
                " ORDER BY id"
            ),
            {"t": service.TASK, "d": str(delivery_id)},
        )
        return [{**r.args, "at": r.scheduled_at, "job": r.id} for r in rows]


def taken(database: Database, job_id: int) -> None:
    """What the worker does with a job it ran: it is no longer waiting."""
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM procrastinate_jobs WHERE id = :id"), {"id": job_id})


def emitted(
    database: Database, tenant: Tenant, services: Services, url: str
) -> tuple[WebhookDelivery, str]:
    endpoint, secret = make_endpoint(
        database, tenant.id, services.box, url=url, settings=services.settings
    )
    with database.unit_of_work(tenant.id) as uow:
        service.emit(uow, EVENT, {"candidate": "c-1", "score": 91})
    with database.unit_of_work(tenant.id) as uow:
        delivery = uow.scalar(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        )
        assert delivery is not None
        return delivery, secret


def run_next(
    database: Database, services: Services, tenant: Tenant, delivery_id: uuid.UUID
) -> dict:
    (job,) = queued(database, delivery_id)
    taken(database, job["job"])
    jobs.run(
        database,
        services,
        job["tenant_id"],
        job["delivery_id"],
        job["ticket"],
        job.get("manual", False),
    )
    return job


def attempts(database: Database, tenant: Tenant, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    with database.unit_of_work(tenant.id) as uow:
        return list(reversed(service.attempts_of(uow, delivery_id)))


def state(database: Database, tenant: Tenant, delivery_id: uuid.UUID) -> WebhookDelivery:
    with database.unit_of_work(tenant.id) as uow:
        return service.get_delivery(uow, delivery_id)


def test_fails_twice_then_delivers_with_backoff(
    database: Database, tenant: Tenant, local: Services
) -> None:
    with receiver((500, {}, b"busy"), (503, {}, b"x" * 10_000), (200, {}, b"thanks")) as hook:
        delivery, secret = emitted(database, tenant, local, hook.url)
        run_next(database, local, tenant, delivery.id)
        (second,) = queued(database, delivery.id)
        wait = (second["at"] - datetime.now(UTC)).total_seconds()
        assert 30 * 0.8 - 2 <= wait <= 30 * 1.2  # the first backoff, with jitter
        run_next(database, local, tenant, delivery.id)
        (third,) = queued(database, delivery.id)
        wait = (third["at"] - datetime.now(UTC)).total_seconds()
        assert 120 * 0.8 - 2 <= wait <= 120 * 1.2
        run_next(database, local, tenant, delivery.id)
        assert queued(database, delivery.id) == []
    done = state(database, tenant, delivery.id)
    assert (done.state, done.attempts, done.last_status) == ("delivered", 3, 200)
    log = attempts(database, tenant, delivery.id)
    assert [a.status_code for a in log] == [500, 503, 200]
    assert log[0].response_excerpt == "busy" and log[0].error == "the receiver answered 500"
    assert len(log[1].response_excerpt) == sending.EXCERPT  # bounded
    assert log[2].response_excerpt == "thanks" and log[2].error == ""
    # Every attempt carried the same frozen body and ids, freshly signed.
    assert len(hook.received) == 3
    for got in hook.received:
        assert got.body == delivery.body
        assert got.headers["Invigil-Event"] == EVENT
        assert got.headers["Invigil-Delivery"] == str(delivery.id)
        now = int(datetime.now(UTC).timestamp())
        assert signing.verify(secret, got.headers["Invigil-Signature"], got.body, now)
    assert [got.headers["Invigil-Attempt"] for got in hook.received] == ["1", "2", "3"]


def test_gives_up_after_the_last_attempt(
    database: Database, tenant: Tenant, local: Services
) -> None:
    with receiver((500, {}, b"down")) as hook:
        delivery, _ = emitted(database, tenant, local, hook.url)
        with database.unit_of_work(tenant.id) as uow:  # as if five attempts had failed
            service.get_delivery(uow, delivery.id).attempts = sending.MAX_ATTEMPTS - 1
        run_next(database, local, tenant, delivery.id)
    failed = state(database, tenant, delivery.id)
    assert (failed.state, failed.attempts) == ("failed", sending.MAX_ATTEMPTS)
    assert queued(database, delivery.id) == []


def test_a_stale_or_repeated_job_sends_nothing(
    database: Database, tenant: Tenant, local: Services
) -> None:
    with receiver((500, {}, b"")) as hook:
        delivery, _ = emitted(database, tenant, local, hook.url)
        job = run_next(database, local, tenant, delivery.id)
        jobs.run(database, local, job["tenant_id"], job["delivery_id"], job["ticket"])  # again
        assert len(hook.received) == 1


def test_a_redirect_is_not_followed(database: Database, tenant: Tenant, local: Services) -> None:
    with receiver((302, {"Location": "/elsewhere"}, b"")) as hook:
        delivery, _ = emitted(database, tenant, local, hook.url)
        run_next(database, local, tenant, delivery.id)
        assert [r.path for r in hook.received] == ["/hooks/invigil"]
    (attempt,) = attempts(database, tenant, delivery.id)
    assert attempt.status_code == 302
    assert attempt.error == "redirect to /elsewhere not followed"
    assert state(database, tenant, delivery.id).state == "pending"  # to be retried


def test_a_private_address_is_refused_at_send_time(
    database: Database, tenant: Tenant, local: Services, strict: Services
) -> None:
    """Saved while allowed, sent when no longer allowed (as after a DNS change)."""
    with receiver((200, {}, b"")) as hook:
        delivery, _ = emitted(database, tenant, local, hook.url)
        run_next(database, strict, tenant, delivery.id)
        assert hook.received == []
    (attempt,) = attempts(database, tenant, delivery.id)
    assert attempt.status_code is None
    assert "127.0.0.1" in attempt.error and "non-public" in attempt.error


def test_a_switched_off_endpoint_is_not_sent_to(
    database: Database, tenant: Tenant, local: Services
) -> None:
    with receiver((200, {}, b"")) as hook:
        delivery, _ = emitted(database, tenant, local, hook.url)
        with database.unit_of_work(tenant.id) as uow:
            service.change_endpoint(uow, local.settings, delivery.endpoint_id, active=False)
        run_next(database, local, tenant, delivery.id)
        assert hook.received == []
    assert state(database, tenant, delivery.id).state == "failed"


def test_redelivery_by_hand_sends_the_same_body_once(
    database: Database, tenant: Tenant, local: Services
) -> None:
    with receiver((200, {}, b"ok"), (500, {}, b"no")) as hook:
        delivery, _ = emitted(database, tenant, local, hook.url)
        run_next(database, local, tenant, delivery.id)
        with database.unit_of_work(tenant.id) as uow:
            service.redeliver(uow, delivery.id)
        job = run_next(database, local, tenant, delivery.id)
        assert job["manual"] is True
        assert [r.body for r in hook.received] == [delivery.body, delivery.body]
        assert hook.received[1].headers["Invigil-Delivery"] == str(delivery.id)
    after = state(database, tenant, delivery.id)
    assert (after.state, after.attempts) == ("failed", 2)  # one attempt, no retries
    assert queued(database, delivery.id) == []
    assert [a.manual for a in attempts(database, tenant, delivery.id)] == [False, True]


def test_the_backoff_grows_and_stops() -> None:
    import random

    rng = random.Random(7)
    delays = [sending.retry_delay(n, rng) for n in range(1, sending.MAX_ATTEMPTS + 1)]
    assert delays[-1] is None
    for got, base in zip(delays[:-1], sending.BACKOFF, strict=True):
        assert got is not None and base * 0.8 <= got <= base * 1.2
