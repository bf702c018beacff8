"""Webhook API for tenant administrators (``tenant:manage``).

- ``GET /api/v1/webhooks/events``: the event names endpoints may subscribe to;
- ``GET|POST /api/v1/webhooks/endpoints``, ``GET|PATCH|DELETE .../{endpoint_id}``:
  endpoints; the answer to POST holds the signing ``secret``, shown only then;
- ``POST .../{endpoint_id}/rotate``: a new secret (answered once), the old one ends;
- ``POST .../{endpoint_id}/ping``: send a ``webhook.ping`` test event;
- ``GET /api/v1/webhooks/deliveries`` (newest first; ``endpoint_id``, ``event``,
  ``state``, ``cursor``, ``limit``), ``GET .../{delivery_id}`` (with its attempts),
  ``POST .../{delivery_id}/redeliver``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from invigil.db.uow import UnitOfWork
from invigil.pagination import Page, PageLimit, check_limit, created_key, newest_first
from invigil.security.permissions import Permission as P
from invigil.web.access import requires
from invigil.webhooks import events, service
from invigil.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
EventName = Annotated[str, Field(min_length=3, max_length=100)]
State = Literal["pending", "delivered", "failed"]


class EventOut(BaseModel):
    name: str
    description: str


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2000, description="https URL of the receiver")
    description: str = Field(default="", max_length=300)
    events: list[EventName] = Field(
        default_factory=list,
        max_length=50,
        description="registered event names (none: test events only)",
    )
    active: bool = True


class EndpointPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2000)
    description: str | None = Field(default=None, max_length=300)
    events: list[EventName] | None = Field(default=None, max_length=50)
    active: bool | None = None


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    events: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime
    secret_rotated_at: datetime

    @classmethod
    def of(cls, row: WebhookEndpoint) -> EndpointOut:
        return cls(
            id=row.id,
            url=row.url,
            description=row.description,
            events=list(row.events),
            active=row.active,
            created_at=row.created_at,
            updated_at=row.updated_at,
            secret_rotated_at=row.secret_rotated_at,
        )


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="the signing secret: shown now only, store it")


class AttemptOut(BaseModel):
    id: uuid.UUID
    number: int
    manual: bool
    at: datetime
    url: str
    status_code: int | None
    response_excerpt: str
    error: str
    duration_ms: int

    @classmethod
    def of(cls, row: WebhookAttempt) -> AttemptOut:
        return cls(
            id=row.id,
            number=row.number,
            manual=row.manual,
            at=row.created_at,
            url=row.url,
            status_code=row.status_code,
            response_excerpt=row.response_excerpt,
            error=row.error,
            duration_ms=row.duration_ms,
        )


class DeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event: str
    state: State
    attempts: int
    last_status: int | None
    next_attempt_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    body_sha256: str = Field(description="SHA-256 (hex) of the body as first sent")
    erased_at: datetime | None = Field(
        description="when the body was rewritten because the person it was about was erased"
    )

    @classmethod
    def of(cls, row: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=row.id,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            event=row.event,
            state=row.state,
            attempts=row.attempts,
            last_status=row.last_status,
            next_attempt_at=row.next_attempt_at,
            finished_at=row.finished_at,
            created_at=row.created_at,
            body_sha256=row.body_sha256,
            erased_at=row.erased_at,
        )


class DeliveryDetail(DeliveryOut):
    body: str = Field(
        description="the exact body sent (UTF-8 JSON); rewritten without the person "
        "it was about once they were erased (erased_at)"
    )
    attempt_log: list[AttemptOut]


def _detail(uow: UnitOfWork, row: WebhookDelivery) -> DeliveryDetail:
    return DeliveryDetail(
        **DeliveryOut.of(row).model_dump(),
        body=row.body.decode(),
        attempt_log=[AttemptOut.of(a) for a in service.attempts_of(uow, row.id)],
    )


def _services(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.services


@router.get("/events", response_model=list[EventOut])
def list_events(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> list[EventOut]:
    return [EventOut(name=e.name, description=e.description) for e in events.registered()]


@router.get("/endpoints", response_model=Page[EndpointOut])
def list_endpoints(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> Page[EndpointOut]:
    return Page(items=[EndpointOut.of(e) for e in service.endpoints(uow)], next=None)


@router.post("/endpoints", response_model=EndpointWithSecret, status_code=201)
def create_endpoint(
    body: EndpointIn, request: Request, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> EndpointWithSecret:
    services = _services(request)
    row, secret = service.create_endpoint(
        uow,
        services.settings,
        services.box,
        url=body.url,
        description=body.description,
        event_names=body.events,
        active=body.active,
    )
    return EndpointWithSecret(**EndpointOut.of(row).model_dump(), secret=secret)


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut)
def get_endpoint(
    endpoint_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> EndpointOut:
    return EndpointOut.of(service.get_endpoint(uow, endpoint_id))


@router.patch("/endpoints/{endpoint_id}", response_model=EndpointOut)
def change_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointPatch,
    request: Request,
    uow: UnitOfWork = requires(P.TENANT_MANAGE),
) -> EndpointOut:
    row = service.change_endpoint(
        uow,
        _services(request).settings,
        endpoint_id,
        url=body.url,
        description=body.description,
        event_names=body.events,
        active=body.active,
    )
    return EndpointOut.of(row)


@router.post("/endpoints/{endpoint_id}/rotate", response_model=EndpointWithSecret)
def rotate_secret(
    endpoint_id: uuid.UUID, request: Request, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> EndpointWithSecret:
    row, secret = service.rotate_secret(uow, _services(request).box, endpoint_id)
    return EndpointWithSecret(**EndpointOut.of(row).model_dump(), secret=secret)


@router.post("/endpoints/{endpoint_id}/ping", response_model=DeliveryOut, status_code=202)
def ping(endpoint_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> DeliveryOut:
    return DeliveryOut.of(service.ping(uow, endpoint_id))


@router.delete("/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(
    endpoint_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> Response:
    service.delete_endpoint(uow, endpoint_id)
    return Response(status_code=204)


@router.get("/deliveries", response_model=Page[DeliveryOut])
def list_deliveries(
    endpoint_id: uuid.UUID | None = None,
    event: Annotated[str | None, Query(max_length=100)] = None,
    state: State | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: PageLimit = 50,
    uow: UnitOfWork = requires(P.TENANT_MANAGE),
) -> Page[DeliveryOut]:
    check_limit(limit)
    order = newest_first(WebhookDelivery)
    stmt = service.log_query(service.LogFilter(endpoint_id, event, state))
    rows, after = order.page(uow.scalars(order.apply(stmt, cursor, limit)), limit, created_key)
    return Page(items=[DeliveryOut.of(r) for r in rows], next=after)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(
    delivery_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> DeliveryDetail:
    return _detail(uow, service.get_delivery(uow, delivery_id))


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut, status_code=202)
def redeliver(delivery_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> DeliveryOut:
    return DeliveryOut.of(service.redeliver(uow, delivery_id))
