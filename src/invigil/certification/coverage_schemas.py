"""The groups and coverage API's bodies and answers (pydantic, bounded)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["team", "role", "site"]
Status = Literal["covered", "expiring_90", "expiring_60", "expiring_30", "grace", "lapsed", "never"]


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: Kind = "team"


class RequirementsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program_ids: list[uuid.UUID] = Field(max_length=50)


class GroupOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    members: int
    managers: int
    programs: int


class PersonOut(BaseModel):
    id: uuid.UUID
    name: str
    email: str
    external_ref: str


class ManagerOut(BaseModel):
    id: uuid.UUID
    email: str
    display_name: str


class ProgramRef(BaseModel):
    id: uuid.UUID
    name: str


class GroupDetailOut(GroupOut):
    required: list[ProgramRef]
    managers_list: list[ManagerOut]


class GroupsOut(BaseModel):
    items: list[GroupOut]
    total: int
    offset: int
    limit: int


class MembersOut(BaseModel):
    items: list[PersonOut]
    total: int
    offset: int
    limit: int


class ImportProblemOut(BaseModel):
    line: int
    column: str
    message: str


class ImportOut(BaseModel):
    applied: bool
    sha256: str
    rows: int
    people_matched: int
    people_created: int
    memberships_added: int
    memberships_existing: int
    groups: int


class CountsOut(BaseModel):
    covered: int
    expiring_90: int
    expiring_60: int
    expiring_30: int
    grace: int
    lapsed: int
    never: int


class LineOut(BaseModel):
    group_id: uuid.UUID
    group: str
    kind: str
    program_id: uuid.UUID
    program: str
    members: int
    counts: CountsOut


class SummaryOut(BaseModel):
    now: datetime
    items: list[LineOut]
    total: int
    offset: int
    limit: int
    totals: CountsOut


class CellOut(BaseModel):
    status: Status
    expires_at: datetime | None


class RowOut(BaseModel):
    person: PersonOut
    cells: dict[str, CellOut]  # program id -> cell; absent: not required


class MatrixOut(BaseModel):
    now: datetime
    programs: list[ProgramRef]
    items: list[RowOut]
    total: int
    offset: int
    limit: int
