"""``GET /api/v1/exams/{exam_id}/results``: one exam's results, paged both
ways, sortable by any column, filtered; ``?format=csv`` or ``xlsx`` is the
same view as a file (:mod:`invigil.results.exports`). Needs ``result:view``;
names and emails need ``candidate:view`` too (else pseudonyms, and no search).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from invigil.content import exams
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.results import exports, listing
from invigil.security.permissions import Permission as P
from invigil.web import table
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["results"])

Status = Literal["in_progress", "submitted"]
Integrity = Literal["clear", "flagged", "under_review", "cleared", "failed"]
Grading = Literal["needs_grading", "graded", "released"]


class ResultRowOut(BaseModel):
    id: uuid.UUID = Field(description="the attempt")
    pseudonym: str = Field(description="stands for the candidate; stable per attempt")
    candidate_name: str | None = Field(description="null without candidate:view")
    candidate_email: str | None = Field(description="null without candidate:view")
    attempt: int = Field(description="the attempt's number for its invitation")
    status: Status
    score: float | None = Field(description="points awarded (latest result); null while running")
    max_score: float | None
    percentage: float | None
    passed: bool | None = Field(description="null while a response waits for grading")
    integrity: Integrity
    time_taken_seconds: int | None
    started_at: datetime | None
    submitted_at: datetime | None
    grading: Grading | None = Field(description="null without a result")
    voided: bool = Field(description="staff voided the attempt: it counts in no figure")


class ResultsPageOut(BaseModel):
    items: list[ResultRowOut]
    next: str | None
    previous: str | None


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _out(r: listing.Row) -> ResultRowOut:
    return ResultRowOut(
        id=r.attempt_id,
        pseudonym=r.pseudonym,
        candidate_name=r.name,
        candidate_email=r.email,
        attempt=r.number,
        status=r.status,
        score=_number(r.awarded),
        max_score=_number(r.max_points),
        percentage=_number(r.percent),
        passed=r.passed,
        integrity=r.integrity,
        time_taken_seconds=r.seconds_taken,
        started_at=r.started_at,
        submitted_at=r.submitted_at,
        grading=r.grading,
        voided=r.voided,
    )


def _params(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


@router.get(
    "/exams/{exam_id}/results",
    response_model=ResultsPageOut,
    responses={200: {"content": {"text/csv": {}, exports.XLSX_TYPE: {}}}},
)
def exam_results(
    request: Request,
    exam_id: uuid.UUID,
    sort: Annotated[str, Query(max_length=20, description="a column, -column: descending")] = (
        "-submitted"
    ),
    q: Annotated[str, Query(max_length=table.MAX_SEARCH)] = "",
    status: Status | None = None,
    passed: Annotated[Literal["passed", "failed", "pending"] | None, Query(alias="pass")] = None,
    integrity: Integrity | None = None,
    min_percent: Annotated[Decimal | None, Query(alias="min", ge=0, le=100)] = None,
    max_percent: Annotated[Decimal | None, Query(alias="max", ge=0, le=100)] = None,
    submitted_from: Annotated[date | None, Query(alias="from")] = None,
    submitted_to: Annotated[date | None, Query(alias="to")] = None,
    cursor: Annotated[str, Query(max_length=table.MAX_CURSOR)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = table.DEFAULT_SIZE,
    format: Literal["json", "csv", "xlsx"] = "json",
    uow: UnitOfWork = requires(P.RESULT_VIEW),
) -> Response | ResultsPageOut:
    exams.require_exam(uow, exam_id)  # another tenant's exam: 404, like a missing one
    identities = P.CANDIDATE_VIEW.value in uow.claims.permissions
    params = _params(
        sort=sort,
        q=q,
        status=status,
        integrity=integrity,
        cursor=cursor if format == "json" else None,
        **{"pass": passed, "min": min_percent, "max": max_percent},
        **{"from": submitted_from, "to": submitted_to},
    )
    try:
        found = listing.results_view(exam_id, params, identities=identities, size=limit)
    except table.BadParameter as exc:
        raise Invalid(exc.detail, **exc.extensions) from None
    if format != "json":
        db, actor = request.app.state.db, uow.actor
        tenant = uow.tenant
        return exports.response(
            format,
            exam_id,
            lambda: db.unit_of_work(tenant, actor),
            listing.ordered(found),
            identities=identities,
        )
    paged = listing.page(uow, found)
    return ResultsPageOut(
        items=[_out(r) for r in paged.rows],
        next=paged.next_cursor,
        previous=paged.prev_cursor,
    )
