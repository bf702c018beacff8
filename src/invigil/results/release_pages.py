"""Staff pages for releasing results: one attempt (``/attempts/{id}/release``:
its release history, its result link, release by hand, revoke or resend the
link) and one exam (``/exams/{id}/release``: its submitted attempts with
their grading, integrity, release and link state, and checkboxes to release
several at once, or every final result). Same services and permission as
the API (``result:release``). Candidates are named only to viewers who hold
``candidate:view``; everyone else sees a stable pseudonym."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Select, select

from invigil import i18n
from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.attempts import version_of
from invigil.delivery.models import Attempt, AttemptResult, Candidate
from invigil.delivery.results import latest_result
from invigil.errors import Conflict, Invalid, NotFound
from invigil.i18n import N_
from invigil.identity.pages.common import FormList, FormStr, _change, _parse_id
from invigil.results import release, result_link
from invigil.results.models import ResultLink, ResultRelease
from invigil.results.pseudonyms import pseudonym
from invigil.security.permissions import Permission as P
from invigil.web import flash, table
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)

MODES = {
    "immediately": N_("Right after submitting"),
    "after_grading": N_("Once grading is done"),
    "after_review": N_("Once grading and the integrity review are done"),
    "manual": N_("Only when staff release them"),
}
HOW = {"automatic": N_("automatically"), "manual": N_("by hand"), "bulk": N_("in bulk")}
LINK_STATES = {
    "none": N_("no link sent"),
    "live": N_("live"),
    "expired": N_("expired"),
    "revoked": N_("revoked"),
    "replaced": N_("replaced by a newer link"),
}
INTEGRITY = {
    "clear": N_("clear"),
    "flagged": N_("flagged"),
    "provisional_fail": N_("provisional fail"),
}
OUTCOMES = {
    "cleared": N_("cleared"),
    "violation_fail": N_("failed (violation)"),
    "violation_invalidate": N_("invalidated (violation)"),
}
NOTICES = {
    "released": N_("Result released. The candidate is mailed a link to it."),
    "revoked": N_("Result link revoked: it no longer opens the result."),
    "resent": N_("A new result link was mailed; the old one stopped working."),
}


def say(request: Request, message: str) -> str:
    return i18n.gettext(i18n.locale_of({"request": request}), message)


NOTHING_NEW = N_("Nothing new to release: every graded result chosen is released already.")


def who(ctx: PageContext, candidate: Candidate, attempt_id: uuid.UUID, locale: str) -> str:
    """The candidate's name and email, or a stable pseudonym for viewers
    without ``candidate:view``."""
    if ctx.can(P.CANDIDATE_VIEW):
        return f"{candidate.name} <{candidate.email}>"
    return pseudonym(attempt_id, locale)


@dataclass(frozen=True)
class Row:
    attempt: Attempt
    who: str
    result: AttemptResult | None
    released: ResultRelease | None
    link: str  # a LINK_STATES key

    @property
    def final(self) -> bool:
        return self.result is not None and not self.result.needs_grading

    @property
    def releasable(self) -> bool:
        return self.final and (
            self.released is None
            or (self.result is not None and self.released.revision < self.result.revision)
        )


def _rows(ctx: PageContext, found: Sequence[tuple[Attempt, Candidate]], locale: str) -> list[Row]:
    uow = ctx.uow
    out = []
    for attempt, candidate in found:
        links = result_link.links_of(uow, attempt.id)
        out.append(
            Row(
                attempt,
                who(ctx, candidate, attempt.id, locale),
                latest_result(uow, attempt.id),
                release.latest_release(uow, attempt.id),
                result_link.state_of(links[0]) if links else "none",
            )
        )
    return out


def _exam(uow: UnitOfWork, exam_id: str) -> Exam:
    found = uow.scalar(select(Exam).where(Exam.id == _parse_id(exam_id, "exam")))
    if found is None:
        raise NotFound(f"exam {exam_id} was not found")
    return found


def exam_table(exam: Exam) -> table.Table:
    return table.Table(
        name="releases",
        path=f"/exams/{exam.id}/release",
        caption=N_("Submitted attempts"),
        columns=[
            table.Column("choose", N_("Choose")),
            table.Column("candidate", N_("Candidate")),
            table.Column(
                "submitted", N_("Submitted"), Attempt.submitted_at, datetime.fromisoformat, True
            ),
            table.Column("grading", N_("Grading")),
            table.Column("integrity", N_("Integrity")),
            table.Column("released", N_("Released")),
            table.Column("link", N_("Result link")),
        ],
        id=Attempt.id,
        default_sort="-submitted",
        empty=N_("No attempt of this exam is submitted yet."),
        export=False,
    )


def _attempts_of(exam: Exam) -> Select[Attempt, Candidate]:
    return (
        select(Attempt, Candidate)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.exam_id == exam.id, Attempt.status == "submitted")
    )


def _labels() -> dict[str, Any]:
    return {
        "summary_note": N_("Nothing was released or changed."),
        "modes": MODES,
        "how_labels": HOW,
        "link_states": LINK_STATES,
        "integrity_labels": INTEGRITY,
        "outcome_labels": OUTCOMES,
    }


def _exam_page(
    request: Request, ctx: PageContext, exam: Exam, *, status: int = 200, **values: Any
) -> HTMLResponse:
    view = table.read(exam_table(exam), request.query_params)
    shown = table.fetch(ctx.uow, view, _attempts_of(exam))
    rows = _rows(ctx, shown.rows, i18n.locale_of({"request": request}))
    mode = release.mode_of(dict(exam.settings))
    values.setdefault("error", None)
    values.setdefault("pending", [])
    return render(
        request,
        "results/exam_release.html",
        {"page": ctx, "exam": exam, "t": shown.with_rows(rows), "mode": mode, **_labels(),
         **values},
        status=status,
    )  # fmt: skip


@router.get("/exams/{exam_id}/release", response_class=HTMLResponse)
def exam_release_page(
    request: Request, exam_id: str, ctx: PageContext = requires_page(P.RESULT_RELEASE)
) -> HTMLResponse:
    return _exam_page(request, ctx, _exam(ctx.uow, exam_id))


@router.post("/exams/{exam_id}/release", response_class=HTMLResponse)
def exam_release(
    request: Request,
    exam_id: str,
    csrf: FormStr = "",
    scope: FormStr = "chosen",
    attempt_ids: FormList = None,
    ctx: PageContext = requires_page(P.RESULT_RELEASE),
) -> Response:
    check_csrf(ctx, csrf)
    exam = _exam(ctx.uow, exam_id)
    try:
        chosen: list[uuid.UUID] | None = None
        if scope != "all_final":
            raw = attempt_ids or []
            if len(raw) > release.MAX_BULK:
                raise Invalid(say(request, N_("Release at most 500 attempts at a time.")))
            try:
                chosen = [uuid.UUID(v) for v in raw]
            except ValueError:
                raise Invalid(say(request, N_("Choose attempts from the list."))) from None
            if not chosen:
                raise Invalid(say(request, N_("Choose at least one attempt to release.")))
        with _change(ctx.uow):
            done = release.release_many(ctx.uow, exam.id, chosen)
    except Conflict as exc:
        pending = exc.extensions.get("pending", [])
        message = say(
            request,
            N_("Nothing was released: some chosen attempts still need grading. Leave them out "
               "or grade them first."),
        )  # fmt: skip
        return _exam_page(request, ctx, exam, status=409, error=message, pending=pending)
    except Invalid as exc:
        return _exam_page(request, ctx, exam, status=422, error=exc.detail)
    words = i18n.translations(i18n.locale_of({"request": request}))
    n = len(done.released)
    text = words.ngettext("%(n)s result released.", "%(n)s results released.", n) % {"n": n}
    if n == 0:
        text = say(request, NOTHING_NEW)
    return flash.redirect(request, f"/exams/{exam.id}/release", text)


def _attempt(uow: UnitOfWork, attempt_id: str) -> tuple[Attempt, Candidate]:
    found = uow.session.execute(
        select(Attempt, Candidate)
        .join(Candidate, Candidate.id == Attempt.candidate_id)
        .where(Attempt.id == _parse_id(attempt_id, "attempt"))
    ).one_or_none()
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found[0], found[1]


def _attempt_page(
    request: Request, ctx: PageContext, attempt_id: str, *, status: int = 200, **values: Any
) -> HTMLResponse:
    attempt, candidate = _attempt(ctx.uow, attempt_id)
    (row,) = _rows(ctx, [(attempt, candidate)], i18n.locale_of({"request": request}))
    version = version_of(ctx.uow, attempt.exam_id, attempt.exam_version)
    links: list[ResultLink] = result_link.links_of(ctx.uow, attempt.id)
    values.setdefault("error", None)
    return render(
        request,
        "results/attempt_release.html",
        {
            "page": ctx,
            "row": row,
            "exam_title": version.title,
            "mode": release.mode_of(dict(version.settings)),
            "feedback": release.feedback_of(dict(version.settings)),
            "releases": release.releases_of(ctx.uow, attempt.id),
            "links": [(link, result_link.state_of(link)) for link in links],
            **_labels(),
            **values,
        },
        status=status,
    )


@router.get("/attempts/{attempt_id}/release", response_class=HTMLResponse)
def attempt_release_page(
    request: Request, attempt_id: str, ctx: PageContext = requires_page(P.RESULT_RELEASE)
) -> HTMLResponse:
    return _attempt_page(request, ctx, attempt_id)


@router.post("/attempts/{attempt_id}/release", response_class=HTMLResponse)
def attempt_release(
    request: Request,
    attempt_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.RESULT_RELEASE),
) -> Response:
    check_csrf(ctx, csrf)
    attempt, _ = _attempt(ctx.uow, attempt_id)
    try:
        with _change(ctx.uow):
            release.release_one(ctx.uow, attempt.id)
    except Conflict:
        message = say(request, N_("This result still needs grading: release it once graded."))
        return _attempt_page(request, ctx, attempt_id, status=409, error=message)
    return flash.redirect(
        request, f"/attempts/{attempt.id}/release", say(request, NOTICES["released"])
    )


@router.post("/attempts/{attempt_id}/result-link", response_class=HTMLResponse)
def attempt_result_link(
    request: Request,
    attempt_id: str,
    csrf: FormStr = "",
    action: FormStr = "",
    ctx: PageContext = requires_page(P.RESULT_RELEASE),
) -> Response:
    check_csrf(ctx, csrf)
    attempt, _ = _attempt(ctx.uow, attempt_id)
    if action not in ("revoke", "resend"):
        message = say(request, N_("Choose to revoke the link or to send a new one."))
        return _attempt_page(request, ctx, attempt_id, status=422, error=message)
    try:
        with _change(ctx.uow):
            if action == "revoke":
                result_link.revoke(ctx.uow, attempt.id)
            else:
                kit = result_link.Kit.of(request.app.state.services)
                result_link.resend(ctx.uow, kit, attempt.id)
    except Conflict:
        message = say(
            request,
            N_("There is no live link to revoke, or the result is not released yet.")
            if action == "revoke"
            else N_("Release the result first: only a released result has a link."),
        )
        return _attempt_page(request, ctx, attempt_id, status=409, error=message)
    notice = NOTICES["revoked" if action == "revoke" else "resent"]
    return flash.redirect(request, f"/attempts/{attempt.id}/release", say(request, notice))
