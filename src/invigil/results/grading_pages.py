"""Staff pages of grading: the queue across exams, the marking page of one
response (the question, the answer, the rubric), and moderation.

Same services and permissions as the grading API. With blind grading (the
exam's setting, on by default) a grader sees a pseudonym, never the
candidate's name or email, and no other grader's mark of a response until
they have given their own; without it, holders of ``candidate:view`` see
the name.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError
from sqlalchemy import select

from invigil import i18n
from invigil.content import bodies as b
from invigil.content import exams
from invigil.content.models import ExamVersion
from invigil.content.pages.common import TYPE_LABELS
from invigil.delivery import attempts, review
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, Invalid
from invigil.i18n import N_
from invigil.identity.pages.common import _change, _parse_id
from invigil.proctoring import reviews
from invigil.results import grading, suggest, suggestions
from invigil.results import queue as q
from invigil.results.pseudonyms import code_of
from invigil.results.schemas import (
    MAX_COMMENT,
    MAX_REASON,
    CriterionMarkIn,
    MarkIn,
    ModerationIn,
    RegradeIn,
)
from invigil.security.permissions import Permission as P
from invigil.web import flash, table
from invigil.web.pages import render
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
STATE_LABELS = {
    "unmarked": N_("unmarked"),
    "awaiting_second": N_("awaiting a second mark"),
    "awaiting_moderation": N_("awaiting moderation"),
    "final": N_("final"),
}
STATE_FILTER = [
    ("mine", N_("Marked by me")),
    ("unmarked", N_("Unmarked")),
    ("awaiting_second", N_("Awaiting a second mark")),
    ("awaiting_moderation", N_("Awaiting moderation")),
]
NOTICES = {
    "marked": N_("Mark recorded."),
    "moderated": N_("Decision recorded. The result is issued again."),
    "regraded": N_("Regrade recorded."),
}
MAX_CRITERIA = 20


def say(request: Request, message: str) -> str:
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def _uuid_filter(value: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise Invalid("give a question id") from None


def queue_table(
    ctx: PageContext, sub: Any, path: str = "/grading", moderation: bool = False
) -> table.Table:
    """The queue's table over ``sub`` (:func:`invigil.results.queue.queue`)."""
    taken, _ = exams.list_exams(ctx.uow, status=None, limit=200, cursor=None)
    shown = [e for e in taken if e.published_version is not None]
    filters = [
        table.Filter(
            "exam",
            N_("Exam"),
            [(str(e.id), f"{e.title} ({e.slug})") for e in shown],
            lambda stmt, v: stmt.where(sub.c.exam_id == uuid.UUID(v)),
            all_label=N_("All exams"),
        ),
        table.Filter(
            "question",
            N_("Question id"),
            None,
            lambda stmt, v: stmt.where(sub.c.question_id == uuid.UUID(v)),
            check=_uuid_filter,
        ),
    ]
    if ctx.can(P.GRADE_MODERATE):
        people = reviews.people(ctx.uow, set(q.graders(ctx.uow)))
        filters.append(
            table.Filter(
                "grader",
                N_("Marked by"),
                sorted(((str(i), name) for i, name in people.items()), key=lambda o: o[1]),
                lambda stmt, v: q.by_grader(sub, stmt, uuid.UUID(v)),
                all_label=N_("Any grader"),
            )
        )
    if not moderation:
        filters.append(
            table.Filter(
                "state",
                N_("Grading state"),
                STATE_FILTER,
                lambda stmt, v: q.by_state(sub, stmt, v),
                all_label=N_("Any state"),
            )
        )
    return table.Table(
        name="grading",
        path=path,
        caption=N_("Answers awaiting moderation") if moderation else N_("Answers to grade"),
        columns=[
            table.Column("candidate", N_("Candidate")),
            table.Column("exam", N_("Exam"), sub.c.exam_title),
            table.Column("question", N_("Question")),
            table.Column("submitted", N_("Submitted"), sub.c.submitted_at, datetime.fromisoformat),
            table.Column("state", N_("Grading state")),
        ],
        id=sub.c.item_id,
        default_sort="submitted",
        filters=filters,
        empty=N_("No answer waits for a grader."),
        empty_filtered=N_("No answer matches these filters."),
        export=False,
    )


def _queue_page(
    request: Request, ctx: PageContext, *, moderation: bool, path: str, template: str
) -> Response:
    sub = q.queue(ctx.user_id)
    view = table.read(queue_table(ctx, sub, path, moderation), request.query_params)
    stmt = q.narrowed(sub, state="awaiting_moderation" if moderation else None)
    found = table.fetch(ctx.uow, view, stmt)
    items = [q.Item.of(r) for r in found.rows]
    names = q.names(ctx.uow, items, may_see=ctx.can(P.CANDIDATE_VIEW))
    rows = [{"item": i, "name": names.get(i.attempt_id)} for i in items]
    return render(
        request,
        template,
        {
            "page": ctx,
            "t": found.with_rows(rows),
            "state_labels": STATE_LABELS,
            "type_labels": TYPE_LABELS,
            "error": None,
        },
    )


