"""The trust report for tenant admins (permission retention:view): the page
``/admin/trust`` and the same report downloaded as HTML or PDF, each built
from the live settings when asked (invigil.retention.trust, ADR 0061), and
the button that asks for the audit log to be verified now (a job; the page
shows its result once it has run)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.exc import IntegrityError

from invigil import i18n
from invigil.i18n import N_
from invigil.retention import jobs, trust
from invigil.retention.pages import FormStr
from invigil.security.permissions import Permission
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
P = Permission


def _report(request: Request, ctx: PageContext) -> dict[str, Any]:
    services = request.app.state.services
    return trust.build(ctx.uow, services.settings, services.keys)


def _download(data: bytes, media_type: str, report: dict[str, Any], suffix: str) -> Response:
    day = report["generated_at"][:10]
    name = f"trust-report-{report['tenant']['slug']}-{day}.{suffix}"  # a slug: [a-z0-9-]
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get("/admin/trust", response_class=HTMLResponse)
def trust_page(request: Request, ctx: PageContext = requires_page(P.RETENTION_VIEW)) -> Response:
    locale = i18n.locale_of({"request": request})
    report = _report(request, ctx)
    return render(
        request,
        "retention/trust.html",
        {"page": ctx, "r": report, "v": trust.View(report, locale), "verify_form": True},
    )


@router.get("/admin/trust/report.pdf")
def trust_pdf(request: Request, ctx: PageContext = requires_page(P.RETENTION_VIEW)) -> Response:
    locale = i18n.locale_of({"request": request})
    report = _report(request, ctx)
    return _download(trust.pdf(ctx.uow, report, locale), "application/pdf", report, "pdf")


@router.get("/admin/trust/report.html")
def trust_html(request: Request, ctx: PageContext = requires_page(P.RETENTION_VIEW)) -> Response:
    locale = i18n.locale_of({"request": request})
    report = _report(request, ctx)
    page = trust.html(ctx.uow, report, locale).encode()
    return _download(page, "text/html; charset=utf-8", report, "html")


QUEUED = N_(
    "Verification queued: this page shows its result once it has run (usually within a minute)."
)
ALREADY = N_("A verification is already queued; this page shows its result once it has run.")


@router.post("/admin/trust/verify")
def trust_verify(
    request: Request, csrf: FormStr = "", ctx: PageContext = requires_page(P.RETENTION_VIEW)
) -> Response:
    """Queue a verification of this organisation's log (at most one waiting:
    the queueing lock refuses a second until the first has started)."""
    check_csrf(ctx, csrf)
    locale = i18n.locale_of({"request": request})
    notice = QUEUED
    try:
        with ctx.uow.session.begin_nested():
            ctx.uow.defer(
                jobs.VERIFY_TENANT_TASK,
                queue="maintenance",
                lock=f"audit-verify:{ctx.uow.tenant}",
                tenant_id=str(ctx.uow.tenant),
                requested_by=str(ctx.user_id),
            )
    except IntegrityError:
        notice = ALREADY
    return flash.redirect(request, "/admin/trust#trust-audit", i18n.gettext(locale, notice))
