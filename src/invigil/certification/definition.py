"""A program's definition: what a candidate must achieve, how long the
certificate lasts, how it is renewed. Frozen per program version as
canonical JSON with its sha256; a change is a new version.

Pure: no database. :func:`parse` turns a submitted mapping into a
:class:`Definition` (errors name the field), :meth:`Definition.document`
gives the canonical document that is stored and hashed.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from invigil.audit.records import document_sha256
from invigil.errors import Invalid

Integrity = Literal["clear", "clear_or_cleared"]


class Definition(BaseModel):
    """Requirements, validity and recertification of one program version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Requirements
    exam_ids: list[uuid.UUID] = Field(min_length=1, max_length=20)
    mode: Literal["all", "any"] = "all"
    min_percent: float | None = Field(default=None, ge=0, le=100)
    # "clear": no flag at all; "clear_or_cleared": flags a reviewer cleared are fine.
    integrity: Integrity = "clear_or_cleared"
    prerequisites: list[uuid.UUID] = Field(default_factory=list, max_length=10)
    # Validity and renewal (None: never expires)
    validity_months: int | None = Field(default=24, ge=1, le=240)
    recert_window_days: int = Field(default=90, ge=0, le=730)
    grace_days: int = Field(default=30, ge=0, le=365)
    renew_from: Literal["expiry", "now"] = "expiry"
    recert_exam_id: uuid.UUID | None = None
    reminder_days: list[int] = Field(default_factory=lambda: [90, 30, 7], max_length=10)
    # Issuance
    approval: bool = False
    # What the credential says of the achievement
    description: str = Field(default="", max_length=2000)
    criteria: str = Field(default="", max_length=4000)

    @field_validator("exam_ids", "prerequisites")
    @classmethod
    def _distinct(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("names the same one twice")
        return value

    @field_validator("reminder_days")
    @classmethod
    def _offsets(cls, value: list[int]) -> list[int]:
        if any(d < 1 or d > 730 for d in value):
            raise ValueError("each reminder is 1 to 730 days before expiry")
        return sorted(set(value), reverse=True)

    @model_validator(mode="after")
    def _coherent(self) -> Definition:
        if self.validity_months is None and (self.recert_exam_id is not None):
            raise ValueError("a certificate that never expires has no recertification exam")
        return self

    def document(self) -> dict[str, Any]:
        """The canonical document stored with the version (ids as strings)."""
        return self.model_dump(mode="json")

    def sha256(self) -> str:
        return document_sha256(self.document())


def parse(data: Any) -> Definition:
    """A definition from a mapping; :class:`Invalid` naming the first bad field."""
    try:
        return Definition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "definition"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise Invalid(f"{field}: {message}", field=field) from None
