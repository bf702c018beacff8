"""Staff pages of review: the queue, one attempt's review page (timeline,
evidence, flags, outcome), recording decisions, and the evidence links the
page's images and videos follow.

Evidence is never put on the page as a signed URL: each <img> and <video>
points at ``/proctoring/reviews/{attempt}/evidence/{object}``, which issues
a fresh signed URL for the viewer (through the evidence API's issuer, so it
is audited as ``evidence.url_issued``) and redirects to it. A link is thus
issued only when the browser actually loads the object (images are lazy,
videos load on play), and a page left open for longer than a URL's five
minutes still plays.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from babel import Locale
from babel.numbers import format_percent
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import func, or_, select

from invigil import i18n
from invigil.content import exams
from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts
from invigil.delivery.attempt_pages import duration, stamp  # noqa: F401 (registers the filters)
from invigil.delivery.models import Attempt, Candidate
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence import api as evidence_api
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT
from invigil.i18n import N_
from invigil.identity.pages.common import FormList, FormStr, _change, _parse_id
from invigil.proctoring import contests, review_queue, review_timeline, reviews, summary
from invigil.proctoring import policy as pol
from invigil.proctoring.api import event_list
from invigil.proctoring.models import RecordingSegment, Snapshot
from invigil.security.permissions import Permission as P
from invigil.web import flash, table
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
# Words marked N_ are translated where a page shows them, in the reader's language.
NOTICES = {
    "flag": N_("Decision on the flag recorded."),
    "flags": N_("Decisions on the chosen flags recorded."),
    "outcome": N_("Outcome recorded. It is final."),
    "awaiting": N_(
        "Outcome recorded. A second reviewer must record the same outcome before "
        "it becomes final (this exam's policy is high stakes)."
    ),
    "held": N_(
        "Outcome recorded. It is not final while the candidate may contest it, nor "
        "while a contest of theirs is unanswered."
    ),
}
OUTCOME_LABELS = {
    "cleared": N_("Cleared: no violation"),
    "violation_fail": N_("Violation confirmed: fail"),
    "violation_invalidate": N_("Violation confirmed: invalidate the attempt"),
}
FLAG_LABELS = {"confirmed": N_("Confirmed"), "dismissed": N_("Dismissed")}
# The same decisions as badges, in lower case.
FLAG_BADGES = {"confirmed": N_("confirmed"), "dismissed": N_("dismissed")}
ACTION_LABELS = {
    "flag": N_("Flag"),
    "provisional_fail": N_("Provisional fail"),
    "auto_submit": N_("Auto-submitted"),
    "warn": N_("Warning"),
    "log": N_("Logged"),
}
SEVERITY_LABELS = {
    "critical": N_("critical"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
    "info": N_("info"),
}
POLICY_LABELS = {
    "practice": N_("practice"),
    "standard": N_("standard"),
    "strict": N_("strict"),
    "high_stakes": N_("high stakes"),
}
SNAPSHOT_STATUS = {
    "agrees": N_("agrees"),
    "mismatch": N_("disagrees"),
    "unreadable": N_("unreadable"),
    "failed": N_("failed"),
    "pending": N_("pending"),
}


def say(request: Request, message: str) -> str:
    """``message`` (marked N_) in the language of the page that asked."""
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def integrity_summary(uow: UnitOfWork, attempt: Attempt) -> summary.IntegritySummary:
    """For ``proctoring/_integrity.html`` on pages that have no summary yet."""
    return summary.summarize(uow, attempt)


templates.env.globals["integrity_summary"] = integrity_summary
templates.env.globals["outcome_labels"] = OUTCOME_LABELS
templates.env.globals["severity_labels"] = SEVERITY_LABELS
templates.env.globals["flag_badges"] = FLAG_BADGES
templates.env.globals["policy_labels"] = POLICY_LABELS
templates.env.globals["snapshot_status"] = SNAPSHOT_STATUS
templates.env.globals["snapshot_reasons"] = {
    "periodic": N_("on schedule"),
    "event": N_("when an event began or ended"),
    "start": N_("at the start"),
}
templates.env.globals["kind_words"] = pol.KIND_PHRASES  # ``_(...) | upper_first`` on a page


def upper_first(text: str) -> str:
    """The first letter in upper case, the rest as written (``capitalize`` lowers it)."""
    return text[:1].upper() + text[1:]


templates.env.filters["upper_first"] = upper_first


@pass_context
def percent(context: Context, value: float | None) -> str:
    """A share (0.19) as a percentage with one decimal, as the page's language writes it."""
    if value is None:
        return "—"
    locale = Locale.parse(i18n.locale_of(context))
    pattern = str(locale.percent_formats[None].pattern).replace("#,##0", "#,##0.0", 1)
    return format_percent(value, pattern, locale=locale)


