"""Staff pages on attempts: the list, one attempt in full, and releasing a
browser binding. Same services and permissions as the attempts API; scores
are shown only to viewers holding ``result:view``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from invigil.content import exams
from invigil.content.pages.common import TYPE_LABELS
from invigil.delivery import attempt_detail, attempts, review
from invigil.errors import Conflict, Invalid
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
MAX_REASON = 500
# Fixed texts chosen by key: a crafted URL cannot put words on the page.
NOTICES = {
    "released": "Browser released. The candidate's next \u201cStart exam\u201d, from any "
    "browser, continues the attempt there; saved answers are kept."
}
STATUS_LABELS = {"ready": "ready", "in_progress": "in progress", "submitted": "submitted"}
REASONS = {"candidate": "by the candidate", "deadline": "at the deadline"}


def duration(ms: int | None) -> str:
    """Time spent on a question: "45 s", "3 min 05 s", "1 h 02 min"."""
    seconds = round((ms or 0) / 1000)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def stamp(value: datetime | None) -> str:
    """To the second, for timelines (``when`` stops at the minute)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value is not None else "—"


templates.env.filters["duration"] = duration
templates.env.filters["stamp"] = stamp


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("error", None)
    labels = {"status_labels": STATUS_LABELS, "reasons": REASONS, "type_labels": TYPE_LABELS}
    return render(request, f"delivery/{name}", {"page": ctx, **labels, **values}, status=status)


@router.get("/delivery/attempts", response_class=HTMLResponse)
def attempt_list(
    request: Request,
    exam: Annotated[str, Query(max_length=64)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    ctx: PageContext = requires_page(P.ATTEMPT_VIEW),
) -> HTMLResponse:
    form = {"exam": exam, "status": status}
    rows: list[review.Row] = []
    nxt = error = None
    try:
        exam_id = uuid.UUID(exam) if exam else None
    except ValueError:
        exam_id, error = None, "choose an exam from the list"
    if status and status not in review.STATUSES:
        error = "choose a status from the list"
    if error is None:
        try:
            rows, nxt = review.list_rows(
                ctx.uow,
                exam_id=exam_id,
                status=status or None,
                limit=PAGE_SIZE,
                cursor=cursor or None,
                with_results=ctx.can(P.RESULT_VIEW),
            )
        except Invalid as exc:
            error = exc.detail
    taken, _ = exams.list_exams(ctx.uow, status=None, limit=200, cursor=None)
    filters = {k: v for k, v in form.items() if v}
    return _render(
        request,
        "attempts.html",
        ctx,
        rows=rows,
        form=form,
        filtered=bool(filters),
        exams=[e for e in taken if e.published_version is not None],
        next_link=None if nxt is None else "?" + urlencode(filters | {"cursor": nxt}),
        error=error,
    )


def _detail_page(
    request: Request, ctx: PageContext, attempt_id: uuid.UUID, **values: Any
) -> HTMLResponse:
    attempt = review.require_attempt(ctx.uow, attempt_id)
    found = attempt_detail.detail(ctx.uow, attempt, with_result=ctx.can(P.RESULT_VIEW))
    values.setdefault("reason", "")
    return _render(request, "attempt.html", ctx, d=found, **values)


@router.get("/delivery/attempts/{attempt_id}", response_class=HTMLResponse)
def attempt_view(
    request: Request, attempt_id: str, ctx: PageContext = requires_page(P.ATTEMPT_VIEW)
) -> HTMLResponse:
    return _detail_page(request, ctx, _parse_id(attempt_id, "attempt"))


@router.post("/delivery/attempts/{attempt_id}/release", response_class=HTMLResponse)
def attempt_release(
    request: Request,
    attempt_id: str,
    csrf: FormStr = "",
    reason: FormStr = "",
    ctx: PageContext = requires_page(P.ATTEMPT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    aid = _parse_id(attempt_id, "attempt")
    attempt = review.require_attempt(ctx.uow, aid, lock=True)  # 404 first, as for a missing id
    reason = reason.strip()
    try:
        if not reason:
            raise Invalid("say why the browser is released: the reason goes into the audit log")
        if len(reason) > MAX_REASON:
            raise Invalid(f"the reason has at most {MAX_REASON} characters")
        with _change(ctx.uow):
            attempts.release(ctx.uow, attempt, reason)
    except (Invalid, Conflict) as exc:
        return _detail_page(
            request,
            ctx,
            aid,
            status=exc.status,
            error=exc.detail,
            reason=reason[:MAX_REASON],
            form_anchor="release-reason",
        )
    return flash.redirect(request, f"/delivery/attempts/{aid}", NOTICES["released"])
