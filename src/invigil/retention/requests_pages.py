"""Staff pages for data-subject requests (permission privacy:request): the
list with due dates (overdue ones marked), recording a new request, and one
request with the actions its kind allows. Same services as the API
(:mod:`invigil.retention.requests`)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from invigil import i18n
from invigil.errors import Conflict, Invalid
from invigil.evidence.api import guarded
from invigil.i18n import N_
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.retention import requests
from invigil.retention.models import PrivacyRequest
from invigil.retention.policy import REQUEST_DUE_DAYS
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
BASE = "/admin/privacy/requests"
NOTICES = {
    "received": N_("Request recorded. It is due on %(due)s."),
    "exported": N_(
        "The export is being built. This page shows it once it is ready, usually within minutes."
    ),
    "erased": N_("The person's data was erased and the request completed."),
    "refused": N_("Request refused."),
    "completed": N_("Request completed."),
}
STATUS_FILTER = [("open", N_("Open")), ("completed", N_("Completed")), ("refused", N_("Refused"))]
# The service's English messages, as the pages say them (by field).
FIELD_WORDS = {
    "email": N_("no candidate of this organisation has this e-mail address"),
    "kind": N_("choose the kind of request"),
    "channel": N_("choose how the request came in"),
    "note": N_("the note has at most %(n)s characters"),
    "received_at": N_(
        "write the day the request was received as YYYY-MM-DD: today or earlier, at most a "
        "year back"
    ),
    "reason": N_("say why: the reason is required (at most %(n)s characters)"),
    "outcome": N_("say what was done: the outcome is required (at most %(n)s characters)"),
    "confirm": N_("confirm the erasure: it cannot be undone"),
}


def say(request: Request, message: str) -> str:
    """``message`` (marked N_) in the language of the page that asked."""
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def _words(request: Request, field: str) -> str:
    n = requests.MAX_NOTE if field == "note" else requests.MAX_OUTCOME
    words = say(request, FIELD_WORDS[field])
    return words % {"n": n} if "%(n)s" in FIELD_WORDS[field] else words


def _render(request: Request, name: str, ctx: PageContext, **values: Any) -> HTMLResponse:
    status = values.pop("status", 200)
    return render(
        request,
        f"retention/{name}",
        {
            "page": ctx,
            "kind_labels": requests.KIND_LABELS,
            "channel_labels": requests.CHANNEL_LABELS,
            "status_labels": requests.STATUS_LABELS,
            "today": requests.today(),
            "due_days": REQUEST_DUE_DAYS,
            **values,
        },
        status=status,
    )


@router.get(BASE, response_class=HTMLResponse)
def request_list(request: Request, ctx: PageContext = requires_page(P.PRIVACY_REQUEST)) -> Response:
    status = request.query_params.get("status", "")
    if status not in ("", *requests.STATUSES):
        raise Invalid(say(request, N_("choose a status from the list")), field="status")
    found = requests.listing(ctx.uow, status=status or None)
    people = {c.id: c for c in (requests.candidate_of(ctx.uow, r) for r in found)}
    today = requests.today()
    return _render(
        request, "requests.html", ctx, rows=found, people=people, chosen=status,
        statuses=STATUS_FILTER, overdue={r.id for r in found if requests.is_overdue(r, today)},
    )  # fmt: skip


def _new_form(request: Request, ctx: PageContext, **values: Any) -> HTMLResponse:
    values.setdefault(
        "form",
        {"email": "", "kind": "", "channel": "email", "received_at": "", "note": ""},
    )
    return _render(request, "request_new.html", ctx, **values)


@router.get(f"{BASE}/new", response_class=HTMLResponse)
def request_new(request: Request, ctx: PageContext = requires_page(P.PRIVACY_REQUEST)) -> Response:
    email = request.query_params.get("email", "")[: requests.MAX_EMAIL]
    form = {"email": email, "kind": "", "channel": "email", "received_at": "", "note": ""}
    return _new_form(request, ctx, form=form)


def _day(value: str, request: Request) -> date | None:
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise Invalid(_words(request, "received_at"), field="received_at") from None


@router.post(BASE, response_class=HTMLResponse)
def request_create(
    request: Request,
    csrf: FormStr = "",
    email: FormStr = "",
    kind: FormStr = "",
    channel: FormStr = "email",
    received_at: FormStr = "",
    note: FormStr = "",
    ctx: PageContext = requires_page(P.PRIVACY_REQUEST),
) -> Response:
    check_csrf(ctx, csrf)
    form = {
        "email": email.strip()[: requests.MAX_EMAIL],
        "kind": kind if kind in requests.KINDS else "",
        "channel": channel if channel in requests.CHANNELS else "email",
        "received_at": received_at[:10],
        "note": note[: requests.MAX_NOTE * 2],
    }
    try:
        day = _day(received_at, request)
        with _change(ctx.uow):
            person = requests.find_candidate(ctx.uow, email)
            row = requests.receive(
                ctx.uow, candidate_id=person.id, kind=kind, received_at=day,
                channel=channel, note=note,
            )  # fmt: skip
    except Invalid as exc:
        field = str(exc.extensions.get("field") or "email")
        message = _words(request, field) if field in FIELD_WORDS else exc.detail
        return _new_form(
            request, ctx, form=form, status=422,
            problems=[{"field": field, "message": message}],
        )  # fmt: skip
    due = i18n.local_date(row.due_at, i18n.locale_of({"request": request}))
    return flash.redirect(request, f"{BASE}/{row.id}", say(request, NOTICES["received"]) % {
        "due": due})  # fmt: skip


def _detail(
    request: Request, ctx: PageContext, request_id: uuid.UUID, **values: Any
) -> HTMLResponse:
    row = requests.get(ctx.uow, request_id)
    values.setdefault("form", {"erase_reason": "", "refuse_reason": "", "outcome": ""})
    return _render(
        request, "request.html", ctx, r=row, person=requests.candidate_of(ctx.uow, row),
        overdue=requests.is_overdue(row), late=_late(row),
        held=row.kind == "erasure" and row.status == "open"
        and requests.held(ctx.uow, row.candidate_id),
        **values,
    )  # fmt: skip


def _late(row: PrivacyRequest) -> bool:
    return row.completed_at is not None and row.completed_at.date() > row.due_at


@router.get(BASE + "/{privacy_request_id}", response_class=HTMLResponse)
def request_view(
    request: Request, privacy_request_id: str, ctx: PageContext = requires_page(P.PRIVACY_REQUEST)
) -> Response:
    return _detail(request, ctx, _parse_id(privacy_request_id, "privacy request"))


def _act(
    request: Request, ctx: PageContext, privacy_request_id: str, section: str, notice: str,
    work: Any,
    form: dict[str, str],
) -> Response:  # fmt: skip
    rid = _parse_id(privacy_request_id, "privacy request")
    requests.get(ctx.uow, rid)  # 404 first, as for a missing id
    try:
        with _change(ctx.uow):
            work(rid)
    except (Invalid, Conflict) as exc:
        field = str(exc.extensions.get("field") or "")
        message = _words(request, field) if field in FIELD_WORDS else exc.detail
        if isinstance(exc, requests.NotOpen):
            message = say(request, N_("this request is finished already: a request ends once"))
        problem = {"message": message, **({"field": field} if field else {})}
        return _detail(
            request, ctx, rid, status=exc.status, form=form,
            **{f"{section}_problems": [problem]},
        )  # fmt: skip
    return flash.redirect(request, f"{BASE}/{rid}", say(request, NOTICES[notice]))


@router.post(BASE + "/{privacy_request_id}/export", response_class=HTMLResponse)
def request_export(
    request: Request,
    privacy_request_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.PRIVACY_REQUEST),
) -> Response:
    check_csrf(ctx, csrf)
    return _act(
        request, ctx, privacy_request_id, "export", "exported",
        lambda rid: requests.queue_export(ctx.uow, rid), {},
    )  # fmt: skip


@router.get(BASE + "/{privacy_request_id}/export")
def request_download(
    request: Request, privacy_request_id: str, ctx: PageContext = requires_page(P.PRIVACY_REQUEST)
) -> Response:
    rid = _parse_id(privacy_request_id, "privacy request")
    row, pieces = requests.open_export(ctx.uow, request.app.state.services.evidence, rid)
    return StreamingResponse(
        guarded(pieces),
        media_type="application/zip",
        headers={
            "Content-Length": str(row.export_size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Disposition": f'attachment; filename="{requests.export_name(row)}"',
        },
    )


@router.post(BASE + "/{privacy_request_id}/erase", response_class=HTMLResponse)
def request_erase(
    request: Request,
    privacy_request_id: str,
    csrf: FormStr = "",
    reason: FormStr = "",
    confirm: FormStr = "",
    ctx: PageContext = requires_page(P.PRIVACY_REQUEST),
) -> Response:
    check_csrf(ctx, csrf)
    evidence = request.app.state.services.evidence

    def work(rid: uuid.UUID) -> None:
        if confirm != "yes":
            requests._text(reason, "reason", requests.MAX_OUTCOME, required=True)
            raise Invalid("confirm the erasure", field="confirm")
        requests.erase(ctx.uow, evidence, rid, reason)

    form = {"erase_reason": reason[: requests.MAX_OUTCOME * 2], "refuse_reason": "", "outcome": ""}
    return _act(request, ctx, privacy_request_id, "erase", "erased", work, form)


@router.post(BASE + "/{privacy_request_id}/refuse", response_class=HTMLResponse)
def request_refuse(
    request: Request,
    privacy_request_id: str,
    csrf: FormStr = "",
    reason: FormStr = "",
    ctx: PageContext = requires_page(P.PRIVACY_REQUEST),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"erase_reason": "", "refuse_reason": reason[: requests.MAX_OUTCOME * 2], "outcome": ""}
    return _act(
        request, ctx, privacy_request_id, "refuse", "refused",
        lambda rid: requests.refuse(ctx.uow, rid, reason), form,
    )  # fmt: skip


@router.post(BASE + "/{privacy_request_id}/complete", response_class=HTMLResponse)
def request_complete(
    request: Request,
    privacy_request_id: str,
    csrf: FormStr = "",
    outcome: FormStr = "",
    ctx: PageContext = requires_page(P.PRIVACY_REQUEST),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"erase_reason": "", "refuse_reason": "", "outcome": outcome[: requests.MAX_OUTCOME * 2]}
    return _act(
        request, ctx, privacy_request_id, "complete", "completed",
        lambda rid: requests.complete(ctx.uow, rid, outcome), form,
    )  # fmt: skip
