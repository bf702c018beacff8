"""Staff pages: invitations (list, invite one, CSV upload, revoke, rotate)
and the mail outbox. Same services and permissions as the API. A new link
is shown once, on the page that answers the POST (never in a URL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from invigil import i18n
from invigil.content import exams
from invigil.delivery import bulk, invitations, mail, review
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.models import Candidate, Invitation, OutboxMail
from invigil.delivery.schemas import outbox_status
from invigil.errors import Conflict, DomainError, Invalid, NotFound, TooManyRequests
from invigil.i18n import N_
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.tenants.models import Tenant
from invigil.web import flash, table
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
NOTICES = {
    "revoked": N_("Invitation revoked: its link stopped working at once."),
    "resent": N_("The same link is on its way to the candidate again (see the mail outbox)."),
}
# An invitation's state (invitations.STATES) in words, translated where shown.
STATE_LABELS = {
    "open": N_("Open"),
    "not_yet_open": N_("Not yet open"),
    "expired": N_("Expired"),
    "revoked": N_("Revoked"),
}
templates.env.globals["invitation_state_labels"] = STATE_LABELS
OUTBOX_LABELS = {"sent": N_("sent"), "not_sent": N_("not sent"), "queued": N_("queued")}
templates.env.globals["outbox_status_labels"] = OUTBOX_LABELS


def say(request: Request, message: str) -> str:
    """``message`` (marked N_) in the language of the page that asked."""
    return i18n.gettext(i18n.locale_of({"request": request}), message)


EMPTY_FORM = {"name": "", "email": "", "external_ref": "", "exam": "", "valid_hours": "",
              "extra_time_percent": "", "language": ""}  # fmt: skip


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("error", None)
    return render(request, f"delivery/{name}", {"page": ctx, **values}, status=status)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def invitations_table(
    exam_options: list[tuple[str, str]], titles: dict[Any, str], *, actions: bool
) -> table.Table:
    """Invitations with their candidates: search by candidate, filter by exam and state."""
    return table.Table(
        name="invitations",
        path="/delivery/invitations",
        caption=N_("Invitations"),
        columns=(
            table.Column(
                "candidate", N_("Candidate"), func.lower(Candidate.name), export=lambda r: r[1].name
            ),
            table.Column(
                "email", N_("Email"), func.lower(Candidate.email), export=lambda r: r[1].email
            ),
            table.Column("exam", N_("Exam"), export=lambda r: titles.get(r[0].exam_id, "")),
            table.Column(
                "invited",
                N_("Invited"),
                Invitation.created_at,
                datetime.fromisoformat,
                export=lambda r: _iso(r[0].created_at),
            ),
            table.Column(
                "opens",
                N_("Window"),
                Invitation.opens_at,
                datetime.fromisoformat,
                export=lambda r: _iso(r[0].opens_at),
            ),
            table.Column("state", N_("State"), export=lambda r: invitations.state_of(r[0])),
            table.Column("attempt", N_("Attempt")),
            *([table.Column("actions", N_("Actions"))] if actions else []),
        ),
        id=Invitation.id,
        default_sort="-invited",
        search=(Candidate.name, Candidate.email, Candidate.external_ref),
        search_label=N_("Candidate name, email or reference"),
        filters=(
            table.Filter(
                "exam",
                N_("Exam"),
                exam_options,
                lambda stmt, v: stmt.where(Invitation.exam_id == uuid.UUID(v)),
                all_label=N_("All exams"),
            ),
            table.Filter(
                "state",
                N_("State"),
                [(k, STATE_LABELS[k]) for k in invitations.STATES],
                lambda stmt, v: stmt.where(invitations.in_state(v)),
                all_label=N_("Any state"),
            ),
        ),
        empty=N_("No one has been invited yet."),
        empty_filtered=N_("No invitation matches this search or these filters."),
    )


def _list_page(request: Request, ctx: PageContext, *, status: int = 200, **values: Any) -> Response:
    published, _ = exams.list_exams(ctx.uow, status="published", limit=200, cursor=None)
    every, _ = exams.list_exams(ctx.uow, status=None, limit=200, cursor=None)
    titles = {e.id: e.title for e in every}
    options = [(str(e.id), f"{e.title} ({e.slug})") for e in every]
    spec = invitations_table(options, titles, actions=ctx.can(P.CANDIDATE_INVITE))
    view = table.read(spec, request.query_params)
    if view.csv:
        return table.csv_response(view, table.all_rows(ctx.uow, view, invitations.rows_select()))
    shown = table.fetch(ctx.uow, view, invitations.rows_select())
    rows = [(i, c, invitations.state_of(i)) for i, c in shown.rows]
    values.setdefault("form", dict(EMPTY_FORM))
    return _render(
        request,
        "invitations.html",
        ctx,
        status=status,
        t=shown.with_rows(rows),
        latest=review.latest_attempts(ctx.uow, [i.id for i, _, _ in rows]),
        exams=published,
        titles=titles,
        tenant_languages=ctx.uow.get(Tenant, ctx.uow.tenant).languages,
        **values,
    )


@router.get("/delivery/invitations", response_class=HTMLResponse)
def invitation_list(
    request: Request, ctx: PageContext = requires_page(P.CANDIDATE_VIEW)
) -> Response:
    return _list_page(request, ctx)


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
    language: FormStr = "",
    ctx: PageContext = requires_page(P.CANDIDATE_INVITE),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"name": name[:200], "email": email[:320], "external_ref": external_ref[:200],
            "exam": exam[:64], "valid_hours": valid_hours[:8],
            "extra_time_percent": extra_time_percent[:8], "language": language[:16]}  # fmt: skip
    try:
        if not exam:
            raise Invalid(say(request, N_("choose the exam")))
        req = InviteRequest(
            name=name,
            email=email,
            exam=exam,
            external_ref=external_ref,
            valid_hours=_int(valid_hours, "valid hours"),
            extra_time_percent=_int(extra_time_percent, "extra time"),
            language=language[:16] or None,
        )
        with _change(ctx.uow):
            made = invitations.invite(ctx.uow, Kit.of(request.app.state.services), req)
    except DomainError as exc:
        if isinstance(exc, NotFound | Conflict | Invalid):
            return _list_page(
                request, ctx, status=exc.status, error=exc.detail, form=form, form_anchor="inv-name"
            )
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
            raise Invalid(say(request, N_("nobody was invited: choose the exam")))
        if file is None or not file.filename:
            raise Invalid(say(request, N_("nobody was invited: choose a CSV file")))
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
            import_error=exc.detail + (f" ({file.filename})" if file and file.filename else ""),
            import_problems=exc.extensions.get("problems", []),
            import_exam=exam,
            import_hours=valid_hours[:8],
        )
    return _list_page(request, ctx, status=201, created=made)


@router.post("/delivery/invitations/{invitation_id}/revoke", response_class=HTMLResponse)
def invitation_revoke(
    request: Request,
    invitation_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.CANDIDATE_INVITE),
) -> Response:
    check_csrf(ctx, csrf)
    iid = _parse_id(invitation_id, "invitation")
    invitations.require_invitation(ctx.uow, iid)
    with _change(ctx.uow):
        invitations.revoke(ctx.uow, iid)
    return flash.redirect(request, "/delivery/invitations", say(request, NOTICES["revoked"]))


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


def _maybe_iso(value: datetime | None) -> str:
    return _iso(value) if value is not None else ""


OUTBOX = table.Table(
    name="outbox",
    path="/delivery/outbox",
    caption=N_("Emails"),
    columns=(
        table.Column("to", N_("To"), OutboxMail.to_address, export=lambda r: r[0].to_address),
        table.Column("subject", N_("Subject"), OutboxMail.subject, export=lambda r: r[0].subject),
        table.Column(
            "written",
            N_("Written"),
            OutboxMail.created_at,
            datetime.fromisoformat,
            export=lambda r: _iso(r[0].created_at),
        ),
        table.Column(
            "sent",
            N_("Status"),
            OutboxMail.sent_at,
            datetime.fromisoformat,
            nullable=True,
            export=lambda r: f"{r[1]} {_maybe_iso(r[0].sent_at)}".strip(),
        ),
        table.Column("message", N_("Message")),
    ),
    id=OutboxMail.id,
    default_sort="-written",
    search=(OutboxMail.to_address, OutboxMail.subject),
    search_label=N_("Recipient or subject"),
    empty=N_("The outbox is empty."),
    empty_filtered=N_("No email matches this search."),
)


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
    return flash.redirect(request, "/delivery/invitations", say(request, NOTICES["resent"]))


@router.get("/delivery/outbox", response_class=HTMLResponse)
def outbox(request: Request, ctx: PageContext = requires_page(P.CANDIDATE_VIEW)) -> Response:
    view = table.read(OUTBOX, request.query_params)
    if view.csv:
        found = table.all_rows(ctx.uow, view, select(OutboxMail))
        return table.csv_response(view, [(m, outbox_status(m)) for m in found])
    shown = table.fetch(ctx.uow, view, select(OutboxMail))
    return _render(
        request,
        "outbox.html",
        ctx,
        t=shown.with_rows([(m, outbox_status(m), mail.shown_body(m)) for m in shown.rows]),
        smtp=mail.smtp_configured(request.app.state.settings),
    )
