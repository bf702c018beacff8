"""``GET /api/v1/exams/{exam_id}/analytics``: an exam's summary, score
histogram, funnel, categories and item analysis, as the analytics page
shows them (docs/analytics.md explains each figure)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from invigil.db.uow import UnitOfWork
from invigil.results import analytics
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["analytics"])


class SummaryOut(BaseModel):
    submitted: int = Field(description="submitted attempts with a result")
    graded: int = Field(description="of those, the ones that need no more grading")
    pending_grading: int
    with_outcome: int = Field(description="attempts with a pass or fail")
    passed: int
    pass_rate: float | None = Field(description="passed / with_outcome, 0 to 1")
    mean_percent: float | None
    median_percent: float | None
    median_duration_ms: float | None


class BinOut(BaseModel):
    from_: int = Field(alias="from", description="lowest percentage of the bin")
    to: int = Field(description="the next bin's lowest (the last bin includes 100)")
    count: int


class StageOut(BaseModel):
    stage: Literal["invited", "opened", "started", "submitted", "graded", "released"]
    count: int | None = Field(description="null: not recorded by this installation yet")
    percent_of_invited: float | None


class CategoryOut(BaseModel):
    category: str
    attempts: int
    questions: int = Field(description="the most questions of the category on one paper")
    mean_percent: float | None


class OptionOut(BaseModel):
    index: int = Field(description="position in the question's own (unshuffled) order")
    text: str
    keyed: bool
    chosen: int


class DistractorsOut(BaseModel):
    version_id: uuid.UUID
    version: int | None
    seen: int
    options: list[OptionOut]


class ItemOut(BaseModel):
    question_id: uuid.UUID
    type: str
    category: str
    n: int
    facility: float | None
    discrimination: float | None = Field(description="point-biserial with the rest-score")
    upper_lower: float | None = Field(description="facility in the upper 27 % minus lower 27 %")
    upper_n: int
    lower_n: int
    mean_time_ms: float | None
    median_time_ms: float | None
    flags: list[Literal["negative", "extreme"]]
    enough: bool = Field(description="false: too few responses to judge (no flags)")
    distractors: list[DistractorsOut]


class AnalyticsOut(BaseModel):
    exam_id: uuid.UUID
    computed_at: datetime
    summary: SummaryOut
    histogram: list[BinOut]
    funnel: list[StageOut]
    categories: list[CategoryOut]
    items: list[ItemOut]


@router.get("/exams/{exam_id}/analytics", response_model=AnalyticsOut, response_model_by_alias=True)
def exam_analytics(exam_id: uuid.UUID, uow: UnitOfWork = requires(P.RESULT_VIEW)) -> AnalyticsOut:
    """The exam's cohort figures and item analysis (cached until a new result)."""
    return AnalyticsOut.model_validate(analytics.exam_analytics(uow, exam_id).as_json())
