"""Results tables: grading marks (0024)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

KINDS = ("first", "second", "moderation", "regrade")


class GradingMark(TenantScoped, Base):
    """One person's mark of one response (attempt, slot): written once,
    never changed; a moderation or a regrade is a new row with a reason."""

    __tablename__ = "grading_marks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "grader_id"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("slot >= 0", name="slot"),
        CheckConstraint("kind IN ('first', 'second', 'moderation', 'regrade')", name="kind"),
        CheckConstraint("jsonb_typeof(marks) = 'array'", name="marks"),
        CheckConstraint("total >= 0 AND total <= max_points", name="total"),
        CheckConstraint(
            "(kind IN ('moderation', 'regrade')) = (reason IS NOT NULL AND btrim(reason) <> '')",
            name="reason",
        ),
        Index(
            "uq_grading_marks_response_kind",
            "tenant_id",
            "attempt_id",
            "slot",
            "kind",
            unique=True,
            postgresql_where=text("kind IN ('first', 'second', 'moderation')"),
        ),
        Index(
            "uq_grading_marks_response_grader",
            "tenant_id",
            "attempt_id",
            "slot",
            "grader_id",
            unique=True,
            postgresql_where=text("kind IN ('first', 'second')"),
        ),
        Index("ix_grading_marks_response", "tenant_id", "attempt_id", "slot", "created_at"),
        Index("ix_grading_marks_grader", "tenant_id", "grader_id", "created_at"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    slot: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    grader_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    marks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    max_points: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
