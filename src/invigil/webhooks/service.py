"""Webhook endpoints and events, in the caller's unit of work.

:func:`emit` is what domains call: in their own transaction it writes one
delivery per active endpoint subscribed to the event, with the exact body
bytes frozen, and defers one send job per delivery (``uow.defer``). So a
change that rolls back sends nothing, and what a receiver gets is what was
true when the change committed, however late or often it is sent.

Endpoint changes (create, change, rotate the secret, delete), test events
and redeliveries by hand are audited in the same transaction. A secret is
generated here, returned once (at creation and at rotation) and stored
only sealed with the secret box, bound to its endpoint.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound
from invigil.security.pseudonyms import text_sha256
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.webhooks import addresses, erasure, events, signing
from invigil.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventPerson,
)

TASK = "invigil:webhooks.deliver"
QUEUE = "webhooks"
MAX_ENDPOINTS = 50
MAX_EVENTS = 50
MAX_DESCRIPTION = 300
MAX_BODY = 256 * 1024


def secret_context(endpoint_id: uuid.UUID) -> str:
    return f"webhook-endpoint-secret:{endpoint_id}"


def _now() -> datetime:
    return datetime.now(UTC)


def _events(names: list[str]) -> list[str]:
    chosen = sorted(set(names))  # none: the endpoint gets test events only
    if len(chosen) > MAX_EVENTS:
        raise Invalid(f"choose at most {MAX_EVENTS} events", field="events")
    unknown = [n for n in chosen if not events.is_registered(n)]
    if unknown:
        raise Invalid(f"no such event: {', '.join(n[:100] for n in unknown[:5])}", field="events")
    return chosen


def _description(text: str) -> str:
    text = text.strip()
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(
            f"keep the description under {MAX_DESCRIPTION} characters", field="description"
        )
    return text


def url_facts(url: str) -> dict[str, str]:
    """An endpoint's URL as its audit entries keep it: the origin (who was
    called) and the SHA-256 of the whole URL. Paths and queries often carry a
    receiver's token or a person's name; the endpoint row shows them while it
    exists, and the hash proves which URL it was."""
    parts = urlsplit(url)
    return {"origin": f"{parts.scheme}://{parts.netloc}", "url_sha256": text_sha256(url)}


def get_endpoint(uow: UnitOfWork, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    return uow.get(WebhookEndpoint, endpoint_id, label="webhook endpoint")


def endpoints(uow: UnitOfWork) -> list[WebhookEndpoint]:
    return uow.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.created_at))


def create_endpoint(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    *,
    url: str,
    description: str,
    event_names: list[str],
    active: bool = True,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (the only time it is returned, bar rotation)."""
    stored_url = addresses.check_on_save(url, settings)
    chosen = _events(event_names)
    text = _description(description)
    count = uow.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0
    if count >= MAX_ENDPOINTS:
        raise Conflict(f"a tenant has at most {MAX_ENDPOINTS} webhook endpoints; delete one first")
    now, endpoint_id, secret = _now(), uuid.uuid4(), signing.new_secret()
    endpoint = WebhookEndpoint(
        tenant_id=uow.tenant,
        id=endpoint_id,
        url=stored_url,
        description=text,
        events=chosen,
        active=active,
        secret_sealed=box.seal(secret.encode(), secret_context(endpoint_id)),
        secret_rotated_at=now,
        updated_at=now,
    )
    uow.add(endpoint)
    uow.flush()
    audit.record(
        uow,
        "webhook.endpoint_created",
        endpoint,
        {**url_facts(stored_url), "events": chosen, "active": active},
    )
    return endpoint, secret


def change_endpoint(
    uow: UnitOfWork,
    settings: Settings,
    endpoint_id: uuid.UUID,
    *,
    url: str | None = None,
    description: str | None = None,
    event_names: list[str] | None = None,
    active: bool | None = None,
) -> WebhookEndpoint:
    endpoint = get_endpoint(uow, endpoint_id)
    changed: dict[str, Any] = {}
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = addresses.check_on_save(url, settings)
        changed |= url_facts(endpoint.url)
    if description is not None and _description(description) != endpoint.description:
        endpoint.description = _description(description)
        changed["description_sha256"] = text_sha256(endpoint.description)
    if event_names is not None:
        chosen = _events(event_names)
        if chosen != sorted(endpoint.events):
            endpoint.events = changed["events"] = chosen
    if active is not None and active != endpoint.active:
        endpoint.active = changed["active"] = active
    if changed:
        endpoint.updated_at = _now()
        uow.flush()
        audit.record(uow, "webhook.endpoint_changed", endpoint, changed)
    return endpoint


def rotate_secret(
    uow: UnitOfWork, box: SecretBox, endpoint_id: uuid.UUID
) -> tuple[WebhookEndpoint, str]:
    """A new secret replaces the old one at once (deliveries still waiting are
    signed with the new one when they are sent)."""
    endpoint = get_endpoint(uow, endpoint_id)
    secret = signing.new_secret()
    endpoint.secret_sealed = box.seal(secret.encode(), secret_context(endpoint.id))
    endpoint.secret_rotated_at = endpoint.updated_at = _now()
    uow.flush()
    audit.record(uow, "webhook.secret_rotated", endpoint)
    return endpoint, secret


