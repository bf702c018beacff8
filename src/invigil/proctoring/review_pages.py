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
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select

from invigil.content import exams
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts
from invigil.delivery.attempt_pages import duration, stamp  # noqa: F401 (registers the filters)
from invigil.delivery.models import Attempt, Candidate
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence import api as evidence_api
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.proctoring import review_queue, review_timeline, reviews, summary
from invigil.proctoring.api import event_list
from invigil.proctoring.models import RecordingSegment, Snapshot
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
NOTICES = {
    "flag": "Decision on the flag recorded.",
    "outcome": "Outcome recorded. It is final.",
    "awaiting": "Outcome recorded. A second reviewer must record the same outcome before "
    "it becomes final (this exam's policy is high stakes).",
}
OUTCOME_LABELS = {
    "cleared": "Cleared: no violation",
    "violation_fail": "Violation confirmed: fail",
    "violation_invalidate": "Violation confirmed: invalidate the attempt",
}
FLAG_LABELS = {"confirmed": "Confirmed", "dismissed": "Dismissed"}
ACTION_LABELS = {
    "flag": "flag",
    "provisional_fail": "provisional fail",
    "auto_submit": "auto-submitted",
    "warn": "warning",
    "log": "logged",
}


def integrity_summary(uow: UnitOfWork, attempt: Attempt) -> summary.IntegritySummary:
    """For ``proctoring/_integrity.html`` on pages that have no summary yet."""
    return summary.summarize(uow, attempt)


templates.env.globals["integrity_summary"] = integrity_summary
templates.env.globals["outcome_labels"] = OUTCOME_LABELS


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


templates.env.filters["percent"] = percent


def _render(
    request: Request, name: str, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    values.setdefault("error", None)
    labels = {"flag_labels": FLAG_LABELS, "action_labels": ACTION_LABELS}
    return render(request, f"proctoring/{name}", {"page": ctx, **labels, **values}, status=status)


@router.get("/proctoring/reviews", response_class=HTMLResponse)
def queue_page(
    request: Request,
    exam: Annotated[str, Query(max_length=64)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    ctx: PageContext = requires_page(P.VIOLATION_REVIEW),
) -> HTMLResponse:
    rows: list[review_queue.QueueRow] = []
    nxt = error = None
    try:
        exam_id = uuid.UUID(exam) if exam else None
    except ValueError:
        exam_id, error = None, "choose an exam from the list"
    if error is None:
        try:
            rows, nxt = review_queue.queue(
                ctx.uow, exam_id=exam_id, limit=PAGE_SIZE, cursor=cursor or None
            )
        except Invalid as exc:
            error = exc.detail
    taken, _ = exams.list_exams(ctx.uow, status=None, limit=200, cursor=None)
    filters = {"exam": exam} if exam else {}
    return _render(
        request,
        "reviews.html",
        ctx,
        rows=rows,
        now=datetime.now(UTC),
        exam=exam,
        exams=[e for e in taken if e.published_version is not None],
        next_link=None if nxt is None else "?" + urlencode(filters | {"cursor": nxt}),
        error=error,
    )


def _review_page(
    request: Request, ctx: PageContext, attempt_id: uuid.UUID, **values: Any
) -> HTMLResponse:
    uow = ctx.uow
    attempt = reviews.require_attempt(uow, attempt_id)
    review = reviews.load(uow, attempt)
    events = event_list(uow, attempt)
    timeline = review_timeline.build(uow, attempt, review, events)
    near = {e.event.seq: e.near for e in timeline.entries if e.event is not None}
    values.setdefault("form", {})
    return _render(
        request,
        "review.html",
        ctx,
        a=attempt,
        review=review,
        timeline=timeline,
        near=near,
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
            request, f"/proctoring/reviews/{aid}#flag-{row.action_id}", NOTICES["flag"]
        )
    final = ctx.uow.get(Attempt, aid).review_final
    notice = "outcome" if final else "awaiting"
    return flash.redirect(request, f"/proctoring/reviews/{aid}#outcome", NOTICES[notice])


@router.get("/proctoring/reviews/{attempt_id}/evidence/{object_id}")
def evidence(
    request: Request,
    attempt_id: str,
    object_id: str,
    ctx: PageContext = requires_page(P.EVIDENCE_VIEW),
) -> Response:
    """A fresh signed URL (audited) for a snapshot, segment or ID photo of the attempt."""
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
        EvidenceObject.kind == "id_photo",
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
