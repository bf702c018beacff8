"""Two to four candidates side by side (:mod:`invigil.results.compare`): the
staff page ``/results/compare?attempt=<id>&attempt=<id>…`` and its API,
``GET /api/v1/results/compare``. Both declare ``result:view``; names and
emails need ``candidate:view`` too; the link to an attempt's review (where
its evidence is) is offered only to viewers who may open it.

The page is one table, a column per candidate, whose first column (what
each row is) stays in place while the table scrolls sideways, so that it
reads at 375 px as well as at 1280."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from invigil.db.uow import UnitOfWork
from invigil.results import compare, grading
from invigil.results.listing import INTEGRITY_LABELS
from invigil.results.listing_api import Integrity
from invigil.security.permissions import Permission as P
from invigil.web.access import requires
from invigil.web.pages import render
from invigil.web.session import PageContext, requires_page

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["results"])


def _asked(request: Request) -> list[uuid.UUID]:
    return compare.attempt_ids(request.query_params.getlist(compare.PARAMETER))


def _review(permissions: set[str] | frozenset[str]) -> bool:
    """May open an attempt's review, where its snapshots and recordings are."""
    return P.EVIDENCE_VIEW.value in permissions and P.VIOLATION_REVIEW.value in permissions


@router.get("/results/compare", response_class=HTMLResponse)
def compare_page(request: Request, ctx: PageContext = requires_page(P.RESULT_VIEW)) -> HTMLResponse:
    found = compare.compare(ctx.uow, _asked(request), with_identity=ctx.can(P.CANDIDATE_VIEW))
    values: dict[str, Any] = {
        "page": ctx,
        "c": found,
        "integrity_labels": INTEGRITY_LABELS,
        "kind_labels": grading.KIND_LABELS,
        "review_links": _review(ctx.permissions),
    }
    return render(request, "results/compare.html", values)


# --- the API ------------------------------------------------------------------


class CategoryOut(BaseModel):
    questions: int
    awarded: str
    max: str
    percent: str | None = Field(description="null while a question of it waits for a grader")
    passed: bool | None = Field(description="null: no category mark, or not decided yet")
    pending_grading: int


class CategoryRowOut(BaseModel):
    name: str
    exam_title: str | None = Field(
        description="null: every attempt's result has this category (the row lines up); "
        "else the exam it belongs to"
    )
    cells: list[CategoryOut | None] = Field(description="one per attempt, in their order")


class TimedOut(BaseModel):
    section: str = Field(description="the section's number")
    title: str
    time_ms: int
    median_ms: float | None = Field(description="the cohort's median; null without a cohort")
    cohort: int = Field(description="submitted attempts the median rests on")


class CriterionOut(BaseModel):
    criterion: str | None
    level: str | None
    points: str


class GivenMarkOut(BaseModel):
    kind: str = Field(description="first, second, moderation or regrade (never who gave it)")
    at: datetime
    total: str
    criteria: list[CriterionOut]
    reason: str | None = Field(description="a moderation's or regrade's reason")


class MarkOut(BaseModel):
    question: int = Field(description="the question's number on the paper")
    awarded: str
    max: str
    given: list[GivenMarkOut]


class IntegrityOut(BaseModel):
    outcome: Integrity = Field(description="as the results list: clear, flagged, ...")
    flags: int
    undecided_flags: int
    confirmed_flags: int
    events: int


class ColumnOut(BaseModel):
    attempt_id: uuid.UUID
    pseudonym: str = Field(description="stands for the candidate; stable per attempt")
    candidate_name: str | None = Field(description="null without candidate:view")
    candidate_email: str | None = Field(description="null without candidate:view")
    exam_id: uuid.UUID
    exam_title: str
    exam_version: int
    revision: int = Field(description="the result document's latest revision")
    awarded: str
    max: str
    percent: str
    passed: bool | None = Field(description="null: no pass mark, or a response waits for grading")
    needs_grading: bool
    time_taken_seconds: int | None = Field(description="from the start to the submission")
    time_on_questions_ms: int
    sections: list[TimedOut]
    cohort: int = Field(description="submitted attempts of the same exam version")
    integrity: IntegrityOut
    marks: list[MarkOut]
    waiting_questions: list[int] = Field(description="questions still waiting for a grader")
    result_url: str
    review_url: str | None = Field(description="null unless the viewer may open the review")


