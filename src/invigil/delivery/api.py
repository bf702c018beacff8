"""Delivery API: invitations (one, or many from CSV), revoke, rotate, outbox.

The guest link is in the answer of the call that makes it (create, import,
rotate) and nowhere else: the server keeps only a keyed hash.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from invigil.db.uow import UnitOfWork
from invigil.delivery import bulk, invitations, mail
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.models import Candidate
from invigil.delivery.schemas import (
    ImportOut,
    InvitationCreatedOut,
    InvitationIn,
    InvitationOut,
    OutboxOut,
    created_out,
    invitation_out,
    outbox_out,
)
from invigil.pagination import Page, PageCursor, PageLimit, check_limit
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["delivery"])


def _kit(request: Request) -> Kit:
    return Kit.of(request.app.state.services)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


RawBody = Annotated[bytes, Depends(_raw_body)]


@router.post(
    "/invitations",
    response_model=InvitationCreatedOut,
    status_code=201,
    responses={404: {"description": "No exam of that id or slug."}},
)
def create_invitation(
    body: InvitationIn, request: Request, uow: UnitOfWork = requires(P.CANDIDATE_INVITE)
) -> InvitationCreatedOut:
    """Invite one candidate to a published exam (id or slug). The answer
    carries the guest link, once; the mail goes out through the outbox."""
    req = InviteRequest(**body.model_dump())
    return created_out(invitations.invite(uow, _kit(request), req))


@router.post(
    "/invitations/import",
    response_model=ImportOut,
    status_code=201,
    responses={404: {"description": "No exam of that id or slug."}},
)
def import_invitations(
    request: Request,
    exam: Annotated[str, Query(min_length=1, max_length=64, description="exam id or slug")],
    valid_hours: Annotated[int | None, Query(ge=1, le=366 * 24)] = None,
    send_mail: bool = True,
    uow: UnitOfWork = requires(P.CANDIDATE_INVITE),
    *,
    content: RawBody,  # after the permission: no body is read for a stranger
) -> ImportOut:
    """Invite everyone in a CSV file (the raw body; docs/delivery-formats.md),
    or nobody: a refused file answers 422 with ``problems`` (each with
    ``line``, ``where`` and ``message``)."""
    made = bulk.invite_many(
        uow, _kit(request), content, exam=exam, valid_hours=valid_hours, send_mail=send_mail
    )
    return ImportOut(invited=len(made), items=[created_out(m) for m in made])


@router.get("/invitations", response_model=Page[InvitationOut])
def list_invitations(
    exam_id: uuid.UUID | None = None,
    status: Literal["active", "revoked"] | None = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    uow: UnitOfWork = requires(P.CANDIDATE_VIEW),
) -> Page[InvitationOut]:
    check_limit(limit)
    rows, nxt = invitations.list_invitations(
        uow, exam_id=exam_id, status=status, limit=limit, cursor=cursor
    )
    return Page[InvitationOut](items=[invitation_out(i, c) for i, c in rows], next=nxt)


@router.get("/invitations/{invitation_id}", response_model=InvitationOut)
def get_invitation(
    invitation_id: uuid.UUID, uow: UnitOfWork = requires(P.CANDIDATE_VIEW)
) -> InvitationOut:
    found = invitations.require_invitation(uow, invitation_id)
    return invitation_out(found, uow.get(Candidate, found.candidate_id))


@router.post("/invitations/{invitation_id}/revoke", response_model=InvitationOut)
def revoke_invitation(
    invitation_id: uuid.UUID, uow: UnitOfWork = requires(P.CANDIDATE_INVITE)
) -> InvitationOut:
    """End the invitation and its link now (audited)."""
    found = invitations.revoke(uow, invitation_id)
    return invitation_out(found, uow.get(Candidate, found.candidate_id))


@router.post("/invitations/{invitation_id}/rotate", response_model=InvitationCreatedOut)
def rotate_link(
    invitation_id: uuid.UUID,
    request: Request,
    send_mail: bool = True,
    uow: UnitOfWork = requires(P.CANDIDATE_INVITE),
) -> InvitationCreatedOut:
    """A new guest link (returned once, and mailed again); the old one stops working now."""
    return created_out(invitations.rotate(uow, _kit(request), invitation_id, send_mail=send_mail))


@router.post("/invitations/{invitation_id}/resend", response_model=OutboxOut, status_code=202)
def resend_link(
    invitation_id: uuid.UUID, request: Request, uow: UnitOfWork = requires(P.CANDIDATE_INVITE)
) -> OutboxOut:
    """Mail the same guest link again (the link does not change; audited).
    At most one mail per invitation every 2 minutes and 5 a day (429 with
    Retry-After); 409 when the link cannot be sent again (rotate instead)."""
    return outbox_out(invitations.resend(uow, _kit(request), invitation_id))


@router.get("/outbox", response_model=Page[OutboxOut])
def list_outbox(
    limit: PageLimit = 50, cursor: PageCursor = None, uow: UnitOfWork = requires(P.CANDIDATE_VIEW)
) -> Page[OutboxOut]:
    check_limit(limit)
    rows, nxt = mail.list_outbox(uow, limit=limit, cursor=cursor)
    return Page[OutboxOut](items=[outbox_out(m) for m in rows], next=nxt)
