"""The webhook pages for tenant administrators (``tenant:manage``): the
endpoints (list, create, edit, rotate the secret, send a test event,
delete) and the delivery log (newest first, filtered by endpoint, event and
state, keyset paged) with each delivery's attempts and a redeliver button.

A secret is shown on the page that answers its creation or rotation, never
again (that page is not cached, and the address carries nothing)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import audit, i18n
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid, NotFound, Refused
from invigil.i18n import N_
from invigil.security.permissions import Permission as P
from invigil.web import flash, table
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page
from invigil.webhooks import erasure, events, service
from invigil.webhooks.models import WebhookDelivery, WebhookEndpoint

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
FormList = Annotated[list[str] | None, Form()]
STATES = {"pending": N_("being sent"), "delivered": N_("delivered"), "failed": N_("failed")}
NOTICES = {
    "saved": N_("Endpoint saved."),
    "deleted": N_("Endpoint deleted, with its deliveries."),
    "pinged": N_("Test event queued. Its delivery is at the top of the log."),
    "redelivered": N_("Delivery queued to be sent once more."),
}


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("states", STATES)
    return render(request, f"webhooks/{name}", {"page": ctx, **values}, status=status)


def _redirect(request: Request, path: str, notice: str) -> Response:
    words = i18n.gettext(i18n.locale_of({"request": request}), NOTICES[notice])
    return flash.redirect(request, path, words)


@contextmanager
def _change(uow: UnitOfWork) -> Iterator[None]:
    """One change in a savepoint: a refused one rolls back alone, the page says why."""
    try:
        with uow.session.begin_nested():
            yield
    except Refused as refused:
        audit.record_refusal(uow, refused)
        raise


@dataclass
class EndpointForm:
    """What the endpoint form holds (as submitted, bounded)."""

    url: str = ""
    description: str = ""
    events: list[str] = field(default_factory=list)
    active: bool = True

    @classmethod
    def submitted(
        cls, url: str, description: str, chosen: list[str] | None, active: str
    ) -> EndpointForm:
        return cls(
            url[:2000], description[:300], [e[:100] for e in (chosen or [])[:50]], active == "on"
        )


def _id(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value[:40]} was not found") from None


def _event_choices() -> list[tuple[str, str]]:
    return [(e.name, e.description) for e in events.registered()]


# -- endpoints ------------------------------------------------------------------


@router.get("/admin/webhooks", response_class=HTMLResponse)
def endpoint_list(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    return _render(request, "endpoints.html", ctx, endpoints=service.endpoints(ctx.uow))


def _form_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("choices", _event_choices())
    return _render(request, "endpoint.html", ctx, status=status, **values)


@router.get("/admin/webhooks/endpoints/new", response_class=HTMLResponse)
def endpoint_new(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    form = EndpointForm()
    return _form_page(request, ctx, endpoint=None, form=form)


@router.post("/admin/webhooks/endpoints/new", response_class=HTMLResponse)
def endpoint_create(
    request: Request,
    csrf: FormStr = "",
    url: FormStr = "",
    description: FormStr = "",
    events_chosen: Annotated[list[str] | None, Form(alias="events")] = None,
    active: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    services = request.app.state.services
    form = EndpointForm.submitted(url, description, events_chosen, active)
    try:
        with _change(ctx.uow):
            endpoint, secret = service.create_endpoint(
                ctx.uow,
                services.settings,
                services.box,
                url=form.url,
                description=form.description,
                event_names=form.events,
                active=form.active,
            )
    except (Invalid, Conflict) as exc:
        problem = {"field": exc.extensions.get("field", "url"), "message": exc.detail}
        return _form_page(
            request, ctx, status=exc.status, endpoint=None, form=form, problems=[problem]
        )
    return _render(request, "secret.html", ctx, endpoint=endpoint, secret=secret, created=True)


@router.get("/admin/webhooks/endpoints/{endpoint_id}", response_class=HTMLResponse)
def endpoint_page(
    request: Request, endpoint_id: str, ctx: PageContext = requires_page(P.TENANT_MANAGE)
) -> Response:
    endpoint = service.get_endpoint(ctx.uow, _id(endpoint_id, "webhook endpoint"))
    form = EndpointForm(endpoint.url, endpoint.description, list(endpoint.events), endpoint.active)
    return _form_page(request, ctx, endpoint=endpoint, form=form)


@router.post("/admin/webhooks/endpoints/{endpoint_id}", response_class=HTMLResponse)
def endpoint_save(
    request: Request,
    endpoint_id: str,
    csrf: FormStr = "",
    url: FormStr = "",
    description: FormStr = "",
    events_chosen: Annotated[list[str] | None, Form(alias="events")] = None,
    active: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    ident = _id(endpoint_id, "webhook endpoint")
    endpoint = service.get_endpoint(ctx.uow, ident)
    form = EndpointForm.submitted(url, description, events_chosen, active)
    try:
        with _change(ctx.uow):
            service.change_endpoint(
                ctx.uow,
                request.app.state.services.settings,
                ident,
                url=form.url,
                description=form.description,
                event_names=form.events,
                active=form.active,
            )
    except Invalid as exc:
        problem = {"field": exc.extensions.get("field", "url"), "message": exc.detail}
        ctx.uow.session.refresh(endpoint)
        return _form_page(
            request, ctx, status=exc.status, endpoint=endpoint, form=form, problems=[problem]
        )
    return _redirect(request, f"/admin/webhooks/endpoints/{ident}", "saved")


@router.post("/admin/webhooks/endpoints/{endpoint_id}/rotate", response_class=HTMLResponse)
def endpoint_rotate(
    request: Request,
    endpoint_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    endpoint, secret = service.rotate_secret(
        ctx.uow, request.app.state.services.box, _id(endpoint_id, "webhook endpoint")
    )
    return _render(request, "secret.html", ctx, endpoint=endpoint, secret=secret, created=False)


@router.post("/admin/webhooks/endpoints/{endpoint_id}/ping", response_class=HTMLResponse)
def endpoint_ping(
    request: Request,
    endpoint_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    delivery = service.ping(ctx.uow, _id(endpoint_id, "webhook endpoint"))
    return _redirect(request, f"/admin/webhooks/deliveries/{delivery.id}", "pinged")


@router.post("/admin/webhooks/endpoints/{endpoint_id}/delete", response_class=HTMLResponse)
def endpoint_delete(
    request: Request,
    endpoint_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    service.delete_endpoint(ctx.uow, _id(endpoint_id, "webhook endpoint"))
    return _redirect(request, "/admin/webhooks", "deleted")


# -- the delivery log -------------------------------------------------------------


def _check_uuid(value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise Invalid(N_("choose an endpoint from the list")) from None


def log_table(endpoint_options: list[tuple[str, str]]) -> table.Table:
    event_options = [(e.name, e.name) for e in events.registered()] + [(events.PING, events.PING)]
    return table.Table(
        name="deliveries",
        path="/admin/webhooks/deliveries",
        caption=N_("Webhook deliveries"),
        columns=(
            table.Column("created", N_("When"), WebhookDelivery.created_at, datetime.fromisoformat),
            table.Column("event", N_("Event")),
            table.Column("endpoint", N_("Endpoint")),
            table.Column("state", N_("State")),
            table.Column("attempts", N_("Attempts"), numeric=True),
            table.Column("status", N_("Last answer"), numeric=True),
        ),
        id=WebhookDelivery.id,
        default_sort="-created",
        filters=(
            table.Filter(
                "endpoint",
                N_("Endpoint"),
                endpoint_options,
                lambda stmt, v: stmt.where(WebhookDelivery.endpoint_id == uuid.UUID(v)),
                all_label=N_("Any endpoint"),
                check=_check_uuid,
            ),
            table.Filter(
                "event",
                N_("Event"),
                event_options,
                lambda stmt, v: stmt.where(WebhookDelivery.event == v),
                all_label=N_("Any event"),
            ),
            table.Filter(
                "state",
                N_("State"),
                list(STATES.items()),
                lambda stmt, v: stmt.where(WebhookDelivery.state == v),
                all_label=N_("Any state"),
            ),
        ),
        empty=N_("Nothing was sent yet."),
        empty_filtered=N_("No delivery matches these filters."),
        export=False,
    )


@router.get("/admin/webhooks/deliveries", response_class=HTMLResponse)
def delivery_log(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    known = service.endpoints(ctx.uow)
    urls = {e.id: e.url for e in known}
    view = table.read(log_table([(str(e.id), e.url) for e in known]), request.query_params)
    shown = table.fetch(ctx.uow, view, select(WebhookDelivery))
    return _render(request, "deliveries.html", ctx, t=shown, urls=urls)


@router.get("/admin/webhooks/deliveries/{delivery_id}", response_class=HTMLResponse)
def delivery_page(
    request: Request, delivery_id: str, ctx: PageContext = requires_page(P.TENANT_MANAGE)
) -> Response:
    delivery = service.get_delivery(ctx.uow, _id(delivery_id, "webhook delivery"))
    endpoint = ctx.uow.get(WebhookEndpoint, delivery.endpoint_id, label="webhook endpoint")
    return _render(
        request,
        "delivery.html",
        ctx,
        d=delivery,
        endpoint=endpoint,
        body=delivery.body.decode(errors="replace"),
        nothing_left=delivery.erased_at is not None and erasure.nothing_left(delivery.body),
        attempts=service.attempts_of(ctx.uow, delivery.id),
    )


@router.post("/admin/webhooks/deliveries/{delivery_id}/redeliver", response_class=HTMLResponse)
def delivery_redeliver(
    request: Request,
    delivery_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    delivery = service.redeliver(ctx.uow, _id(delivery_id, "webhook delivery"))
    return _redirect(request, f"/admin/webhooks/deliveries/{delivery.id}", "redelivered")
