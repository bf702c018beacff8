"""The audit log over HTTP (permission audit:view)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from invigil.audit import service
from invigil.db import platform
from invigil.db.uow import UnitOfWork
from invigil.pagination import PageCursor, PageLimit, check_limit, encode_cursor
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("/events")
def list_events(
    action: Annotated[
        str | None, Query(description="exact, or a prefix ending in * (auth.*)")
    ] = None,
    actor_kind: str | None = None,
    actor_id: str | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    uow: UnitOfWork = requires(P.AUDIT_VIEW),
) -> dict[str, Any]:
    """Entries, newest first, filtered by actor, action, subject and time range."""
    check_limit(limit)
    after = service.NEWEST.after(cursor)
    before = after[0] if after else None
    filters = service.Filters(action, actor_kind, actor_id, subject_type, subject_id, since, until)
    rows, nxt = service.list_events(uow, filters, limit=limit, before_seq=before)
    return {
        "items": [service.event_out(e) for e in rows],
        "next": encode_cursor([nxt]) if nxt is not None else None,
    }


@router.get("/events/{event_id}")
def get_event(event_id: uuid.UUID, uow: UnitOfWork = requires(P.AUDIT_VIEW)) -> dict[str, Any]:
    """One entry with its RFC 9162 inclusion proof against the latest checkpoint."""
    event = service.get_event(uow, event_id)
    return service.event_out(event) | {"inclusion": service.inclusion(uow, event)}


@router.get("/checkpoints")
def list_checkpoints(uow: UnitOfWork = requires(P.AUDIT_VIEW)) -> dict[str, Any]:
    """Signed checkpoints, oldest first, with the key id that signed each."""
    return {
        "items": [
            service.checkpoint_out(c) | {"id": str(c.tree_size)}
            for c in service.list_checkpoints(uow)
        ],
        "next": None,
    }


@router.get("/consistency", responses={404: {"description": "No checkpoint of that size."}})
def consistency(
    first: Annotated[int, Query(ge=1)],
    second: Annotated[int, Query(ge=1)],
    uow: UnitOfWork = requires(P.AUDIT_VIEW),
) -> dict[str, Any]:
    """The consistency proof between the checkpoints at sizes ``first`` and ``second``."""
    return {
        "first": service.checkpoint_out(service.checkpoint_at(uow, first)),
        "second": service.checkpoint_out(service.checkpoint_at(uow, second)),
        "proof": service.consistency(uow, first, second),
    }


@router.get("/export")
def export(request: Request, uow: UnitOfWork = requires(P.AUDIT_VIEW)) -> dict[str, Any]:
    """The whole log, its checkpoints and public keys: `invigil audit verify-export` checks it
    offline."""
    slug = platform.bound_tenant(uow).slug
    return service.export(uow, request.app.state.services.keys.audit, slug)
