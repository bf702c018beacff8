"""The marking page's AI actions: "Suggest marks" and "Discard".

"Suggest marks" waits for the tenant's AI provider, so its route holds no
transaction while it waits (``requires_page_caller``); the suggestion then
shows beside the marking form (invigil.results.grading_pages), never as a
mark. A failed call shows the marking page again with what went wrong.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from invigil.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from invigil.i18n import N_
from invigil.identity.pages.common import _change, _parse_id
from invigil.results import grading, suggest, suggestions
from invigil.results.grading_pages import _mark_page, say
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.session import PageContext, check_csrf, requires_page, requires_page_caller

router = APIRouter(include_in_schema=False)
READY = N_("AI-suggested marks are shown beside your form. They are not a mark: you decide.")
DISCARDED = N_("Suggestion discarded.")


class SuggestionForm(BaseModel):
    csrf: str = ""
    suggestion: str = ""


@router.post("/grading/{attempt}/{slot}/suggestions", response_class=HTMLResponse)
def suggest_marks(
    request: Request,
    attempt: str,
    slot: str,
    form: Annotated[SuggestionForm, Form()],
    ctx: PageContext = requires_page_caller(P.GRADE_SUBMIT),
) -> Response:
    check_csrf(ctx, form.csrf)
    aid = _parse_id(attempt, "attempt")
    db, services = request.app.state.db, request.app.state.services
    tenant, actor = ctx.uow.tenant, ctx.uow.actor
    try:
        row = suggest.suggest(db, tenant, actor, services.settings, services.box, aid, slot)
    except (NotFound, Forbidden, Unauthorized):
        raise
    except DomainError as exc:  # AI off, a provider failure, no credit: say so on the page
        with db.unit_of_work(tenant, actor) as uow:
            shown = dataclasses.replace(ctx, uow=uow)
            request.state.page = shown
            return _mark_page(request, shown, aid, slot, status=exc.status, error=exc.detail,
                              form_anchor="suggestion-h")  # fmt: skip
    return flash.redirect(request, f"/grading/{aid}/{row.slot}", say(request, READY))


@router.post("/grading/{attempt}/{slot}/suggestions/discard", response_class=HTMLResponse)
def discard_suggestion(
    request: Request,
    attempt: str,
    slot: str,
    form: Annotated[SuggestionForm, Form()],
    ctx: PageContext = requires_page(P.GRADE_SUBMIT),
) -> Response:
    check_csrf(ctx, form.csrf)
    aid = _parse_id(attempt, "attempt")
    found = grading.response(ctx.uow, aid, slot)  # 404 first, as for a missing id
    try:
        which = _parse_id(form.suggestion, "suggestion")
        with _change(ctx.uow):
            suggestions.discard(ctx.uow, aid, found.slot, which)
    except (Invalid, Conflict, NotFound) as exc:
        return _mark_page(request, ctx, aid, found.slot, status=exc.status, error=exc.detail)
    return flash.redirect(request, f"/grading/{aid}/{found.slot}", say(request, DISCARDED))
