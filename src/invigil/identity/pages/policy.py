"""The tenant's security policy page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from invigil.errors import Conflict, Invalid
from invigil.identity.pages.common import (
    FormStr,
    P,
    _change,
    _redirect,
    _render,
    viewer_user,
)
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


# -- tenant security policy -----------------------------------------------------------


def _security_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    return _render(
        request,
        "security.html",
        ctx,
        status=status,
        tenant=ctx.uow.get(Tenant, ctx.uow.tenant),
        own_mfa=viewer_user(ctx).totp_enabled_at is not None,
        **values,
    )


@router.get("/admin/security", response_class=HTMLResponse)
def security(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> HTMLResponse:
    return _security_page(request, ctx)


@router.post("/admin/security", response_class=HTMLResponse)
def security_save(
    request: Request,
    csrf: FormStr = "",
    require_mfa_for_admins: Annotated[str | None, Form()] = None,
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            tenants.set_mfa_policy(ctx.uow, require_for_admins=require_mfa_for_admins is not None)
    except (Invalid, Conflict) as exc:
        return _security_page(
            request, ctx, status=exc.status, error=exc.detail, form_anchor="mfa-h"
        )
    return _redirect(request, "/admin/security", "policy-saved")
