"""Staff pages on attempts: the list, one attempt in full, releasing a
browser binding and voiding an attempt. Same services and permissions as the attempts API; scores
are shown only to viewers holding ``result:view``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from invigil import i18n
from invigil.content import exams
from invigil.content.models import ExamVersion
from invigil.content.pages.common import TYPE_LABELS
from invigil.delivery import attempt_detail, attempts, review, voids
from invigil.delivery.models import Attempt, Candidate
from invigil.errors import Conflict, Invalid
from invigil.i18n import N_
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web import flash, table
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
MAX_REASON = 500
# Fixed texts chosen by key: a crafted URL cannot put words on the page.
NOTICES = {
    "released": N_(
        "Browser released. The candidate's next \u201cStart exam\u201d, from any "
        "browser, continues the attempt there; saved answers are kept."
    ),
    "voided": N_(
        "Attempt voided. It no longer counts against the invitation's attempts nor in "
        "any figure; its start was refunded if it was charged. Its answers, events and "
        "evidence are kept."
    ),
}
# Marked N_ here, translated where a page shows them (``_(status_labels[...])``).
STATUS_LABELS = {
    "ready": N_("ready"),
    "in_progress": N_("in progress"),
    "submitted": N_("submitted"),
}
STATUS_FILTER = [
    ("ready", N_("Ready")),
    ("in_progress", N_("In progress")),
    ("submitted", N_("Submitted")),
    ("voided", N_("Voided")),
]
REASONS = {
    "candidate": N_("by the candidate"),
    "deadline": N_("at the deadline"),
    "voided": N_("by staff, voiding it"),
}


def say(request: Request, message: str) -> str:
    """``message`` (marked N_) in the language of the page that asked."""
    return i18n.gettext(i18n.locale_of({"request": request}), message)


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
templates.env.globals["attempt_status_labels"] = STATUS_LABELS
# The invitation's own status (its state in words is delivery.pages.STATE_LABELS).
templates.env.globals["invitation_status_labels"] = {
    "active": N_("active"),
    "revoked": N_("revoked"),
}


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("error", None)
    labels = {
        "status_labels": STATUS_LABELS,
        "reasons": REASONS,
        "type_labels": TYPE_LABELS,
        "void_reasons": voids.REASON_LABELS,
    }
    return render(request, f"delivery/{name}", {"page": ctx, **labels, **values}, status=status)


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value is not None else ""


def _score(row: review.Row) -> str:
    return "" if row.result is None else f"{row.result.awarded}/{row.result.max_points}"


def _by_status(stmt: Any, value: str) -> Any:
    """ "Voided" is a status to the reader, a record to the database."""
    if value == "voided":
        return stmt.where(~voids.not_voided())
    return stmt.where(Attempt.status == value)


def attempts_table(ctx: PageContext) -> table.Table:
    """The attempts list: search by candidate, filter by exam and status."""
    taken, _ = exams.list_exams(ctx.uow, status=None, limit=200, cursor=None)
    shown = [e for e in taken if e.published_version is not None]
    with_scores = ctx.can(P.RESULT_VIEW)
    columns = [
        table.Column(
            "candidate", N_("Candidate"), Candidate.name, export=lambda r: r.candidate.name
        ),
        table.Column("email", N_("Email"), Candidate.email, export=lambda r: r.candidate.email),
        table.Column("exam", N_("Exam"), ExamVersion.title, export=lambda r: r.exam_title),
        table.Column(
            "status",
            N_("Status"),
            Attempt.status,
            export=lambda r: "voided" if r.void else r.attempt.status,
        ),
        table.Column(
            "started",
            N_("Started"),
            Attempt.started_at,
            datetime.fromisoformat,
            True,
            export=lambda r: _iso(r.attempt.started_at),
        ),
        table.Column(
            "deadline",
            N_("Deadline"),
            Attempt.deadline,
            datetime.fromisoformat,
            True,
            export=lambda r: _iso(r.attempt.deadline),
        ),
        table.Column(
            "submitted",
            N_("Submitted"),
            Attempt.submitted_at,
            datetime.fromisoformat,
            True,
            export=lambda r: _iso(r.attempt.submitted_at),
        ),
    ]
    if with_scores:
        columns.append(table.Column("score", N_("Score"), export=_score))
    columns.append(table.Column("browser", N_("Browser")))
    return table.Table(
        name="attempts",
        path="/delivery/attempts",
        caption=N_("Attempts"),
        columns=columns,
        id=Attempt.id,
        default_sort="-started",
        search=(Candidate.name, Candidate.email),
        search_label=N_("Candidate name or email"),
        filters=(
            table.Filter(
                "exam",
                N_("Exam"),
                [(str(e.id), f"{e.title} ({e.slug})") for e in shown],
                lambda stmt, v: stmt.where(Attempt.exam_id == uuid.UUID(v)),
                all_label=N_("All exams"),
            ),
            table.Filter(
                "status",
                N_("Status"),
                STATUS_FILTER,
                _by_status,
                all_label=N_("Any status"),
            ),
        ),
        empty=N_("No candidate has started an exam yet."),
        empty_filtered=N_("No attempt matches this search or these filters."),
    )


@router.get("/delivery/attempts", response_class=HTMLResponse)
def attempt_list(request: Request, ctx: PageContext = requires_page(P.ATTEMPT_VIEW)) -> Response:
    view = table.read(attempts_table(ctx), request.query_params)
    with_results = ctx.can(P.RESULT_VIEW)
    if view.csv:
        rows = review.with_scores(
            ctx.uow, table.all_rows(ctx.uow, view, review.rows_select()), with_results=with_results
        )
        return table.csv_response(view, rows)
    shown = table.fetch(ctx.uow, view, review.rows_select())
    rows = review.with_scores(ctx.uow, shown.rows, with_results=with_results)
    t = i18n.translations(i18n.locale_of({"request": request}))
    voided = attempt_detail.voids_shown(ctx.uow, [r.attempt.id for r in rows if r.void], t)
    return _render(request, "attempts.html", ctx, t=shown.with_rows(rows), voided=voided)


def _detail_page(
    request: Request, ctx: PageContext, attempt_id: uuid.UUID, **values: Any
) -> HTMLResponse:
    attempt = review.require_attempt(ctx.uow, attempt_id)
    found = attempt_detail.detail(
        ctx.uow,
        attempt,
        with_result=ctx.can(P.RESULT_VIEW),
        locale=i18n.locale_of({"request": request}),
    )
    values.setdefault("reason", "")
    values.setdefault("void_form", {"reason": "", "note": ""})
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
            raise Invalid(
                say(
                    request,
                    N_("say why the browser is released: the reason goes into the audit log"),
                )
            )
        if len(reason) > MAX_REASON:
            raise Invalid(
                say(request, N_("the reason has at most %(n)s characters")) % {"n": MAX_REASON}
            )
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
    return flash.redirect(request, f"/delivery/attempts/{aid}", say(request, NOTICES["released"]))


def _void_refusal(request: Request, reason: str, note: str, confirm: str) -> Invalid | None:
    """What is wrong with the void form, in the page's words (and where)."""
    if reason not in voids.REASONS:
        return Invalid(say(request, N_("choose why the attempt is voided")), field="void-reason")
    if len(note) > voids.MAX_NOTE:
        message = say(request, N_("the note has at most %(n)s characters")) % {"n": voids.MAX_NOTE}
        return Invalid(message, field="void-note")
    if reason == "other" and not note:
        message = say(request, N_("say what happened: a void for another reason needs a note"))
        return Invalid(message, field="void-note")
    if confirm != "yes":
        message = say(
            request, N_("confirm that you want to void this attempt: it cannot be undone")
        )
        return Invalid(message, field="void-confirm")
    return None


