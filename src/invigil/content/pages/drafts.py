"""AI question drafts for people: ask on the bank's page, review each draft in
the question editor (filled with it), save it as a question or discard it.

Asking waits for the provider, so that page holds no transaction while it
does (``requires_page_caller``) and opens its own unit of work to answer.
Nothing of this shows where the tenant has not opted in or no provider is
configured (``drafting.available``).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from invigil import i18n
from invigil.content import banks, drafting
from invigil.content.models import QuestionDraft
from invigil.content.pages import banks as bank_pages
from invigil.content.pages.common import problems, render
from invigil.content.pages.forms import FormProblem, QuestionForm, from_version, to_input
from invigil.content.pages.questions import _editor
from invigil.content.schemas import QuestionIn
from invigil.errors import Conflict, DomainError, Invalid, NotFound
from invigil.i18n import N_
from invigil.identity.pages.common import FormList, FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.session import PageContext, check_csrf, requires_page, requires_page_caller

router = APIRouter(include_in_schema=False)
QuestionFields = Annotated[QuestionForm, Form()]
DRAFT_LABELS = {
    "topic": N_("Topic or learning objective"),
    "count": N_("Number of questions"),
    "types": N_("Types of question"),
    "difficulty": N_("Difficulty"),
    "language": N_("Language"),
}


def _say(request: Request) -> Any:
    return i18n.translations(i18n.locale_of({"request": request}))


@router.post("/authoring/banks/{bank_id}/drafts", response_class=HTMLResponse)
def drafts_create(
    request: Request,
    bank_id: str,
    csrf: FormStr = "",
    topic: FormStr = "",
    count: FormStr = "3",
    types: FormList = None,
    difficulty: FormStr = "medium",
    language: FormStr = "",
    ctx: PageContext = requires_page_caller(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    bid = _parse_id(bank_id, "question bank")
    state = request.app.state
    form = {"topic": topic[:drafting.MAX_TOPIC], "count": count[:4], "types": (types or [])[:10],
            "difficulty": difficulty[:8], "language": language[:16]}  # fmt: skip
    t = _say(request)
    found: list[dict[str, str]] = []
    status = 422
    try:
        asked = drafting.DraftRequest.model_validate(
            {
                "topic": topic,
                "count": count.strip() or "0",
                "types": types or [],
                "difficulty": difficulty,
                "language": language,
            }
        )
    except ValidationError as exc:
        found = problems(exc, DRAFT_LABELS, request)
    else:
        try:
            done = drafting.draft(
                state.db, ctx.uow.tenant, ctx.uow.actor, state.settings, state.services.box,
                bid, asked,
            )  # fmt: skip
        except NotFound:
            raise
        except DomainError as exc:
            found, status = [{"field": "", "message": exc.detail}], exc.status
        else:
            n = len(done.drafts)
            text = t.ngettext(
                "%(n)s draft is ready for your review.",
                "%(n)s drafts are ready for your review.",
                n,
            ) % {"n": n}
            for r in done.rejected:  # the first problem each: the notice rides in a cookie
                text += " " + t.gettext("Proposal %(n)s was not kept: %(why)s.") % {
                    "n": r.number,
                    "why": r.problems[0][:160].rstrip("."),
                }
            text = text if len(text) <= 1500 else text[:1499] + "\u2026"
            return flash.redirect(request, f"/authoring/banks/{bid}/drafts", text)
    with state.db.unit_of_work(ctx.uow.tenant, ctx.uow.actor) as uow:
        page = dataclasses.replace(ctx, uow=uow)
        return bank_pages.bank_page(
            request, page, bid, status=status, draft_problems=found, draft_form=form
        )


def _draft(ctx: PageContext, draft_id: str) -> QuestionDraft:
    return drafting.require_draft(ctx.uow, _parse_id(draft_id, "question draft"))


@router.get("/authoring/banks/{bank_id}/drafts", response_class=HTMLResponse)
def drafts_list(
    request: Request, bank_id: str, ctx: PageContext = requires_page(P.QUESTION_MANAGE)
) -> HTMLResponse:
    bank = banks.require_bank(ctx.uow, _parse_id(bank_id, "question bank"))
    rows = [(d, d.content) for d in drafting.pending(ctx.uow, bank.id)]
    return render(request, "drafts.html", ctx, bank=bank, rows=rows)


def _review(
    request: Request,
    ctx: PageContext,
    d: QuestionDraft,
    *,
    form: QuestionForm | None = None,
    status: int = 200,
    found: list[dict[str, str]] | None = None,
) -> HTMLResponse:
    return _editor(
        request,
        ctx,
        "draft.html",
        form=form or from_version(drafting.as_version(d), d.type),
        kind=d.type,
        status=status,
        found=found,
        bank=banks.require_bank(ctx.uow, d.bank_id),
        draft=d,
        language=d.content.get("language", ""),
    )


@router.get("/authoring/drafts/{draft_id}", response_class=HTMLResponse)
def draft_review(
    request: Request, draft_id: str, ctx: PageContext = requires_page(P.QUESTION_MANAGE)
) -> HTMLResponse:
    return _review(request, ctx, _draft(ctx, draft_id))


@router.post("/authoring/drafts/{draft_id}", response_class=HTMLResponse)
def draft_accept(
    request: Request,
    draft_id: str,
    form: QuestionFields,
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, form.csrf)
    d = _draft(ctx, draft_id)
    found: list[dict[str, str]] = []
    status = 422
    try:
        data = to_input(form, d.type) | {"language": d.content.get("language", "en")}
        reviewed = QuestionIn.model_validate(data)
    except FormProblem as exc:
        found = [{"field": exc.field, "message": exc.message}]
    except ValidationError as exc:
        found = problems(exc, None, request)
    else:
        try:
            with _change(ctx.uow):
                made = drafting.accept(ctx.uow, d.id, reviewed)
        except (Invalid, Conflict) as exc:
            found, status = [{"field": "", "message": exc.detail}], exc.status
        else:
            text = _say(request).gettext(
                "Question created from the AI draft (version 1). The draft's provenance is "
                "kept on the version."
            )
            return flash.redirect(request, f"/authoring/questions/{made.question.id}", text)
    return _review(request, ctx, d, form=form, status=status, found=found)


@router.post("/authoring/drafts/{draft_id}/discard", response_class=HTMLResponse)
def draft_discard(
    request: Request,
    draft_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    d = _draft(ctx, draft_id)
    with _change(ctx.uow):
        drafting.discard(ctx.uow, d.id)
    text = _say(request).gettext("Draft discarded. The bank is unchanged.")
    return flash.redirect(request, f"/authoring/banks/{d.bank_id}/drafts", text)