@router.get("/grading", response_class=HTMLResponse)
def grading_queue(request: Request, ctx: PageContext = requires_page(P.GRADE_SUBMIT)) -> Response:
    return _queue_page(
        request, ctx, moderation=False, path="/grading", template="results/grading_queue.html"
    )


@router.get("/grading/moderation", response_class=HTMLResponse)
def moderation_queue(
    request: Request, ctx: PageContext = requires_page(P.GRADE_MODERATE)
) -> Response:
    return _queue_page(
        request,
        ctx,
        moderation=True,
        path="/grading/moderation",
        template="results/grading_moderation.html",
    )


# --- one response ------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """The marking page's facts about one response."""

    found: grading.Response
    exam_title: str
    candidate: str | None  # the name, when the viewer may see it
    answer: review.Shown
    marks: list[Any]
    hidden: int
    mine: bool
    essay: bool
    ai: bool  # rubric suggestions are on for this tenant and this response could have one
    suggestion: suggestions.Latest | None  # the viewer's newest, unless discarded


def _shown(request: Request, ctx: PageContext, attempt_id: uuid.UUID, slot: int | str) -> Shown:
    found = grading.response(ctx.uow, attempt_id, slot)
    attempt, slot = found.attempt, found.slot
    title = ctx.uow.scalar(
        select(ExamVersion.title).where(
            ExamVersion.exam_id == attempt.exam_id, ExamVersion.version == attempt.exam_version
        )
    )
    name = None
    if not found.rules.blind and ctx.can(P.CANDIDATE_VIEW):
        name = ctx.uow.scalar(select(Candidate.name).where(Candidate.id == attempt.candidate_id))
    given = {a.slot: a for a in attempts.answers_of(ctx.uow, attempt.id)}
    answer = given.get(slot)
    body = found.body.model_dump(mode="json")
    shown = review.shown(attempt.paper[slot], body, answer.response if answer else None)
    visible = grading.visible_marks(found, ctx.user_id, moderator=ctx.can(P.GRADE_MODERATE))
    mine = any(m.grader_id == ctx.user_id and m.kind in grading.MARKED for m in found.marks)
    essay = isinstance(found.body, b.Essay)
    services = request.app.state.services
    markable = essay and not mine and found.state.status in ("unmarked", "awaiting_second")
    ai = markable and suggest.enabled(ctx.uow, services.settings, services.box)
    latest = suggestions.latest(ctx.uow, attempt.id, slot, ctx.user_id) if ai else None
    return Shown(
        found=found,
        exam_title=title or "",
        candidate=name,
        answer=shown,
        marks=visible,
        hidden=len(found.marks) - len(visible),
        mine=mine,
        essay=essay,
        ai=ai,
        suggestion=None if latest is None or latest.discarded else latest,
    )


