"""The results domain's tables: grading marks (0024), result releases and
result links (0025), the analytics cache (0026), AI-suggested rubric marks
and their discards (0042)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)
KINDS = ("first", "second", "moderation", "regrade")
INFLUENCES = ("taken", "edited", "ignored")


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
        ForeignKeyConstraint(
            ["tenant_id", "ai_suggestion_id"],
            ["rubric_suggestions.tenant_id", "rubric_suggestions.id"],
            ondelete="RESTRICT",
            name="fk_grading_marks_ai_suggestion",
        ),
        CheckConstraint(
            "(ai_suggestion_id IS NULL) = (ai_influence IS NULL) AND (ai_influence IS NULL OR "
            "ai_influence IN ('taken', 'edited', 'ignored'))",
            name="ai_influence",
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    slot: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    grader_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    marks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    max_points: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The AI suggestion shown to the grader for this response, and what the
    # mark made of it (``INFLUENCES``); both None when none was shown.
    ai_suggestion_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    ai_influence: Mapped[str | None] = mapped_column(String(10), nullable=True)


class RubricSuggestion(TenantScoped, Base):
    """Rubric levels an AI provider suggested to one grader for one response,
    with rationales: written once, never a mark (see invigil.results.suggestions)."""

    __tablename__ = "rubric_suggestions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"],
            ["attempts.tenant_id", "attempts.id"],
            ondelete="RESTRICT",
            name="fk_rubric_suggestions_attempt",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "requested_by"],
            ["users.tenant_id", "users.id"],
            ondelete="RESTRICT",
            name="fk_rubric_suggestions_requested_by",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "usage_id"],
            ["ai_usage.tenant_id", "ai_usage.id"],
            ondelete="RESTRICT",
            name="fk_rubric_suggestions_usage",
        ),
        UniqueConstraint("tenant_id", "usage_id"),
        CheckConstraint("slot >= 0", name="slot"),
        CheckConstraint("jsonb_typeof(criteria) = 'array'", name="criteria"),
        CheckConstraint("total >= 0 AND total <= max_points", name="total"),
        Index(
            "ix_rubric_suggestions_response",
            "tenant_id",
            "attempt_id",
            "slot",
            "requested_by",
            "created_at",
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    slot: Mapped[int] = mapped_column(Integer)
    requested_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    usage_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    overall_rationale: Mapped[str] = mapped_column(Text)
    total: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    max_points: Mapped[Decimal] = mapped_column(Numeric(10, 2))


class RubricSuggestionDiscard(TenantScoped, Base):
    """A grader put a suggestion aside: written once."""

    __tablename__ = "rubric_suggestion_discards"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "suggestion_id"],
            ["rubric_suggestions.tenant_id", "rubric_suggestions.id"],
            ondelete="RESTRICT",
            name="fk_rubric_suggestion_discards_suggestion",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "discarded_by"],
            ["users.tenant_id", "users.id"],
            ondelete="RESTRICT",
            name="fk_rubric_suggestion_discards_discarded_by",
        ),
        UniqueConstraint("tenant_id", "suggestion_id"),
    )

    suggestion_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    discarded_by: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))


class ResultRelease(TenantScoped, Base):
    """One result revision released to its candidate: written once, never changed."""

    __tablename__ = "result_releases"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "result_id"],
            ["attempt_results.tenant_id", "attempt_results.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "attempt_id", "revision"),
        CheckConstraint("how IN ('automatic', 'manual', 'bulk')", name="how"),
        CheckConstraint("revision >= 1", name="revision"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    result_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    revision: Mapped[int] = mapped_column(Integer)
    how: Mapped[str] = mapped_column(String(16))
    released_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    released_at: Mapped[datetime] = mapped_column(TS)


class ResultLink(TenantScoped, Base):
    """A candidate's link to their released result, stored only as
    HMAC-SHA256(server key, token); it expires and can be ended."""

    __tablename__ = "result_links"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "release_id"],
            ["result_releases.tenant_id", "result_releases.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "token_hash", name="uq_result_links_tenant_id_token_hash"),
        Index(
            "uq_result_links_live",
            "tenant_id",
            "attempt_id",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        CheckConstraint(
            "(ended_at IS NULL AND ended_reason IS NULL) OR "
            "(ended_at IS NOT NULL AND ended_reason IN ('revoked', 'replaced'))",
            name="ended",
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    release_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(TS)
    ended_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)


class AnalyticsCache(TenantScoped, Base):
    """An exam's result figures (summary and item analysis) as last computed,
    with the results they cover: ``results`` rows, the newest recorded at
    ``newest_result_at``. A new result changes either, and the next reader
    computes again (invigil.results.analytics). Derived data: losing a row
    costs one computation, never a figure."""

    __tablename__ = "analytics_cache"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "exam_id"], ["exams.tenant_id", "exams.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "exam_id"),
    )

    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    format: Mapped[int] = mapped_column(Integer)
    results: Mapped[int] = mapped_column(Integer)
    newest_result_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    figures: Mapped[dict[str, Any]] = mapped_column(JSONB)
    computed_at: Mapped[datetime] = mapped_column(TS)
