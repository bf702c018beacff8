"""Erasing a person from what webhooks sent about them (ADR 0064).

A delivery's body is frozen when the event happens and kept for the
delivery log and redeliveries. When the person an event is about is
erased, every stored body that names them (found through
``webhook_event_people``, written by :func:`invigil.webhooks.emit`) is
rewritten: each JSON object inside ``data`` that holds the person's id as a
value (``candidate_id``, or a list of ids) becomes ``{"erased": true}``,
and if any of the person's words (name, e-mail, reference) is still found
anywhere in ``data``, the whole of ``data`` becomes ``{"erased": true}``.
The envelope (event id, type, time, tenant) stays, and so do the delivery
row, its state, its attempts and ``body_sha256``, the hash of the bytes
first frozen: the history still says what was sent and when, not what it
said. The receivers' answers kept for those deliveries are blanked (a
receiver may echo what it got).

A delivery still waiting for a retry is sent with the rewritten body; if
nothing but the erasure mark is left (an event about the erased person
alone), it is cancelled instead: marked failed with an attempt that says
why, and never sent again (a redelivery by hand is refused too). An
attempt already under way when the erasure commits cannot be called back.

Webhooks know no domain: which people an event is about is said by the
domain that emits it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from invigil.db.uow import UnitOfWork
from invigil.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventPerson,
)

ERASED: dict[str, Any] = {"erased": True}
CANCELLED = "not sent: the person this event was about was erased"


@dataclass(frozen=True)
class Erased:
    """What one person's erasure changed in the webhook tables."""

    deliveries: int = 0
    attempts: int = 0
    cancelled: int = 0


def _names(value: Any, person: str) -> bool:
    return value == person or (isinstance(value, list) and person in value)


def _redact(node: Any, person: str) -> Any:
    if isinstance(node, dict):
        if any(_names(v, person) for v in node.values()):
            return dict(ERASED)
        return {k: _redact(v, person) for k, v in node.items()}
    if isinstance(node, list):
        return [_redact(v, person) for v in node]
    return node


def _encode(body: dict[str, Any]) -> bytes:
    # As service.envelope writes bodies: compact, keys sorted, UTF-8.
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def redacted(body: bytes, person: uuid.UUID, words: Sequence[str]) -> bytes:
    """``body`` without the person (see the module docstring); the same
    bytes when it does not name them."""
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict) or "data" not in document:
        # Not an envelope Invigil wrote: nothing in it can be kept safely.
        return _encode({"data": dict(ERASED)})
    data = _redact(document["data"], str(person))
    text = json.dumps(data, ensure_ascii=False).casefold()
    if any(w.strip() and w.strip().casefold() in text for w in words):
        data = dict(ERASED)
    if data == document["data"]:
        return body
    return _encode({**document, "data": data})


def nothing_left(body: bytes) -> bool:
    """Whether an erased body has nothing but the erasure mark in ``data``."""
    try:
        document = json.loads(body)
    except ValueError:
        return True
    return not isinstance(document, dict) or document.get("data") == ERASED


def erase_person(uow: UnitOfWork, person: uuid.UUID, words: Sequence[str]) -> Erased:
    """Rewrite every stored delivery body about ``person`` (``words``: their
    name, e-mail and reference as they were), blank the answers kept for
    those deliveries, and cancel those still waiting with nothing left to
    send. In the caller's transaction; running it again changes nothing."""
    events = select(WebhookEventPerson.event_id).where(WebhookEventPerson.person_id == person)
    deliveries = uow.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.event_id.in_(events))
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        .with_for_update()
    )
    changed = cancelled = 0
    now = datetime.now(UTC)
    for delivery in deliveries:
        body = redacted(delivery.body, person, words)
        if body != delivery.body:
            delivery.body = body
            delivery.erased_at = now
            changed += 1
        if delivery.state == "pending" and nothing_left(delivery.body):
            _cancel(uow, delivery, now)
            cancelled += 1
    blanked = 0
    if deliveries:
        result = uow.session.execute(
            update(WebhookAttempt)
            .where(
                WebhookAttempt.delivery_id.in_([d.id for d in deliveries]),
                WebhookAttempt.response_excerpt != "",
            )
            .values(response_excerpt="")
        )
        blanked = int(getattr(result, "rowcount", 0) or 0)
    uow.flush()
    return Erased(changed, blanked, cancelled)


def _cancel(uow: UnitOfWork, delivery: WebhookDelivery, now: datetime) -> None:
    """A waiting delivery ends failed with the reason as its last attempt; the
    ticket moves on, so the retry job already queued finds it stale."""
    endpoint = uow.get(WebhookEndpoint, delivery.endpoint_id, label="webhook endpoint")
    delivery.attempts += 1
    delivery.ticket += 1
    delivery.state, delivery.finished_at, delivery.next_attempt_at = "failed", now, None
    uow.add(
        WebhookAttempt(
            tenant_id=uow.tenant, id=uuid.uuid4(), delivery_id=delivery.id,
            number=delivery.attempts, manual=False, url=endpoint.url[:2000],
            status_code=None, response_excerpt="", error=CANCELLED, duration_ms=0,
        )
    )  # fmt: skip
