"""The AI settings page for tenant administrators (``tenant:manage``):
turn AI features on or off, choose which, and optionally name the
organisation's own provider; with ``billing:view`` also the latest calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.ai import config
from invigil.ai.models import AiUsage
from invigil.errors import Conflict, Invalid
from invigil.i18n import N_
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
FormStr = Annotated[str, Form()]
RECENT = 20
PURPOSES = {
    "rubric_suggestion": N_("suggested rubric marks"),
    "question_draft": N_("question drafts"),
}
OUTCOMES = {
    "ok": N_("answered"),
    "timeout": N_("timed out"),
    "rate_limited": N_("rate-limited"),
    "provider_error": N_("provider error"),
    "malformed": N_("unusable answer"),
    "unreachable": N_("unreachable"),
}
SAVED = N_("AI settings saved.")


def _page(request: Request, ctx: PageContext, *, status: int = 200, **values: Any) -> HTMLResponse:
    services = request.app.state.services
    platform = config.platform_provider(services.settings)
    recent = []
    if ctx.can(P.BILLING_VIEW):
        recent = list(
            ctx.uow.scalars(
                select(AiUsage).order_by(AiUsage.created_at.desc(), AiUsage.id.desc()).limit(RECENT)
            )
        )
    values.setdefault("chosen", config.choice(ctx.uow))
    return render(
        request,
        "ai/settings.html",
        {"page": ctx, "platform": platform, "recent": recent, "purposes": PURPOSES,
         "outcomes": OUTCOMES, **values},
        status=status,
    )  # fmt: skip


@router.get("/admin/ai", response_class=HTMLResponse)
def settings_page(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    return _page(request, ctx)


@router.post("/admin/ai", response_class=HTMLResponse)
def settings_save(
    request: Request,
    csrf: FormStr = "",
    enabled: FormStr = "",
    rubric_suggestions: FormStr = "",
    question_drafting: FormStr = "",
    own: FormStr = "",
    base_url: FormStr = "",
    model: FormStr = "",
    api_key: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    services = request.app.state.services
    mine = own == "on"
    key: str | object = api_key[:600] if api_key.strip() else config.KEEP
    try:
        with ctx.uow.session.begin_nested():
            config.update(
                ctx.uow, services.settings, services.box,
                enabled=enabled == "on", rubric_suggestions=rubric_suggestions == "on",
                question_drafting=question_drafting == "on",
                base_url=base_url[:2100] if mine else None, model=model[:120] if mine else None,
                api_key=key if mine else None,
            )  # fmt: skip
    except (Invalid, Conflict) as exc:
        field = str(exc.extensions.get("field") or "enabled")
        shown = config.Choice(
            enabled == "on", rubric_suggestions == "on", question_drafting == "on",
            base_url[:2000] if mine else None, model[:100] if mine else None,
            config.choice(ctx.uow).has_key,
        )  # fmt: skip
        problems = [{"field": field, "message": exc.detail}]
        return _page(request, ctx, status=exc.status, chosen=shown, problems=problems)
    words = i18n.gettext(i18n.locale_of({"request": request}), SAVED)
    return flash.redirect(request, "/admin/ai", words)
