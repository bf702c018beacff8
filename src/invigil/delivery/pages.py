"""Staff pages: invitations (list, invite one, CSV upload, revoke, rotate)
and the mail outbox. Same services and permissions as the API. A new link
is shown once, on the page that answers the POST (never in a URL)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from invigil.content import exams
from invigil.delivery import bulk, invitations, mail, review
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.schemas import outbox_status
from invigil.errors import Conflict, DomainError, Invalid, NotFound, TooManyRequests
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.pagination import decode_cursor
from invigil.security.permissions import Permission as P
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
NOTICES = {
    "revoked": "Invitation revoked: its link stopped working at once.",
    "resent": "The same link is on its way to the candidate again (see the mail outbox).",
}
EMPTY_FORM = {"name": "", "email": "", "external_ref": "", "exam": "", "valid_hours": "",
              "extra_time_percent": ""}  # fmt: skip


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("notice", NOTICES.get(request.query_params.get("notice", "")))
    values.setdefault("error", None)
    return render(request, f"delivery/{name}", {"page": ctx, **values}, status=status)


def _list_page(
    request: Request,
    ctx: PageContext,
    *,
    status: int = 200,
    cursor: str = "",
    **values: Any,
) -> HTMLResponse:
    try:
        decode_cursor(cursor or None)
        rows, nxt = invitations.list_invitations(ctx.uow, limit=PAGE_SIZE, cursor=cursor or None)
    except (Invalid, ValueError):
        rows, nxt = [], None
    published, _ = exams.list_exams(ctx.uow, status="published", limit=200, cursor=None)
    titles = {e.id: e.title for e in published}
    values.setdefault("form", dict(EMPTY_FORM))
    return _render(
        request,
        "invitations.html",
        ctx,
        status=status,
        rows=[(i, c, invitations.state_of(i)) for i, c in rows],
        latest=review.latest_attempts(ctx.uow, [i.id for i, _ in rows]),
        next_cursor=nxt,
        exams=published,
        titles=titles,
        **values,
    )


@router.get("/delivery/invitations", response_class=HTMLResponse)
def invitation_list(
    request: Request,
    cursor: Annotated[str, Query(max_length=500)] = "",
    ctx: PageContext = requires_page(P.CANDIDATE_VIEW),
) -> HTMLResponse:
    return _list_page(request, ctx, cursor=cursor)


def _int(value: str, what: str) -> int | None:
    if not value.strip():
        return None
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{what} must be a whole number") from None


@router.post("/delivery/invitations", response_class=HTMLResponse)
def invitation_create(
    request: Request,
    csrf: FormStr = "",
    name: FormStr = "",
    email: FormStr = "",
    external_ref: FormStr = "",
    exam: FormStr = "",
    valid_hours: FormStr = "",
    extra_time_percent: FormStr = "",
    ctx: PageContext = requires_page(P.CANDIDATE_INVITE),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"name": name[:200], "email": email[:320], "external_ref": external_ref[:200],
            "exam": exam[:64], "valid_hours": valid_hours[:8],
            "extra_time_percent": extra_time_percent[:8]}  # fmt: skip
    try:
        if not exam:
            raise Invalid("choose the exam")
        req = InviteRequest(
            name=name,
            email=email,
            exam=exam,
            external_ref=external_ref,
            valid_hours=_int(valid_hours, "valid hours"),
            extra_time_percent=_int(extra_time_percent, "extra time"),
        )
        with _change(ctx.uow):
            made = invitations.invite(ctx.uow, Kit.of(request.app.state.services), req)
    except DomainError as exc:
        if isinstance(exc, NotFound | Conflict | Invalid):
            return _list_page(request, ctx, status=exc.status, error=exc.detail, form=form)
        raise
    return _list_page(request, ctx, status=201, created=[made])


@router.post("/delivery/invitations/import", response_class=HTMLResponse)
def invitation_import(
    request: Request,
    csrf: FormStr = "",
    exam: FormStr = "",
    valid_hours: FormStr = "",
    file: Annotated[UploadFile | None, File()] = None,
    ctx: PageContext = requires_page(P.CANDIDATE_INVITE),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        if not exam:
            raise Invalid("nobody was invited: choose the exam")
        if file is None or not file.filename:
            raise Invalid("nobody was invited: choose a CSV file")
        content = file.file.read(bulk.MAX_BYTES + 1)
        with _change(ctx.uow):
            made = bulk.invite_many(
                ctx.uow,
                Kit.of(request.app.state.services),
                content,
                exam=exam,
                valid_hours=_int(valid_hours, "valid hours"),
            )
    except (Invalid, Conflict, NotFound) as exc:
        return _list_page(
            request,
            ctx,
            status=exc.status,
            import_error=exc.detail,
            import_problems=exc.extensions.get("problems", []),
            import_file=file.filename if file is not None else "",
        )
    return _list_page(request, ctx, status=201, created=made)


@router.post("/delivery/invitations/{invitation_id}/revoke", response_class=HTMLResponse)
def invitation_revoke(
    invitation_id: str, csrf: FormStr = "", ctx: PageContext = requires_page(P.CANDIDATE_INVITE)
) -> Response:
    check_csrf(ctx, csrf)
    iid = _parse_id(invitation_id, "invitation")
    invitations.require_invitation(ctx.uow, iid)
    with _change(ctx.uow):
        invitations.revoke(ctx.uow, iid)
    return RedirectResponse("/delivery/invitations?notice=revoked", status_code=303)


@router.post("/delivery/invitations/{invitation_id}/rotate", response_class=HTMLResponse)
def invitation_rotate(
    request: Request,
    invitation_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.CANDIDATE_INVITE),
) -> Response:
    check_csrf(ctx, csrf)
    iid = _parse_id(invitation_id, "invitation")
    invitations.require_invitation(ctx.uow, iid)
    try:
        with _change(ctx.uow):
            made = invitations.rotate(ctx.uow, Kit.of(request.app.state.services), iid)
    except Conflict as exc:
        return _list_page(request, ctx, status=exc.status, error=exc.detail)
    return _list_page(request, ctx, status=201, created=[made], rotated=True)


@router.post("/delivery/invitations/{invitation_id}/resend", response_class=HTMLResponse)
def invitation_resend(
    request: Request,
    invitation_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.CANDIDATE_INVITE),
) -> Response:
    check_csrf(ctx, csrf)
    iid = _parse_id(invitation_id, "invitation")
    invitations.require_invitation(ctx.uow, iid)
    try:
        with _change(ctx.uow):
            invitations.resend(ctx.uow, Kit.of(request.app.state.services), iid)
    except (Conflict, TooManyRequests) as exc:
        return _list_page(request, ctx, status=exc.status, error=exc.detail)
    return RedirectResponse("/delivery/invitations?notice=resent", status_code=303)


@router.get("/delivery/outbox", response_class=HTMLResponse)
def outbox(
    request: Request,
    cursor: Annotated[str, Query(max_length=500)] = "",
    ctx: PageContext = requires_page(P.CANDIDATE_VIEW),
) -> HTMLResponse:
    try:
        rows, nxt = mail.list_outbox(ctx.uow, limit=PAGE_SIZE, cursor=cursor or None)
    except Invalid:
        rows, nxt = [], None
    return _render(
        request,
        "outbox.html",
        ctx,
        rows=[(m, outbox_status(m), mail.shown_body(m)) for m in rows],
        next_cursor=nxt,
        smtp=mail.smtp_configured(request.app.state.settings),
    )
