"""The shortlists API's bodies and answers (bounded at the edge)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invigil.shortlists.rules import Rules

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
StageName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    description: Annotated[str, StringConstraints(max_length=2000)] = ""
    exam_ids: list[uuid.UUID] = Field(min_length=1, max_length=50)


class PositionOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    exam_ids: list[uuid.UUID]


class RuleSetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    position_id: uuid.UUID | None = None
    rules: Rules


class VersionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: Rules = Field(default_factory=Rules)


class VersionOut(BaseModel):
    id: uuid.UUID
    version: int
    rules: dict[str, Any]
    rules_sha256: str
    created_at: datetime


class RuleSetOut(BaseModel):
    id: uuid.UUID
    name: str
    position_id: uuid.UUID | None
    versions: list[VersionOut] = Field(description="newest first")


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule_set_id: uuid.UUID
    version: int | None = Field(None, ge=1, le=1_000_000, description="default: the latest")
    position_id: uuid.UUID | None = Field(None, description="the cohort: a position's exams...")
    exam_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=50, description="...or these"
    )


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: StageName
    note: Annotated[str, StringConstraints(max_length=2000)] = ""


class StagesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stages: list[StageName] = Field(min_length=2, max_length=12)
    final: list[StageName] = Field(min_length=1, max_length=12)


class StagesOut(BaseModel):
    stages: list[str]
    final: list[str]


class EntryOut(BaseModel):
    position: int
    rank: int | None
    attempt_id: uuid.UUID
    candidate_id: uuid.UUID
    exam_id: uuid.UUID
    pseudonym: str
    candidate_name: str | None = Field(description="null without candidate:view")
    candidate_email: str | None = Field(description="null without candidate:view")
    percentage: float | None
    passed: bool | None
    integrity: Literal["clear", "flagged", "under_review", "cleared", "failed"]
    time_taken_seconds: int | None
    submitted_at: datetime | None
    categories: dict[str, str]
    met: list[dict[str, Any]] = Field(description="the rules met, with the numbers")
    failed: dict[str, Any] | None = Field(description="the first rule failed (excluded only)")
    stage: str | None = Field(description="the current stage (shortlisted only)")
    stage_changed_at: datetime | None


class RunOut(BaseModel):
    id: uuid.UUID
    rule_set_id: uuid.UUID
    rule_set_name: str
    rule_set_version: int
    rules: dict[str, Any]
    rules_sha256: str
    position_id: uuid.UUID | None
    exam_ids: list[uuid.UUID]
    rerun_of: uuid.UUID | None
    completed_at: datetime
    considered: int
    shortlisted: int
    entries: list[EntryOut] | None = Field(None, description="ranked (GET of one run only)")
    excluded: list[EntryOut] | None = Field(None, description="with the first rule failed")


class RunsOut(BaseModel):
    items: list[RunOut]
    next: str | None = None


class StageChangeOut(BaseModel):
    id: uuid.UUID
    run_id: uuid.UUID
    attempt_id: uuid.UUID
    seq: int
    from_stage: str
    stage: str
    note: str
    changed_by: uuid.UUID | None
    changed_at: datetime