templates.env.filters["percent"] = percent


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("error", None)
    labels = {
        "flag_labels": FLAG_LABELS,
        "action_labels": ACTION_LABELS,
    }
    return render(request, f"proctoring/{name}", {"page": ctx, **labels, **values}, status=status)


def queue_table(ctx: PageContext, q: review_queue.Queue) -> table.Table:
    """The review queue: most urgent first (severity, then waiting longest)."""
    taken, _ = exams.list_exams(ctx.uow, status=None, limit=200, cursor=None)
    return table.Table(
        name="reviews",
        path="/proctoring/reviews",
        caption=N_("Attempts to review"),
        columns=(
            table.Column(
                "candidate",
                N_("Candidate"),
                func.lower(Candidate.name),
                export=lambda r: r.candidate.name,
            ),
            table.Column("exam", N_("Exam"), ExamVersion.title, export=lambda r: r.exam_title),
            table.Column(
                "urgency", N_("Severity"), q.urgency, Decimal, export=lambda r: r.severity
            ),
            table.Column("flags", N_("Flags"), export=lambda r: r.flags, numeric=True),
            table.Column(
                "mismatches",
                N_("Re-check disagreements"),
                export=lambda r: r.mismatches,
                numeric=True,
            ),
            table.Column("state", N_("State"), export=lambda r: r.attempt.integrity),
            table.Column(
                "since",
                N_("Waiting since"),
                q.since,
                datetime.fromisoformat,
                export=lambda r: r.since.isoformat(),
            ),
        ),
        id=Attempt.id,
        default_sort="-urgency",
        search=(Candidate.name, Candidate.email),
        search_label=N_("Candidate name or email"),
        filters=(
            table.Filter(
                "exam",
                N_("Exam"),
                [(str(e.id), f"{e.title} ({e.slug})") for e in taken if e.published_version],
                lambda stmt, v: stmt.where(Attempt.exam_id == uuid.UUID(v)),
                all_label=N_("All exams"),
            ),
        ),
        empty=N_("Nothing to review: no attempt waits for a decision."),
        empty_filtered=N_("No attempt matching this search or filter waits for review."),
    )


@router.get("/proctoring/reviews", response_class=HTMLResponse)
def queue_page(request: Request, ctx: PageContext = requires_page(P.VIOLATION_REVIEW)) -> Response:
    q = review_queue.queue_select()
    view = table.read(queue_table(ctx, q), request.query_params)
    if view.csv:
        found = table.all_rows(ctx.uow, view, q.stmt)
        return table.csv_response(view, [review_queue.row(v) for v in found])
    shown = table.fetch(ctx.uow, view, q.stmt)
    return _render(
        request,
        "reviews.html",
        ctx,
        t=shown.with_rows([review_queue.row(v) for v in shown.rows]),
        now=datetime.now(UTC),
    )


def _review_page(
    request: Request, ctx: PageContext, attempt_id: uuid.UUID, **values: Any
) -> HTMLResponse:
    uow = ctx.uow
    attempt = reviews.require_attempt(uow, attempt_id)
    review = reviews.load(uow, attempt)
    events = event_list(uow, attempt)
    locale = i18n.locale_of({"request": request})
    timeline = review_timeline.build(uow, attempt, review, events, locale)
    near = {e.event.seq: e.near for e in timeline.entries if e.event is not None}
    near_at = {e.seq: e.started_at for e in events}
    values.setdefault("form", {})
    found = contests.of_attempt(uow, attempt.id)
    return _render(
        request,
        "review.html",
        ctx,
        contests_by_target={c.action_id: c for c in found},
        contest_answers=contests.answers_of(uow, attempt.id),
        a=attempt,
        review=review,
        timeline=timeline,
        near=near,
        near_at=near_at,
        integrity=summary.summarize(uow, attempt, review=review, events=events),
        candidate=uow.get(Candidate, attempt.candidate_id),
        exam_title=_exam_title(uow, attempt),
        me=ctx.user_id,
        on_review=True,
        **values,
    )


def _exam_title(uow: UnitOfWork, attempt: Attempt) -> str:
    return attempts.version_of(uow, attempt.exam_id, attempt.exam_version).title


@router.get("/proctoring/reviews/{attempt_id}", response_class=HTMLResponse)
def review_page(
    request: Request, attempt_id: str, ctx: PageContext = requires_page(P.VIOLATION_REVIEW)
) -> HTMLResponse:
    return _review_page(request, ctx, _parse_id(attempt_id, "attempt"))


