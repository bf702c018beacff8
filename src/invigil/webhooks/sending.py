"""Sending one delivery: claim, POST, settle — three steps, no transaction
held open while the receiver answers.

1. :func:`claim` (a short transaction): the delivery is locked and checked
   against the job's ``ticket``; a job whose ticket is stale (a duplicate, or
   one overtaken by a redelivery) does nothing. The attempt is counted and the
   ticket moved on before anything is sent.
2. :func:`post`: the address is checked again and pinned
   (:mod:`invigil.webhooks.addresses`), the body signed with the endpoint's
   secret at this moment, POSTed with a timeout; redirects are not followed.
   2xx is delivered, anything else (3xx included) a failure.
3. :func:`settle` (another short transaction): the attempt is written (status,
   at most :data:`EXCERPT` characters of the answer, error, duration) and the
   delivery is marked delivered, scheduled for its next try (a new job, with
   :data:`BACKOFF` and jitter) or, after :data:`MAX_ATTEMPTS`, failed.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from invigil import __version__
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.webhooks import addresses, service, signing
from invigil.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

# Seconds before the 2nd, 3rd... attempt: about 30 s, 2 min, 10 min, 1 h, 6 h.
BACKOFF = (30, 120, 600, 3600, 6 * 3600)
MAX_ATTEMPTS = len(BACKOFF) + 1
JITTER = 0.2  # each wait is stretched or shrunk by up to 20 %
EXCERPT = 500
READ_AT_MOST = 4096


def retry_delay(attempts_made: int, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt, or None when the delivery gives up."""
    if attempts_made >= MAX_ATTEMPTS:
        return None
    base = BACKOFF[attempts_made - 1]
    return base * (1 + (rng or random).uniform(-JITTER, JITTER))


@dataclass(frozen=True)
class Plan:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    number: int
    ticket: int
    manual: bool
    url: str
    event: str
    body: bytes
    secret: str


@dataclass(frozen=True)
class Outcome:
    status: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def claim(
    uow: UnitOfWork, box: SecretBox, delivery_id: uuid.UUID, ticket: int, *, manual: bool = False
) -> Plan | None:
    delivery = uow.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None or delivery.state != "pending" or delivery.ticket != ticket:
        return None
    endpoint = uow.get(WebhookEndpoint, delivery.endpoint_id, label="webhook endpoint")
    delivery.attempts += 1
    delivery.ticket += 1
    plan = Plan(
        delivery_id=delivery.id,
        endpoint_id=endpoint.id,
        number=delivery.attempts,
        ticket=delivery.ticket,
        manual=manual,
        url=endpoint.url,
        event=delivery.event,
        body=delivery.body,
        secret=service.open_secret(box, endpoint) if endpoint.active else "",
    )
    uow.flush()
    return plan


def _excerpt(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)
    return text[:EXCERPT]


def post(plan: Plan, settings: Settings, *, now: float | None = None) -> Outcome:
    """One POST of the plan's body; never raises for the receiver's faults."""
    started = time.monotonic()

    def done(status: int | None, excerpt: str = "", error: str = "") -> Outcome:
        elapsed = int((time.monotonic() - started) * 1000)
        return Outcome(status, excerpt, error[:500], elapsed)

    if not plan.secret:
        return done(None, error="the endpoint is switched off; nothing was sent")
    try:
        target = addresses.parse(plan.url, settings)
        address = addresses.checked(target, settings)
    except addresses.Refused as exc:
        return done(None, error=f"not sent: {exc}")
    except Invalid as exc:  # no longer allowed (the settings changed since it was saved)
        return done(None, error=f"not sent: {exc.detail}")
    timestamp = int(time.time() if now is None else now)
    headers = {
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": f"Invigil-Webhooks/{__version__}",
        signing.HEADER: signing.header(plan.secret, timestamp, plan.body),
        "Invigil-Event": plan.event,
        "Invigil-Delivery": str(plan.delivery_id),
        "Invigil-Attempt": str(plan.number),
    }
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        with (
            httpx.Client(
                timeout=settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
            ) as client,
            client.stream(
                "POST",
                target.pinned_url(address),
                content=plan.body,
                headers=headers,
                extensions=extensions,
            ) as response,
        ):
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if len(received) >= READ_AT_MOST:
                    break
            status = response.status_code
            error = ""
            if 300 <= status < 400:
                where = response.headers.get("location", "")[:200]
                error = f"redirect to {where or 'nowhere'} not followed"
            elif not 200 <= status < 300:
                error = f"the receiver answered {status}"
            return done(status, _excerpt(received[:READ_AT_MOST]), error)
    except httpx.TimeoutException:
        return done(None, error=f"no answer within {settings.webhook_timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return done(None, error=f"{type(exc).__name__}: {exc}")


def settle(
    uow: UnitOfWork, plan: Plan, outcome: Outcome, *, rng: random.Random | None = None
) -> WebhookDelivery | None:
    uow.add(
        WebhookAttempt(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            delivery_id=plan.delivery_id,
            number=plan.number,
            manual=plan.manual,
            url=plan.url[:2000],
            status_code=outcome.status,
            response_excerpt=outcome.excerpt,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
        )
    )
    delivery = uow.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == plan.delivery_id).with_for_update()
    )
    if delivery is None or delivery.ticket != plan.ticket or delivery.state != "pending":
        uow.flush()  # overtaken (a redelivery by hand): the attempt is kept, the state is not ours
        return delivery
    now = datetime.now(UTC)
    delivery.last_status = outcome.status
    delay = None if plan.manual or not plan.secret else retry_delay(delivery.attempts, rng)
    if outcome.delivered:
        delivery.state, delivery.finished_at, delivery.next_attempt_at = "delivered", now, None
    elif delay is None:
        delivery.state, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
    else:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        uow.defer(
            service.TASK,
            queue=service.QUEUE,
            at=delivery.next_attempt_at,
            tenant_id=str(uow.tenant),
            delivery_id=str(delivery.id),
            ticket=delivery.ticket,
        )
    uow.flush()
    return delivery