class ComparisonOut(BaseModel):
    attempts: list[ColumnOut]
    categories: list[CategoryRowOut]


def _category(c: dict[str, Any] | None) -> CategoryOut | None:
    if c is None:
        return None
    pending = int(c.get("pending_grading") or 0)
    return CategoryOut(
        questions=int(c.get("questions") or 0),
        awarded=str(c.get("awarded", "0")),
        max=str(c.get("max", "0")),
        percent=None if pending or c.get("percent") is None else str(c["percent"]),
        passed=c.get("passed"),
        pending_grading=pending,
    )


def _column(col: compare.Column, review: bool) -> ColumnOut:
    v, res, s = col.view, col.view.result, col.view.integrity
    who = v.candidate
    return ColumnOut(
        attempt_id=col.attempt_id,
        pseudonym=who.code,
        candidate_name=who.name,
        candidate_email=who.email,
        exam_id=v.attempt.exam_id,
        exam_title=v.version.title,
        exam_version=v.version.version,
        revision=res.revision,
        awarded=str(res.awarded),
        max=str(res.max_points),
        percent=str(res.percent),
        passed=None if res.needs_grading else res.passed,
        needs_grading=res.needs_grading,
        time_taken_seconds=col.seconds,
        time_on_questions_ms=col.on_questions_ms,
        sections=[
            TimedOut(
                section=t.key,
                title=t.label,
                time_ms=t.time_ms,
                median_ms=t.median_ms,
                cohort=t.cohort,
            )
            for t in v.sections
        ],
        cohort=v.cohort,
        integrity=IntegrityOut(
            outcome=col.outcome,
            flags=col.flags,
            undecided_flags=s.undecided_flags,
            confirmed_flags=col.confirmed_flags,
            events=s.events,
        ),
        marks=[
            MarkOut(
                question=m.number,
                awarded=m.awarded,
                max=m.max,
                given=[
                    GivenMarkOut(
                        kind=g.kind,
                        at=g.at,
                        total=g.total,
                        criteria=[
                            CriterionOut(
                                criterion=c.get("criterion"),
                                level=c.get("level"),
                                points=str(c.get("points", "")),
                            )
                            for c in g.criteria
                        ],
                        reason=g.reason,
                    )
                    for g in m.given
                ],
            )
            for m in v.marks.given
        ],
        waiting_questions=[q.number for q in v.marks.waiting],
        result_url=f"/attempts/{col.attempt_id}/result",
        review_url=f"/proctoring/reviews/{col.attempt_id}" if review else None,
    )


@api.get("/results/compare", response_model=ComparisonOut)
def compare_results(
    attempt: Annotated[
        list[str] | None,
        Query(description="an attempt id; give it two to four times, each attempt once"),
    ] = None,
    uow: UnitOfWork = requires(P.RESULT_VIEW),
) -> ComparisonOut:
    """Two to four attempts side by side, in the order given. 422 naming
    ``attempt`` for fewer, more, a repeated or a malformed id; 404 for an
    attempt without a result (or another tenant's)."""
    permissions = set(uow.claims.permissions)
    ids = compare.attempt_ids(attempt or [])
    found = compare.compare(uow, ids, with_identity=P.CANDIDATE_VIEW.value in permissions)
    review = _review(permissions)
    return ComparisonOut(
        attempts=[_column(c, review) for c in found.columns],
        categories=[
            CategoryRowOut(name=r.name, exam_title=r.exam, cells=[_category(c) for c in r.cells])
            for r in found.categories
        ],
    )