def _optional_id(value: str, what: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Invalid(f"{what} is not valid; reload the page") from None


@router.post("/proctoring/reviews/{attempt_id}/decisions", response_class=HTMLResponse)
def decide(
    request: Request,
    attempt_id: str,
    csrf: FormStr = "",
    scope: FormStr = "",
    action_id: FormStr = "",
    decision: FormStr = "",
    reason: FormStr = "",
    supersedes: FormStr = "",
    ctx: PageContext = requires_page(P.VIOLATION_REVIEW),
) -> Response:
    check_csrf(ctx, csrf)
    aid = _parse_id(attempt_id, "attempt")
    reviews.require_attempt(ctx.uow, aid)  # 404 first, as for a missing id
    try:
        with _change(ctx.uow):
            row = reviews.decide(
                ctx.uow,
                aid,
                reviews.Decide(
                    scope=scope or None,
                    decision=decision or None,
                    reason=reason,
                    action_id=_optional_id(action_id, "the flag"),
                    supersedes=_optional_id(supersedes, "the decision you changed"),
                ),
            )
    except (Invalid, Conflict) as exc:
        form = {"scope": scope, "action_id": action_id, "decision": decision, "reason": reason}
        anchor = f"reason-{action_id}" if scope == "flag" and action_id else "reason-outcome"
        return _review_page(
            request, ctx, aid, status=exc.status, error=exc.detail, form=form, form_anchor=anchor
        )
    if row.scope == "flag":
        return flash.redirect(
            request,
            f"/proctoring/reviews/{aid}#flag-{row.action_id}",
            say(request, NOTICES["flag"]),
        )
    attempt = ctx.uow.get(Attempt, aid)
    held = not attempt.review_final and reviews.load(ctx.uow, attempt).outcome.held
    notice = "outcome" if attempt.review_final else "held" if held else "awaiting"
    return flash.redirect(
        request, f"/proctoring/reviews/{aid}#outcome", say(request, NOTICES[notice])
    )


@router.post("/proctoring/reviews/{attempt_id}/decisions/bulk", response_class=HTMLResponse)
def decide_bulk(
    request: Request,
    attempt_id: str,
    csrf: FormStr = "",
    flag: FormList = None,
    seen: FormList = None,
    decision: FormStr = "",
    reason: FormStr = "",
    ctx: PageContext = requires_page(P.VIOLATION_REVIEW),
) -> Response:
    """The flags ticked on the review page, one decision and one reason.
    ``seen`` carries, for every flag on the page, ``flag id:current decision
    id`` as the reviewer saw them (a flag decided meanwhile refuses all)."""
    check_csrf(ctx, csrf)
    aid = _parse_id(attempt_id, "attempt")
    reviews.require_attempt(ctx.uow, aid)
    chosen, seen = flag or [], seen or []
    form = {"scope": "bulk", "flags": chosen, "decision": decision, "reason": reason}
    try:
        if len(chosen) > reviews.MAX_BULK or len(seen) > 2 * reviews.MAX_BULK:
            raise Invalid(f"decide at most {reviews.MAX_BULK} flags at a time")
        current: dict[uuid.UUID, uuid.UUID | None] = {}
        for pair in seen:
            key, _, value = pair.partition(":")
            current[_id(key)] = _optional_id(value, "the decision you saw")
        flags = [reviews.Seen(fid, current.get(fid)) for fid in map(_id, chosen)]
        with _change(ctx.uow):
            reviews.decide_many(ctx.uow, aid, flags, decision or None, reason)
    except (Invalid, Conflict) as exc:
        return _review_page(
            request,
            ctx,
            aid,
            status=exc.status,
            error=exc.detail,
            form=form,
            form_anchor="reason-bulk",
        )
    return flash.redirect(
        request, f"/proctoring/reviews/{aid}#flags-h", say(request, NOTICES["flags"])
    )


def _id(value: str) -> uuid.UUID:
    found = _optional_id(value, "a chosen flag")
    if found is None:
        raise Invalid("a chosen flag is not valid; reload the page")
    return found


@router.get("/proctoring/reviews/{attempt_id}/evidence/{object_id}")
def evidence(
    request: Request,
    attempt_id: str,
    object_id: str,
    ctx: PageContext = requires_page(P.EVIDENCE_VIEW),
) -> Response:
    """A fresh signed URL (audited) for a snapshot, segment, ID photo, room
    check clip or contest attachment of the attempt."""
    aid, oid = _parse_id(attempt_id, "attempt"), _parse_id(object_id, "evidence object")
    reviews.require_attempt(ctx.uow, aid)
    snapshot = select(Snapshot.id).where(Snapshot.attempt_id == aid, Snapshot.object_id == oid)
    segment = select(RecordingSegment.id).where(
        RecordingSegment.attempt_id == aid, RecordingSegment.object_id == oid
    )
    id_photo = select(EvidenceObject.id).where(
        EvidenceObject.id == oid,
        EvidenceObject.subject_type == ATTEMPT,
        EvidenceObject.subject_id == str(aid),
        EvidenceObject.kind.in_(("id_photo", "room_check", contests.ATTACHMENT)),
    )
    found = ctx.uow.session.execute(
        select(or_(snapshot.exists(), segment.exists(), id_photo.exists()))
    ).scalar_one()
    if not found:
        raise NotFound(f"evidence object {oid} was not found")
    signed = evidence_api.issue_url(oid, request, ctx.uow)
    return RedirectResponse(
        signed.url,
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
