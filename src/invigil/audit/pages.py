"""The audit log for people: filter entries, read one with its proof."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from invigil.audit import checkpoints, service
from invigil.errors import Invalid, NotFound
from invigil.pagination import encode_cursor
from invigil.security.permissions import Permission
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def _when(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"{field} must be a date or date and time (2026-11-29 or 2026-11-29T14:30)"
        ) from None


def _render(request: Request, name: str, ctx: PageContext, **values: object) -> HTMLResponse:
    return render(request, f"audit/{name}", {"page": ctx, **values})


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    action: Annotated[str, Query()] = "",
    actor: Annotated[str, Query(description="actor id (a user id, 'cli', ...)")] = "",
    subject_type: Annotated[str, Query()] = "",
    subject_id: Annotated[str, Query()] = "",
    since: Annotated[str, Query()] = "",
    until: Annotated[str, Query()] = "",
    cursor: Annotated[str, Query()] = "",
    ctx: PageContext = requires_page(Permission.AUDIT_VIEW),
) -> HTMLResponse:
    form = {
        "action": action,
        "actor": actor,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "since": since,
        "until": until,
    }
    error = None
    rows: list[dict[str, object]] = []
    next_link = None
    try:
        filters = service.Filters(
            action=action.strip() or None,
            actor_id=actor.strip() or None,
            subject_type=subject_type.strip() or None,
            subject_id=subject_id.strip() or None,
            since=_when(since, "From"),
            until=_when(until, "Until"),
        )
        after = service.NEWEST.after(cursor)
        events, nxt = service.list_events(
            ctx.uow, filters, limit=PAGE_SIZE, before_seq=after[0] if after else None
        )
        rows = [
            {"event": e, "payload": json.dumps(e.payload, sort_keys=True)[:160]} for e in events
        ]
        if nxt is not None:
            next_link = "/admin/audit?" + urlencode(
                {k: v for k, v in form.items() if v} | {"cursor": encode_cursor([nxt])}
            )
    except Invalid as exc:
        error = exc.detail
    latest = checkpoints.latest(ctx.uow)
    return _render(
        request,
        "log.html",
        ctx,
        rows=rows,
        form=form,
        error=error,
        next_link=next_link,
        latest=latest,
    )


@router.get("/admin/audit/{event_id}", response_class=HTMLResponse)
def audit_entry(
    request: Request, event_id: str, ctx: PageContext = requires_page(Permission.AUDIT_VIEW)
) -> HTMLResponse:
    try:
        ident = uuid.UUID(event_id)
    except ValueError:
        raise NotFound(f"audit entry {event_id} was not found") from None
    event = service.get_event(ctx.uow, ident)
    inclusion = service.inclusion(ctx.uow, event)
    pretty = json.dumps(json.loads(event.entry), indent=2, sort_keys=True)
    return _render(request, "entry.html", ctx, event=event, inclusion=inclusion, pretty=pretty)