@router.post("/delivery/attempts/{attempt_id}/void", response_class=HTMLResponse)
def attempt_void(
    request: Request,
    attempt_id: str,
    csrf: FormStr = "",
    reason: FormStr = "",
    note: FormStr = "",
    confirm: FormStr = "",
    ctx: PageContext = requires_page(P.ATTEMPT_VOID),
) -> Response:
    check_csrf(ctx, csrf)
    aid = _parse_id(attempt_id, "attempt")
    review.require_attempt(ctx.uow, aid, lock=True)  # 404 first, as for a missing id
    note = note.strip()
    refused = _void_refusal(request, reason, note, confirm)
    try:
        if refused is not None:
            raise refused
        with _change(ctx.uow):
            voids.void(ctx.uow, aid, reason, note)
    except voids.AlreadyVoided:
        return _detail_page(
            request, ctx, aid, status=409,
            error=say(request, N_("this attempt is voided already: a void is recorded once")),
        )  # fmt: skip
    except (Invalid, Conflict) as exc:
        return _detail_page(
            request,
            ctx,
            aid,
            status=exc.status,
            error=exc.detail,
            void_form={"reason": reason if reason in voids.REASONS else "", "note": note[:2000]},
            form_anchor=str(exc.extensions.get("field") or "void-h"),
        )
    return flash.redirect(request, f"/delivery/attempts/{aid}", say(request, NOTICES["voided"]))
