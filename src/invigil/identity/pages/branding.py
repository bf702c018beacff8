"""The tenant's branding page: logo and accent colour (``tenant:manage``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from invigil import i18n
from invigil.errors import Invalid, NotFound
from invigil.identity.pages.common import FormStr, P, _change, _redirect, _render
from invigil.tenants import branding
from invigil.tenants import service as tenants
from invigil.tenants.api import logo_response
from invigil.tenants.models import Tenant
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


def _page(request: Request, ctx: PageContext, *, status: int = 200, **values: Any) -> HTMLResponse:
    brand = branding.brand_of(ctx.uow)
    values.setdefault("accent_value", brand.accent if brand.custom_accent else "")
    tenant = ctx.uow.get(Tenant, ctx.uow.tenant)
    values.setdefault("enabled", list(tenant.languages))
    values.setdefault("default_language", tenant.default_language or "")
    return _render(
        request,
        "branding.html",
        ctx,
        status=status,
        current=brand,  # not "brand": base.html shows a candidate page's brand by that name
        contrast=round(branding.contrast_with_white(brand.accent), 1),
        max_kib=branding.MAX_BYTES // 1024,
        max_side=branding.MAX_SIDE,
        offered=list(i18n.all_languages()),
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


@router.post("/admin/branding/languages", response_class=HTMLResponse)
def languages_save(
    request: Request,
    csrf: FormStr = "",
    languages: Annotated[list[str] | None, Form()] = None,
    default_language: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    """The languages candidates may read, and the default one ("": their browser decides)."""
    check_csrf(ctx, csrf)
    chosen = [code[:16] for code in (languages or [])[:40]]
    try:
        with _change(ctx.uow):
            tenants.set_languages(ctx.uow, chosen, default_language[:16] or None)
    except Invalid as exc:
        return _page(
            request,
            ctx,
            status=exc.status,
            languages_error=exc.detail,
            enabled=chosen,
            default_language=default_language[:16],
        )
    return _redirect(request, "/admin/branding", "languages-saved")


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
