"""Delivery API shapes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from invigil.delivery import invitations, mail
from invigil.delivery.models import Candidate, Invitation, OutboxMail


class InvitationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    exam: str = Field(min_length=1, max_length=64, description="exam id or slug")
    external_ref: str = Field(default="", max_length=200)
    extra_time_percent: int | None = Field(default=None, ge=0, le=300)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    valid_hours: int | None = Field(default=None, ge=1, le=366 * 24)
    send_mail: bool = True
    language: str | None = Field(
        default=None,
        max_length=16,
        description="the candidate's language (one the tenant enables); null: the tenant's default",
    )


class CandidateOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    external_ref: str


class InvitationOut(BaseModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    candidate: CandidateOut
    exam_id: uuid.UUID
    exam_version: int
    opens_at: datetime
    closes_at: datetime
    extra_time_percent: int
    language: str | None
    status: Literal["active", "revoked"]
    state: Literal["open", "not_yet_open", "expired", "revoked"]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class InvitationCreatedOut(InvitationOut):
    link: str = Field(description="the guest link; shown only now, the server keeps a hash")


class ImportOut(BaseModel):
    invited: int
    items: list[InvitationCreatedOut]


class OutboxOut(BaseModel):
    id: uuid.UUID
    invitation_id: uuid.UUID | None
    to: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None
    status: Literal["sent", "queued", "not_sent"]


def candidate_out(c: Candidate) -> CandidateOut:
    return CandidateOut(id=c.id, name=c.name, email=c.email, external_ref=c.external_ref)


def invitation_out(i: Invitation, c: Candidate) -> InvitationOut:
    return InvitationOut(
        id=i.id,
        candidate_id=c.id,
        candidate=candidate_out(c),
        exam_id=i.exam_id,
        exam_version=i.exam_version,
        opens_at=i.opens_at,
        closes_at=i.closes_at,
        extra_time_percent=i.extra_time_percent,
        language=i.language,
        status=i.status,
        state=invitations.state_of(i),
        created_at=i.created_at,
        created_by=i.created_by,
        revoked_at=i.revoked_at,
    )


def created_out(made: invitations.Invited) -> InvitationCreatedOut:
    base = invitation_out(made.invitation, made.candidate)
    return InvitationCreatedOut(**base.model_dump(), link=made.link)


def outbox_status(m: OutboxMail) -> str:
    if m.sent_at is not None:
        return "sent"
    return "not_sent" if m.error else "queued"


def outbox_out(m: OutboxMail) -> OutboxOut:
    return OutboxOut(
        id=m.id,
        invitation_id=m.invitation_id,
        to=m.to_address,
        subject=m.subject,
        body=mail.shown_body(m),
        created_at=m.created_at,
        sent_at=m.sent_at,
        error=m.error,
        status=outbox_status(m),
    )
