"""Data-subject requests over HTTP (permission privacy:request,
docs/privacy-requests.md):

- ``GET /api/v1/privacy/requests``: requests, open ones first by due date
  (``status``, ``candidate_id`` filter);
- ``POST /api/v1/privacy/requests``: record one (the person by
  ``candidate_id`` or ``email``), due 30 days after it was received;
- ``GET /api/v1/privacy/requests/{id}``: one request;
- ``POST .../{id}/export``: build an access request's export now and
  complete it; ``GET .../{id}/export``: download the export (a ZIP,
  docs/formats/subject-export.md), audited;
- ``POST .../{id}/erase``: carry out an erasure (``confirm`` must be true);
- ``POST .../{id}/refuse``: refuse any open request, with a reason;
- ``POST .../{id}/complete``: complete an objection or a rectification.

Another tenant's request answers 404 like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.evidence.api import guarded
from invigil.retention import requests
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/privacy/requests", tags=["privacy"])

Kind = Literal["access", "erasure", "objection", "rectification"]
Channel = Literal["email", "letter", "portal", "phone", "in_person", "other"]


class RequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_id: uuid.UUID | None = Field(default=None, description="the person, by id")
    email: str | None = Field(
        default=None, max_length=requests.MAX_EMAIL, description="or by e-mail address"
    )
    kind: Kind
    received_at: date | None = Field(
        default=None, description="the day it was received (default today, UTC; never later)"
    )
    channel: Channel = "email"
    note: str = Field(default="", max_length=requests.MAX_NOTE)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=requests.MAX_OUTCOME)


class EraseIn(ReasonIn):
    confirm: bool = Field(description="true: erase now; it cannot be undone")


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(min_length=1, max_length=requests.MAX_OUTCOME)


@router.get("")
def list_requests(
    status: Annotated[str | None, Query(max_length=16)] = None,
    candidate_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
    uow: UnitOfWork = requires(P.PRIVACY_REQUEST),
) -> dict[str, Any]:
    """Requests, open ones first (earliest due first), then the finished."""
    found = requests.listing(uow, status=status or None, candidate_id=candidate_id, limit=limit)
    return {"items": [requests.as_dict(r) for r in found]}


@router.post("", status_code=201)
def create_request(
    body: RequestIn, uow: UnitOfWork = requires(P.PRIVACY_REQUEST)
) -> dict[str, Any]:
    """Record a request received from a person of this organisation."""
    if (body.candidate_id is None) == (body.email is None):
        raise Invalid("name the person by candidate_id or by email (one of them)", field="email")
    if body.candidate_id is not None:
        candidate_id = body.candidate_id
    else:
        candidate_id = requests.find_candidate(uow, body.email).id
    row = requests.receive(
        uow, candidate_id=candidate_id, kind=body.kind, received_at=body.received_at,
        channel=body.channel, note=body.note,
    )  # fmt: skip
    return requests.as_dict(row)


@router.get("/{privacy_request_id}")
def one_request(
    privacy_request_id: uuid.UUID, uow: UnitOfWork = requires(P.PRIVACY_REQUEST)
) -> dict[str, Any]:
    return requests.as_dict(requests.get(uow, privacy_request_id))


@router.post("/{privacy_request_id}/export", status_code=202)
def build_export(
    privacy_request_id: uuid.UUID, uow: UnitOfWork = requires(P.PRIVACY_REQUEST)
) -> dict[str, Any]:
    """Queue the access request's export (202): a job builds it and completes
    the request; poll the request until ``export_state`` is ``ready`` (or
    ``failed``, with ``export_error``: ask again). 409 while one is queued or
    being built."""
    row = requests.queue_export(uow, privacy_request_id)
    return requests.as_dict(row)


@router.get("/{privacy_request_id}/export", response_class=StreamingResponse)
def download_export(
    privacy_request_id: uuid.UUID, request: Request, uow: UnitOfWork = requires(P.PRIVACY_REQUEST)
) -> StreamingResponse:
    """The export as a ZIP (docs/formats/subject-export.md); every download is audited."""
    row, pieces = requests.open_export(uow, request.app.state.services.evidence, privacy_request_id)
    return StreamingResponse(
        guarded(pieces),
        media_type="application/zip",
        headers={
            "Content-Length": str(row.export_size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f'attachment; filename="{requests.export_name(row)}"',
        },
    )


@router.post("/{privacy_request_id}/erase")
def erase(
    privacy_request_id: uuid.UUID,
    body: EraseIn,
    request: Request,
    uow: UnitOfWork = requires(P.PRIVACY_REQUEST),
) -> dict[str, Any]:
    """Carry out an erasure request now: what a legal hold covers is kept
    (``kept``), the purge's receipts are listed (``receipt_ids``)."""
    if not body.confirm:
        requests.get(uow, privacy_request_id)  # a missing request answers 404 first
        raise Invalid("confirm the erasure: it cannot be undone", field="confirm")
    done = requests.erase(uow, request.app.state.services.evidence, privacy_request_id, body.reason)
    return requests.as_dict(done.request)


@router.post("/{privacy_request_id}/refuse")
def refuse(
    privacy_request_id: uuid.UUID, body: ReasonIn, uow: UnitOfWork = requires(P.PRIVACY_REQUEST)
) -> dict[str, Any]:
    return requests.as_dict(requests.refuse(uow, privacy_request_id, body.reason))


@router.post("/{privacy_request_id}/complete")
def complete(
    privacy_request_id: uuid.UUID, body: OutcomeIn, uow: UnitOfWork = requires(P.PRIVACY_REQUEST)
) -> dict[str, Any]:
    """Complete an objection or a rectification, saying what was done."""
    return requests.as_dict(requests.complete(uow, privacy_request_id, body.outcome))
