"""The shortlists domain's tables (migration 0029): positions, rule sets and
their frozen versions, runs with their entries, stage changes, and the
tenant's stages. Versions, runs, entries and stage changes are written once
(append-only triggers); a change of rules is a new version, a new list a new
run, a move a new stage change."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class Position(TenantScoped, Base):
    """A job or position the tenant defines to group exams (a run's cohort)."""

    __tablename__ = "shortlist_positions"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)


class PositionExam(Base):
    __tablename__ = "shortlist_position_exams"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "position_id"],
            ["shortlist_positions.tenant_id", "shortlist_positions.id"],
            ondelete="CASCADE",
            name="fk_shortlist_position_exams_position",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "exam_id"], ["exams.tenant_id", "exams.id"], ondelete="RESTRICT"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    position_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)


class RuleSet(TenantScoped, Base):
    """A named rule set; its rules live in its versions."""

    __tablename__ = "shortlist_rule_sets"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        ForeignKeyConstraint(
            ["tenant_id", "position_id"],
            ["shortlist_positions.tenant_id", "shortlist_positions.id"],
            ondelete="RESTRICT",
            name="fk_shortlist_rule_sets_position",
        ),
    )

    name: Mapped[str] = mapped_column(String(200))
    position_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class RuleSetVersion(TenantScoped, Base):
    """One version of a rule set's rules, as canonical JSON and its sha256."""

    __tablename__ = "shortlist_rule_set_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "rule_set_id", "version"),
        ForeignKeyConstraint(
            ["tenant_id", "rule_set_id"],
            ["shortlist_rule_sets.tenant_id", "shortlist_rule_sets.id"],
            ondelete="RESTRICT",
            name="fk_shortlist_rule_set_versions_rule_set",
        ),
        CheckConstraint("version >= 1", name="version"),
    )

    rule_set_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rules_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class Run(TenantScoped, Base):
    """One shortlist run: the rules and the cohort frozen, the counts."""

    __tablename__ = "shortlist_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "rule_set_version_id"],
            ["shortlist_rule_set_versions.tenant_id", "shortlist_rule_set_versions.id"],
            ondelete="RESTRICT",
            name="fk_shortlist_runs_rule_set_version",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "position_id"],
            ["shortlist_positions.tenant_id", "shortlist_positions.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "rerun_of"],
            ["shortlist_runs.tenant_id", "shortlist_runs.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint("jsonb_typeof(exam_ids) = 'array'", name="exam_ids"),
        CheckConstraint("shortlisted >= 0 AND shortlisted <= considered", name="counts"),
        Index("ix_shortlist_runs_created", "tenant_id", "created_at"),
    )

    rule_set_version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    position_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    exam_ids: Mapped[list[str]] = mapped_column(JSONB)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rules_sha256: Mapped[str] = mapped_column(String(64))
    rerun_of: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    run_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    completed_at: Mapped[datetime] = mapped_column(TS)
    considered: Mapped[int] = mapped_column(Integer)
    shortlisted: Mapped[int] = mapped_column(Integer)


class Entry(TenantScoped, Base):
    """One candidate's attempt in a run: ranked with the rules it met, or
    excluded with the first rule it failed; the numbers as the run read them."""

    __tablename__ = "shortlist_entries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "run_id", "attempt_id"),
        UniqueConstraint("tenant_id", "run_id", "position"),
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["shortlist_runs.tenant_id", "shortlist_runs.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("(rank IS NULL) = (failed IS NOT NULL)", name="ranked_or_failed"),
        CheckConstraint("position >= 1", name="position"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    position: Mapped[int] = mapped_column(Integer)
    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    candidate_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), nullable=True)
    passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    integrity: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    categories: Mapped[dict[str, Any]] = mapped_column(JSONB)
    met: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    failed: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True), nullable=True)
    sha256: Mapped[str] = mapped_column(String(64))


class StageChange(TenantScoped, Base):
    """One move of a shortlisted entry to another stage: who, when, why."""

    __tablename__ = "shortlist_stage_changes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "run_id", "attempt_id", "seq"),
        ForeignKeyConstraint(
            ["tenant_id", "run_id", "attempt_id"],
            [
                "shortlist_entries.tenant_id",
                "shortlist_entries.run_id",
                "shortlist_entries.attempt_id",
            ],
            ondelete="RESTRICT",
            name="fk_shortlist_stage_changes_entry",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "changed_by"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("seq >= 1", name="seq"),
        CheckConstraint("stage <> from_stage", name="moved"),
    )

    run_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    seq: Mapped[int] = mapped_column(Integer)
    from_stage: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(TS)


class Settings(TenantScoped, Base):
    """The tenant's stages (none: the default stages)."""

    __tablename__ = "shortlist_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    stages: Mapped[list[str]] = mapped_column(JSONB)
    final_stages: Mapped[list[str]] = mapped_column(JSONB)
