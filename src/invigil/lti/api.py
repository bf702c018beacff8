"""Learning platform registrations over the API (``tenant:manage``):
``/api/v1/lti/platforms`` (list, register), ``/api/v1/lti/platforms/{id}``
(read, change, remove), ``/api/v1/lti/platforms/{id}/links/{link_id}`` (the
exam a resource link opens), ``.../links/{link_id}/roster-sync`` (invite the
course's learners, NRPS) and ``/api/v1/lti/keys/rotate`` (a new tool key)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from invigil import audit
from invigil.db.uow import UnitOfWork
from invigil.delivery.invitations import published_exam
from invigil.lti import dynamic, keys, platforms, roster
from invigil.lti.models import LtiLink, LtiPlatform
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1/lti", tags=["lti"])
Url = Annotated[str, Field(min_length=1, max_length=2000)]


class PlatformIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100)]
    issuer: Url
    client_id: Annotated[str, Field(min_length=1, max_length=500)]
    deployment_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=255)]],
        Field(min_length=1, max_length=50),
    ]
    jwks_url: Url
    auth_login_url: Url
    token_url: Url
    instructor_role: Annotated[str | None, Field(max_length=64)] = None
    enabled: bool = True
    roster_sync: bool = Field(
        default=False, description="course rosters may be read (Names and Role Provisioning)"
    )


class ToolValues(BaseModel):
    login_url: str
    launch_url: str
    deep_linking_url: str
    jwks_url: str


class LinkOut(BaseModel):
    id: uuid.UUID
    resource_link_id: str
    title: str
    exam_id: uuid.UUID | None
    has_line_item: bool
    has_roster_service: bool = Field(
        description="a launch from the link carried the platform's roster service (NRPS)"
    )


class PlatformOut(BaseModel):
    id: uuid.UUID
    name: str
    issuer: str
    client_id: str
    deployment_ids: list[str]
    jwks_url: str
    auth_login_url: str
    token_url: str
    instructor_role: str | None
    enabled: bool
    roster_sync: bool
    tool: ToolValues
    links: list[LinkOut]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exam_id: uuid.UUID | None


def _out(request: Request, uow: UnitOfWork, row: LtiPlatform) -> PlatformOut:
    urls = platforms.ToolUrls.of(request.app.state.services.settings, row.public_key)
    links = uow.scalars(
        select(LtiLink).where(LtiLink.platform_id == row.id).order_by(LtiLink.created_at)
    )
    return PlatformOut(
        id=row.id,
        name=row.name,
        issuer=row.issuer,
        client_id=row.client_id,
        deployment_ids=list(row.deployment_ids),
        jwks_url=row.jwks_url,
        auth_login_url=row.auth_login_url,
        token_url=row.token_url,
        instructor_role=row.instructor_role,
        enabled=row.enabled,
        roster_sync=row.roster_sync,
        tool=ToolValues(
            login_url=urls.login,
            launch_url=urls.launch,
            deep_linking_url=urls.deep_linking,
            jwks_url=urls.jwks,
        ),
        links=[
            LinkOut(
                id=lk.id,
                resource_link_id=lk.resource_link_id,
                title=lk.title,
                exam_id=lk.exam_id,
                has_line_item=lk.lineitem_url is not None,
                has_roster_service=lk.memberships_url is not None,
            )
            for lk in links
        ],
    )


def _values(body: PlatformIn) -> platforms.Values:
    return platforms.Values(**body.model_dump())


@router.get("/platforms", response_model=list[PlatformOut])
def list_platforms(
    request: Request, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> list[PlatformOut]:
    """The tenant's learning platforms, with the values each one's administrator needs."""
    return [_out(request, uow, row) for row in platforms.listed(uow)]


@router.post("/platforms", response_model=PlatformOut, status_code=201)
def register(
    request: Request, body: PlatformIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> PlatformOut:
    """Register a learning platform (audited)."""
    row = platforms.create(uow, request.app.state.services.settings, _values(body))
    return _out(request, uow, row)


@router.get("/platforms/{platform_id}", response_model=PlatformOut)
def get_platform(
    request: Request, platform_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> PlatformOut:
    return _out(request, uow, platforms.get(uow, platform_id))


@router.put("/platforms/{platform_id}", response_model=PlatformOut)
def change(
    request: Request,
    platform_id: uuid.UUID,
    body: PlatformIn,
    uow: UnitOfWork = requires(P.TENANT_MANAGE),
) -> PlatformOut:
    """Change a registration (audited)."""
    row = platforms.update(uow, request.app.state.services.settings, platform_id, _values(body))
    return _out(request, uow, row)


@router.delete("/platforms/{platform_id}", status_code=204)
def remove(platform_id: uuid.UUID, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> Response:
    """Remove a registration with its links (audited)."""
    platforms.remove(uow, platform_id)
    return Response(status_code=204)


@router.put("/platforms/{platform_id}/links/{link_id}", response_model=LinkOut)
def map_link(
    platform_id: uuid.UUID,
    link_id: uuid.UUID,
    body: LinkIn,
    uow: UnitOfWork = requires(P.TENANT_MANAGE),
) -> LinkOut:
    """The published exam a resource link opens (null: none)."""
    link = map_exam(uow, platform_id, link_id, body.exam_id)
    return LinkOut(
        id=link.id,
        resource_link_id=link.resource_link_id,
        title=link.title,
        exam_id=link.exam_id,
        has_line_item=link.lineitem_url is not None,
        has_roster_service=link.memberships_url is not None,
    )


def map_exam(
    uow: UnitOfWork, platform_id: uuid.UUID, link_id: uuid.UUID, exam_id: uuid.UUID | None
) -> LtiLink:
    link = uow.get(LtiLink, link_id, label="resource link")
    if link.platform_id != platform_id:
        link = uow.get(LtiLink, uuid.uuid4(), label="resource link")  # not this platform's
    if exam_id is not None:
        exam_id = published_exam(uow, str(exam_id))[0].id
    before = link.exam_id
    link.exam_id = exam_id
    uow.flush()
    if before != exam_id:
        audit.record(
            uow,
            "lti.link_mapped",
            link,
            {"exam_id": exam_id, "before": before, "by": "administrator"},
        )
    return link


class RosterSyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    send_mail: bool = Field(default=False, description="mail each newly invited learner their link")


class RosterSyncOut(BaseModel):
    link_id: uuid.UUID
    queued: bool = Field(description="the sync runs as a job; its outcome is audited")


@router.post(
    "/platforms/{platform_id}/links/{link_id}/roster-sync",
    response_model=RosterSyncOut,
    status_code=202,
)
def sync_roster(
    platform_id: uuid.UUID,
    link_id: uuid.UUID,
    body: RosterSyncIn,
    uow: UnitOfWork = requires(P.TENANT_MANAGE),
) -> RosterSyncOut:
    """Invite the course's learners who have no invitation from this link yet
    (Names and Role Provisioning Services; audited, run as a job)."""
    link = roster.request(uow, platform_id, link_id, send_mail=body.send_mail)
    return RosterSyncOut(link_id=link.id, queued=True)


class RegistrationUrlIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=100)] = Field(
        default="", description="the registration's name (empty: the platform's product)"
    )
    instructor_role: Annotated[str | None, Field(max_length=64)] = None


class RegistrationUrlOut(BaseModel):
    id: uuid.UUID
    url: str = Field(description="give it to the platform once; only its hash is kept")
    expires_at: datetime


@router.post("/registration-urls", response_model=RegistrationUrlOut, status_code=201)
def make_registration_url(
    request: Request, body: RegistrationUrlIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)
) -> RegistrationUrlOut:
    """A one-time URL a platform registers Invigil with (LTI Dynamic
    Registration), spent by its first use, expiring after 24 hours (audited)."""
    made = dynamic.make(uow, request.app.state.services.settings, body.name, body.instructor_role)
    return RegistrationUrlOut(id=made.row.id, url=made.url, expires_at=made.row.expires_at)


class KeyOut(BaseModel):
    kid: str


@router.post("/keys/rotate", response_model=KeyOut)
def rotate_key(request: Request, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> KeyOut:
    """A new tool key signs from now on; the previous one stays published (audited)."""
    return KeyOut(kid=keys.rotate(uow, request.app.state.services.box).kid)