def delete_endpoint(uow: UnitOfWork, endpoint_id: uuid.UUID) -> None:
    """The endpoint goes, with its deliveries and their attempts."""
    endpoint = get_endpoint(uow, endpoint_id)
    audit.record(uow, "webhook.endpoint_deleted", endpoint, url_facts(endpoint.url))
    uow.session.delete(endpoint)
    uow.flush()


def open_secret(box: SecretBox, endpoint: WebhookEndpoint) -> str:
    return box.open(endpoint.secret_sealed, secret_context(endpoint.id)).decode()


# -- events -------------------------------------------------------------------


def envelope(uow: UnitOfWork, event_id: uuid.UUID, event: str, data: dict[str, Any]) -> bytes:
    """The body every endpoint gets for this event, as exact bytes: compact
    JSON, keys sorted, UTF-8. UUIDs, dates and decimals in ``data`` become strings."""
    body = {
        "id": str(event_id),
        "type": event,
        "created": _now().strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tenant": str(uow.tenant),
        "data": data,
    }
    raw = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    encoded = raw.encode()
    if len(encoded) > MAX_BODY:
        raise ValueError(f"webhook event {event} is {len(encoded)} bytes; at most {MAX_BODY}")
    return encoded


def _deliver(
    uow: UnitOfWork, endpoint: WebhookEndpoint, event_id: uuid.UUID, event: str, body: bytes
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        endpoint_id=endpoint.id,
        event_id=event_id,
        event=event,
        body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
        state="pending",
        attempts=0,
        ticket=1,
        next_attempt_at=_now(),
    )
    uow.add(delivery)
    uow.flush()
    uow.defer(TASK, queue=QUEUE, tenant_id=str(uow.tenant), delivery_id=str(delivery.id), ticket=1)
    return delivery


def emit(
    uow: UnitOfWork, event: str, data: dict[str, Any], about: Iterable[uuid.UUID] = ()
) -> None:
    """Send ``event`` with ``data`` to every active endpoint subscribed to it,
    if and when the caller's transaction commits. ``about``: the people
    (candidate ids) the body names, each in a JSON object of ``data`` that
    holds their id as a value; erasing one of them rewrites those objects
    in the stored bodies (:mod:`invigil.webhooks.erasure`)."""
    if not events.is_registered(event):
        raise ValueError(f"webhook event {event!r} is not registered (invigil.webhooks.events)")
    subscribed = uow.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.active.is_(True), WebhookEndpoint.events.contains([event]))
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
    )
    if not subscribed:
        return
    event_id = uuid.uuid4()
    body = envelope(uow, event_id, event, data)
    for endpoint in subscribed:
        _deliver(uow, endpoint, event_id, event, body)
    for person in sorted({uuid.UUID(str(p)) for p in about}):
        uow.add(
            WebhookEventPerson(
                tenant_id=uow.tenant, id=uuid.uuid4(), event_id=event_id, person_id=person
            )
        )
    uow.flush()


def ping(uow: UnitOfWork, endpoint_id: uuid.UUID) -> WebhookDelivery:
    """A test event (``webhook.ping``) to one endpoint, whatever it subscribes to."""
    endpoint = get_endpoint(uow, endpoint_id)
    if not endpoint.active:
        raise Conflict("the endpoint is switched off; switch it on to send it a test event")
    event_id = uuid.uuid4()
    body = envelope(uow, event_id, events.PING, {"endpoint": str(endpoint.id)})
    delivery = _deliver(uow, endpoint, event_id, events.PING, body)
    audit.record(uow, "webhook.pinged", endpoint, {"delivery": str(delivery.id)})
    return delivery


def redeliver(uow: UnitOfWork, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Send a delivered or failed delivery once more, now, with the same body
    and delivery id (receivers that keep ids see a repeat). One attempt: a
    redelivery by hand is not retried."""
    delivery = get_delivery(uow, delivery_id, lock=True)
    if delivery.erased_at is not None and erasure.nothing_left(delivery.body):
        raise Conflict(
            "the person this event was about was erased: nothing is left to send; "
            "the delivery stays in the log with the hash of what was sent"
        )
    if delivery.state == "pending":
        raise Conflict(
            "this delivery is still being sent; redeliver it once it is delivered or failed"
        )
    delivery.state = "pending"
    delivery.ticket += 1
    delivery.finished_at = None
    delivery.next_attempt_at = _now()
    uow.flush()
    uow.defer(
        TASK,
        queue=QUEUE,
        tenant_id=str(uow.tenant),
        delivery_id=str(delivery.id),
        ticket=delivery.ticket,
        manual=True,
    )
    audit.record(
        uow, "webhook.redelivered", ("webhook_delivery", delivery.id), {"event": delivery.event}
    )
    return delivery


# -- reading the log ----------------------------------------------------------


def get_delivery(uow: UnitOfWork, delivery_id: uuid.UUID, *, lock: bool = False) -> WebhookDelivery:
    stmt = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
    found = uow.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"webhook delivery {delivery_id} was not found")
    return found


def attempts_of(uow: UnitOfWork, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    return uow.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.number.desc(), WebhookAttempt.created_at.desc())
    )


@dataclass(frozen=True)
class LogFilter:
    endpoint_id: uuid.UUID | None = None
    event: str | None = None
    state: str | None = None


def log_query(where: LogFilter) -> Any:
    stmt = select(WebhookDelivery)
    if where.endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == where.endpoint_id)
    if where.event:
        stmt = stmt.where(WebhookDelivery.event == where.event)
    if where.state:
        stmt = stmt.where(WebhookDelivery.state == where.state)
    return stmt
