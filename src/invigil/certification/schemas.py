"""The certification API's bodies and answers (bounded at the edge; a
program's definition is :class:`invigil.certification.definition.Definition`,
which bounds every field itself)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from invigil.certification.definition import Definition

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]


class ProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    definition: Definition


class ReviseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    definition: Definition


class ArchiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    archived: bool = True


class VersionOut(BaseModel):
    id: uuid.UUID
    version: int
    definition: dict[str, Any]
    definition_sha256: str
    created_at: datetime


class ProgramOut(BaseModel):
    id: uuid.UUID
    name: str
    archived: bool
    current: VersionOut
    versions: list[VersionOut] = Field(description="newest first")


class BasisOut(BaseModel):
    attempt_id: uuid.UUID
    exam_id: uuid.UUID
    revision: int | None
    document_sha256: str | None
    percent: str | None = Field(description="the result's percentage, a decimal string")
    integrity: str


class StateChangeOut(BaseModel):
    seq: int
    from_state: str | None
    state: str
    reason: str
    changed_by: uuid.UUID | None
    changed_at: datetime


class CertificateOut(BaseModel):
    id: uuid.UUID
    number: str
    program_id: uuid.UUID
    program_name: str
    program_version_id: uuid.UUID
    program_version: int
    holder_id: uuid.UUID
    holder_name: str
    holder_email: str
    issued_at: datetime
    expires_at: datetime | None
    state: Literal["issued", "suspended", "expired", "revoked"]
    state_seq: int = Field(description="send it back as expect_seq when changing the state")
    state_changed_at: datetime
    renews_id: uuid.UUID | None
    issued_by: uuid.UUID | None
    approved_by: uuid.UUID | None
    basis: list[BasisOut]
    history: list[StateChangeOut] | None = Field(None, description="only on a single certificate")


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["suspend", "reinstate", "revoke"]
    reason: Reason
    expect_seq: int | None = Field(None, ge=1, le=1_000_000)


class ApprovalOut(BaseModel):
    id: uuid.UUID
    program_id: uuid.UUID
    program_version_id: uuid.UUID
    holder_id: uuid.UUID
    holder_name: str
    created_at: datetime
    basis: list[BasisOut]
    status: Literal["pending", "approved", "rejected"]
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    reason: str
    certificate_id: uuid.UUID | None


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    holder_id: uuid.UUID
    program_id: uuid.UUID


class CheckOut(BaseModel):
    kind: Literal["exam", "prerequisite"]
    subject: uuid.UUID
    met: bool
    reason: str
    attempt_id: uuid.UUID | None


class IssueOut(BaseModel):
    outcome: Literal["issued", "pending"]
    certificate: CertificateOut | None = None
    approval: ApprovalOut | None = None
