"""Single sign-on settings over the API: ``/api/v1/tenant/sso`` (GET, PUT,
DELETE), one permission for all of it: ``tenant:manage``. The client secret
goes in and never comes out (``has_client_secret`` says whether one is kept)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from invigil.db.uow import UnitOfWork
from invigil.identity import sso, sso_signin
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["tenant"])

Short = Annotated[str, Field(max_length=200)]


class RoleMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Annotated[str, Field(min_length=1, max_length=200, description="a claim value")]
    role: Annotated[str, Field(min_length=1, max_length=64, description="an Invigil role's name")]


class SsoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    display_name: Annotated[str, Field(max_length=100, description="the sign-in button's name")]
    issuer: Annotated[str, Field(max_length=2000, description="the provider's issuer URL")]
    client_id: Annotated[str, Field(max_length=500)]
    client_secret: Annotated[
        str | None,
        Field(
            max_length=1000,
            description="a new secret; omit to keep the stored one; empty string to remove it",
        ),
    ] = None
    allowed_domains: Annotated[list[Annotated[str, Field(max_length=253)]], Field(max_length=50)]
    role_claim: Annotated[str, Field(max_length=100)] = "groups"
    role_mappings: Annotated[list[RoleMapping], Field(max_length=100)] = []
    jit_enabled: bool = False
    jit_role: Annotated[str | None, Field(max_length=64)] = None
    sso_required: bool = False
    break_glass_user_ids: Annotated[list[uuid.UUID], Field(max_length=10)] = []
    require_mfa: bool = True
    mfa_acr_values: Annotated[list[Short], Field(max_length=20)] = []


class SsoOut(BaseModel):
    configured: bool
    enabled: bool
    display_name: str
    issuer: str
    client_id: str
    has_client_secret: bool
    redirect_uri: str
    allowed_domains: list[str]
    role_claim: str
    role_mappings: list[RoleMapping]
    jit_enabled: bool
    jit_role: str | None
    sso_required: bool
    break_glass_user_ids: list[uuid.UUID]
    require_mfa: bool
    mfa_acr_values: list[str]


def _out(request: Request, v: sso.View) -> SsoOut:
    return SsoOut(
        configured=v.configured,
        enabled=v.enabled,
        display_name=v.display_name,
        issuer=v.issuer,
        client_id=v.client_id,
        has_client_secret=v.has_client_secret,
        redirect_uri=sso_signin.callback_url(request.app.state.services.settings),
        allowed_domains=list(v.allowed_domains),
        role_claim=v.role_claim,
        role_mappings=[RoleMapping(value=m.value, role=m.role) for m in v.role_mappings],
        jit_enabled=v.jit_enabled,
        jit_role=v.jit_role,
        sso_required=v.sso_required,
        break_glass_user_ids=list(v.break_glass),
        require_mfa=v.require_mfa,
        mfa_acr_values=list(v.mfa_acr_values),
    )


@router.get("/tenant/sso", response_model=SsoOut)
def get_sso(request: Request, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> SsoOut:
    """The tenant's single sign-on settings (never the client secret)."""
    return _out(request, sso.view(sso.config_of(uow)))


@router.put("/tenant/sso", response_model=SsoOut)
def put_sso(request: Request, body: SsoIn, uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> SsoOut:
    """Save the settings (audited). Mapping a claim to a role, or giving new
    accounts a role, needs every permission of that role."""
    services = request.app.state.services
    secret: str | object | None = sso.KEEP
    if body.client_secret is not None:
        secret = body.client_secret if body.client_secret.strip() else None
    saved = sso.update(
        uow, services.settings, services.box,
        enabled=body.enabled, display_name=body.display_name, issuer=body.issuer,
        client_id=body.client_id, client_secret=secret, allowed_domains=body.allowed_domains,
        role_claim=body.role_claim,
        role_mappings=[(m.value, m.role) for m in body.role_mappings],
        jit_enabled=body.jit_enabled, jit_role=body.jit_role, sso_required=body.sso_required,
        break_glass=body.break_glass_user_ids, require_mfa=body.require_mfa,
        mfa_acr_values=body.mfa_acr_values,
    )  # fmt: skip
    return _out(request, saved)


@router.delete("/tenant/sso", status_code=204)
def delete_sso(uow: UnitOfWork = requires(P.TENANT_MANAGE)) -> Response:
    """Remove the provider: passwords work again for everyone (audited)."""
    sso.remove(uow)
    return Response(status_code=204)
