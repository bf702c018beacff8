"""The tenant's branding page: logo and accent colour (``tenant:manage``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from invigil.errors import Invalid, NotFound
from invigil.identity.pages.common import FormStr, P, _change, _redirect, _render
from invigil.tenants import branding
from invigil.tenants.api import logo_response
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


def _page(request: Request, ctx: PageContext, *, status: int = 200, **values: Any) -> HTMLResponse:
    brand = branding.brand_of(ctx.uow)
    values.setdefault("accent_value", brand.accent if brand.custom_accent else "")
    return _render(
        request,
        "branding.html",
        ctx,
        status=status,
        current=brand,  # not "brand": base.html shows a candidate page's brand by that name
        contrast=round(branding.contrast_with_white(brand.accent), 1),
        max_kib=branding.MAX_BYTES // 1024,
        max_side=branding.MAX_SIDE,
        **values,
    )


@router.get("/admin/branding", response_class=HTMLResponse)
def branding_page(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    return _page(request, ctx)


@router.post("/admin/branding", response_class=HTMLResponse)
def branding_save(
    request: Request,
    csrf: FormStr = "",
    accent: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        with _change(ctx.uow):
            branding.set_accent(ctx.uow, accent[:32])
    except Invalid as exc:
        return _page(
            request,
            ctx,
            status=exc.status,
            accent_error=exc.detail,
            accent_field="accent",
            accent_value=accent[:32],
        )
    return _redirect(request, "/admin/branding", "branding-saved")


@router.post("/admin/branding/logo", response_class=HTMLResponse)
def logo_upload(
    request: Request,
    csrf: FormStr = "",
    logo: Annotated[UploadFile | None, File()] = None,
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        data = logo.file.read(branding.MAX_BYTES + 1) if logo is not None and logo.filename else b""
        with _change(ctx.uow):
            branding.set_logo(ctx.uow, data)
    except Invalid as exc:
        return _page(request, ctx, status=exc.status, logo_error=exc.detail, logo_field="logo")
    return _redirect(request, "/admin/branding", "logo-saved")


@router.post("/admin/branding/logo/remove", response_class=HTMLResponse)
def logo_remove(
    request: Request, csrf: FormStr = "", ctx: PageContext = requires_page(P.TENANT_MANAGE)
) -> Response:
    check_csrf(ctx, csrf)
    with _change(ctx.uow):
        branding.remove_logo(ctx.uow)
    return _redirect(request, "/admin/branding", "logo-removed")


@router.get("/admin/branding/logo")
def logo_image(ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    logo = branding.logo_of(ctx.uow)
    if logo is None:
        raise NotFound("this tenant has no logo")
    return logo_response(logo)
