"""What a grader, a moderator and a regrade send (API and pages alike).

Every field is bounded here, at the edge; whether a level exists in the
question's rubric is the service's check (it needs the frozen question)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_COMMENT = 2000
MAX_REASON = 500
Name = Annotated[str, Field(min_length=1, max_length=2000)]
Points = Annotated[Decimal, Field(ge=0, le=100000, decimal_places=2, allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CriterionMarkIn(_Strict):
    criterion: Name = Field(description="the rubric criterion's name")
    level: Name = Field(description="the label of the level chosen for it")
    comment: str = Field(default="", max_length=MAX_COMMENT)


class MarkIn(_Strict):
    """An essay: one level per rubric criterion. A short-text answer given
    for manual credit: ``points`` (up to the question's worth) and a comment."""

    criteria: list[CriterionMarkIn] = Field(default_factory=list, max_length=20)
    points: Points | None = None
    comment: str = Field(default="", max_length=MAX_COMMENT)
    used_suggestion: bool = Field(
        default=False,
        description="the grader started from the AI-suggested levels shown to them (the mark "
        "records whether it took them unchanged, edited them or ignored them)",
    )


class RegradeIn(MarkIn):
    reason: str = Field(min_length=1, max_length=MAX_REASON, description="why it is marked again")


class ModerationIn(_Strict):
    total: Points = Field(description="the final points for the response")
    reason: str = Field(min_length=1, max_length=MAX_REASON)