def _mark_page(
    request: Request,
    ctx: PageContext,
    attempt_id: uuid.UUID,
    slot: int | str,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    d = _shown(request, ctx, attempt_id, slot)
    use = values.pop("use", "")
    if d.suggestion is not None and use == str(d.suggestion.row.id) and d.essay:
        # "Use these marks": the form starts from the suggested levels; the
        # grader still chooses, may change any, and saves the mark themselves.
        levels = {c["criterion"]: c["level"] for c in d.suggestion.row.criteria}
        rubric = d.found.body.rubric if isinstance(d.found.body, b.Essay) else []
        values["chosen"] = {i: levels.get(c.name) for i, c in enumerate(rubric)}
        values["used_suggestion"] = True
    values.setdefault("used_suggestion", False)
    values.setdefault("error", None)
    values.setdefault("chosen", {})
    values.setdefault("comments", {})
    values.setdefault("points", "")
    values.setdefault("comment", "")
    values.setdefault("reason", "")
    values.setdefault("total", "")
    return render(
        request,
        "results/grading_mark.html",
        {
            "page": ctx,
            "d": d,
            "pseudonym_code": code_of(attempt_id),
            "state_labels": STATE_LABELS,
            "kind_labels": grading.KIND_LABELS,
            "type_labels": TYPE_LABELS,
            **values,
        },
        status=status,
    )


@router.get("/grading/{attempt}/{slot}", response_class=HTMLResponse)
def mark_view(
    request: Request,
    attempt: str,
    slot: str,
    use: Annotated[str, Query(max_length=40)] = "",
    ctx: PageContext = requires_page(P.GRADE_SUBMIT),
) -> HTMLResponse:
    return _mark_page(request, ctx, _parse_id(attempt, "attempt"), slot, use=use)


class MarkForm(BaseModel):
    """``level-<i>`` and ``comment-<i>`` per rubric criterion (extra fields)."""

    model_config = ConfigDict(extra="allow")

    csrf: str = ""
    points: str = ""
    comment: str = ""
    reason: str = ""
    total: str = ""
    used_suggestion: str = ""  # "1": the form was filled from the AI suggestion shown


def _extra(form: MarkForm, prefix: str) -> dict[int, str]:
    out: dict[int, str] = {}
    for key, value in (form.model_extra or {}).items():
        if key.startswith(prefix) and isinstance(value, str):
            index = key[len(prefix) :]
            if index.isdigit() and int(index) < MAX_CRITERIA:
                out[int(index)] = value
    return out


def _points(value: str, field: str) -> Decimal | None:
    value = value.strip().replace(",", ".")
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise Invalid(f"the {field} is a number, like 2.5") from None


def _mark_in(found: grading.Response, form: MarkForm) -> MarkIn:
    levels, comments = _extra(form, "level-"), _extra(form, "comment-")
    if isinstance(found.body, b.Essay):
        criteria = []
        for i, criterion in enumerate(found.body.rubric):
            if not levels.get(i):
                raise Invalid(f"choose a level for {criterion.name!r}")
            criteria.append(
                CriterionMarkIn(
                    criterion=criterion.name,
                    level=levels[i][:2000],
                    comment=comments.get(i, "")[:MAX_COMMENT],
                )
            )
        return MarkIn(criteria=criteria, used_suggestion=form.used_suggestion == "1")
    points = _points(form.points, "points")
    if points is None:
        raise Invalid("give the points for this answer")
    return MarkIn(points=points, comment=form.comment[:MAX_COMMENT])


def _refused(exc: ValidationError) -> Invalid:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return Invalid(f"{where}: {first.get('msg', '')}" if where else first.get("msg", ""))


def _form_values(form: MarkForm) -> dict[str, Any]:
    return {
        "chosen": _extra(form, "level-"),
        "comments": {i: c[:MAX_COMMENT] for i, c in _extra(form, "comment-").items()},
        "points": form.points[:20],
        "comment": form.comment[:MAX_COMMENT],
        "reason": form.reason[:MAX_REASON],
        "total": form.total[:20],
        "used_suggestion": form.used_suggestion == "1",
    }


def _why(form: MarkForm) -> str:
    reason = form.reason.strip()
    if not reason:
        raise Invalid("say why: the reason is kept with the mark, and its hash in the audit log")
    return reason[:MAX_REASON]


def _act(
    request: Request,
    ctx: PageContext,
    attempt_id: str,
    slot: str,
    form: MarkForm,
    action: str,
) -> Response:
    check_csrf(ctx, form.csrf)
    aid = _parse_id(attempt_id, "attempt")
    found = grading.response(ctx.uow, aid, slot)  # 404 first, as for a missing id
    index = found.slot
    try:
        with _change(ctx.uow):
            if action == "marked":
                grading.submit_mark(ctx.uow, aid, index, _mark_in(found, form))
            elif action == "regraded":
                base = _mark_in(found, form)
                grading.regrade(
                    ctx.uow,
                    aid,
                    index,
                    RegradeIn(**base.model_dump(), reason=_why(form)),
                )
            else:
                total = _points(form.total, "final points")
                if total is None:
                    raise Invalid("give the final points")
                decision = ModerationIn(total=total, reason=_why(form))
                grading.moderate(ctx.uow, aid, index, decision)
    except ValidationError as exc:
        return _mark_page(
            request, ctx, aid, index, status=422, error=_refused(exc).detail,
            form_anchor=f"{action}-form", **_form_values(form),
        )  # fmt: skip
    except (Invalid, Conflict) as exc:
        return _mark_page(
            request, ctx, aid, index, status=exc.status, error=exc.detail,
            form_anchor=f"{action}-form", **_form_values(form),
        )  # fmt: skip
    back = "/grading/moderation" if action == "moderated" else "/grading"
    return flash.redirect(request, back, say(request, NOTICES[action]))


@router.post("/grading/{attempt}/{slot}/marks", response_class=HTMLResponse)
def mark_give(
    request: Request,
    attempt: str,
    slot: str,
    form: Annotated[MarkForm, Form()],
    ctx: PageContext = requires_page(P.GRADE_SUBMIT),
) -> Response:
    return _act(request, ctx, attempt, slot, form, "marked")


@router.post("/grading/{attempt}/{slot}/moderation", response_class=HTMLResponse)
def mark_moderate(
    request: Request,
    attempt: str,
    slot: str,
    form: Annotated[MarkForm, Form()],
    ctx: PageContext = requires_page(P.GRADE_MODERATE),
) -> Response:
    return _act(request, ctx, attempt, slot, form, "moderated")


@router.post("/grading/{attempt}/{slot}/regrades", response_class=HTMLResponse)
def mark_regrade(
    request: Request,
    attempt: str,
    slot: str,
    form: Annotated[MarkForm, Form()],
    ctx: PageContext = requires_page(P.GRADE_MODERATE),
) -> Response:
    return _act(request, ctx, attempt, slot, form, "regraded")
