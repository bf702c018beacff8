"""An exam's settings and sections, validated before they are stored.

The proctoring ``overrides`` are only checked for shape here (event kind ->
severity and action, see docs/proctoring.md); the proctoring issue owns their
meaning.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from invigil.content.worth import CENT
from invigil.proctoring.rules import Action, Severity
from invigil.proctoring.rules import Kind as EventKind

Preset = Literal["practice", "standard", "strict", "high_stakes"]
Difficulty = Literal["easy", "medium", "hard"]
Percent = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
# When a candidate's result is released to them (results/release.py, ADR 0035).
ResultsRelease = Literal["immediately", "after_grading", "after_review", "manual"]
RESULTS_RELEASES: tuple[str, ...] = ("immediately", "after_grading", "after_review", "manual")
# What the candidate's result page shows, each level adding to the one before.
ResultFeedback = Literal["score", "categories", "questions"]
RESULT_FEEDBACKS: tuple[str, ...] = ("score", "categories", "questions")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Override(_Strict):
    severity: Severity
    action: Action


class Accommodations(_Strict):
    extra_time_percent: int = Field(default=0, ge=0, le=300)


class ExamSettings(_Strict):
    time_limit_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    attempts_allowed: int = Field(default=1, ge=1, le=100)
    navigation: Literal["free", "linear"] = "free"
    pass_mark_percent: Percent | None = None
    category_pass_marks: dict[str, Percent] = Field(default_factory=dict, max_length=100)
    results_release: ResultsRelease = "after_review"
    result_feedback: ResultFeedback = "score"
    proctoring_preset: Preset = "standard"
    proctoring_overrides: dict[EventKind, Override] = Field(default_factory=dict)
    shuffle_questions: bool = True
    shuffle_options: bool = True
    accommodations: Accommodations = Field(default_factory=Accommodations)
    # Answers queued while the browser was offline are still taken this long
    # after the deadline (marked as a late sync); nothing else is.
    offline_grace_seconds: int = Field(default=120, ge=0, le=3600)
    # A full custom proctoring policy (docs/policy.schema.json) instead of
    # the preset and its overrides.
    proctoring_policy: dict[str, Any] | None = None
    # Grading by people (results/grading.py, docs/adr/0031-grading-marks.md):
    # graders see a pseudonym and no other grader's mark until they submit
    # their own; with double marking a second grader marks independently, and
    # two marks further apart than the tolerance (a percentage of the
    # question's worth on the paper) go to a moderator.
    blind_grading: bool = True
    double_marking: bool = False
    marking_tolerance_percent: Percent = 10

    @field_validator("proctoring_policy")
    @classmethod
    def _policy(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        from pydantic import ValidationError

        from invigil.proctoring.policy import Policy

        try:
            return Policy.model_validate(v).model_dump(mode="json")
        except ValidationError as exc:
            problems = "; ".join(
                ".".join(str(p) for p in e["loc"]) + ": " + e["msg"] for e in exc.errors()
            )
            raise ValueError(f"the proctoring policy is not valid: {problems}") from None

    @field_validator("results_release", mode="before")
    @classmethod
    def _release(cls, v: Any) -> Any:
        # "never" was the old name of "manual" (stored settings were moved
        # over by migration 0025); new input must use the new names.
        if v not in RESULTS_RELEASES:
            raise ValueError(
                "results are released immediately, after_grading, after_review or manual"
                " (manual: staff release each result; it replaces the old 'never')"
            )
        return v

    @model_validator(mode="after")
    def _window(self) -> ExamSettings:
        for at in (self.opens_at, self.closes_at):
            if at is not None and at.tzinfo is None:
                raise ValueError("give opening and closing times with a time zone (e.g. ...Z)")
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("the exam must close after it opens")
        return self


class FixedSection(_Strict):
    """These questions, in this order (their current versions are pinned at publish)."""

    kind: Literal["fixed"] = "fixed"
    title: str = Field(default="", max_length=200)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    question_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)

    @field_validator("question_ids")
    @classmethod
    def _unique(cls, v: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(v)) != len(v):
            raise ValueError("a question appears twice in this section")
        return v


class PoolSection(_Strict):
    """Draw ``count`` questions (or a mix by difficulty) from those that match.

    A question matches when it is in ``bank_id`` (if given), in one of
    ``categories`` (if any), has at least one of ``tags`` (if any), and is
    not archived. A question that two sections could use belongs to the
    first one, so a candidate never sees it twice.
    """

    kind: Literal["pool"] = "pool"
    title: str = Field(default="", max_length=200)
    time_limit_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    bank_id: uuid.UUID | None = None
    categories: list[str] = Field(default_factory=list, max_length=50)
    tags: list[str] = Field(default_factory=list, max_length=50)
    count: int | None = Field(default=None, ge=1, le=500)
    difficulty_mix: dict[Difficulty, Annotated[int, Field(ge=0, le=500)]] | None = None
    # The section is worth exactly this on every paper, whatever is drawn
    # (content/worth.py); without it the pool's questions must carry equal points.
    scale_to_points: Decimal | None = Field(
        default=None, gt=0, le=100000, decimal_places=2, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _draw(self) -> PoolSection:
        if (self.count is None) == (self.difficulty_mix is None):
            raise ValueError("say how many questions to draw: either count or difficulty_mix")
        if self.difficulty_mix is not None and sum(self.difficulty_mix.values()) < 1:
            raise ValueError("the difficulty mix must draw at least one question")
        if self.scale_to_points is not None and self.scale_to_points < self.draws() * CENT:
            raise ValueError("scale the section to at least 0.01 points per question it draws")
        return self

    def draws(self) -> int:
        return self.count if self.count is not None else sum((self.difficulty_mix or {}).values())


Section = Annotated[FixedSection | PoolSection, Field(discriminator="kind")]
