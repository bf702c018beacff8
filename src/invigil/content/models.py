"""Content tables: banks, questions and their immutable versions, exams and
their immutable published versions (migration 0005).

A version row is written once and never changed: the app role holds only
INSERT and SELECT on ``question_versions`` and ``exam_versions``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)
LANGUAGE_CODE = "'^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'"


class QuestionBank(TenantScoped, Base):
    __tablename__ = "question_banks"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_question_banks_tenant_id_name"),
        CheckConstraint("btrim(name) <> ''", name="name_not_blank"),
    )

    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), server_default="")


class Question(TenantScoped, Base):
    """The stable identity of a question; its content lives in versions."""

    __tablename__ = "questions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "bank_id"],
            ["question_banks.tenant_id", "question_banks.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint("current_version >= 1", name="current_version"),
        Index("ix_questions_bank", "tenant_id", "bank_id", "created_at"),
    )

    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    bank_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    type: Mapped[str] = mapped_column(String(32))
    current_version: Mapped[int] = mapped_column(Integer)
    archived_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)


class QuestionVersion(TenantScoped, Base):
    __tablename__ = "question_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "question_id"],
            ["questions.tenant_id", "questions.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint(
            "tenant_id",
            "question_id",
            "version",
            name="uq_question_versions_tenant_id_question_id_version",
        ),
        CheckConstraint("points > 0", name="points"),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint("difficulty IN ('easy', 'medium', 'hard')", name="difficulty"),
        CheckConstraint(f"language ~ {LANGUAGE_CODE}", name="language"),
        ForeignKeyConstraint(
            ["tenant_id", "drafted_from"],
            ["question_drafts.tenant_id", "question_drafts.id"],
            name="fk_question_versions_drafted_from",
            ondelete="RESTRICT",
        ),
    )

    question_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    points: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    category: Mapped[str] = mapped_column(String(100))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    difficulty: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(80))
    # The language the version is written in (0022).
    language: Mapped[str] = mapped_column(String(16), server_default="en")
    # The AI draft this version was saved from by its author (0045): its provenance.
    drafted_from: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class QuestionDraft(TenantScoped, Base):
    """A question an AI provider drafted into a bank (0045): not a question
    until an author saves it, so no exam, export or count can reach it. Its
    content is written once; its decision (accepted or discarded) once."""

    __tablename__ = "question_drafts"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'discarded')", name="status"),
        CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL) "
            "AND (decided_at IS NULL) = (decided_by IS NULL)",
            name="decided",
        ),
        CheckConstraint("(status = 'accepted') = (question_id IS NOT NULL)", name="question"),
        CheckConstraint("position >= 0", name="position"),
        CheckConstraint("jsonb_typeof(content) = 'object'", name="content"),
        ForeignKeyConstraint(
            ["tenant_id", "bank_id"],
            ["question_banks.tenant_id", "question_banks.id"],
            name="fk_question_drafts_bank",
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "usage_id"],
            ["ai_usage.tenant_id", "ai_usage.id"],
            name="fk_question_drafts_usage",
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "question_id"],
            ["questions.tenant_id", "questions.id"],
            name="fk_question_drafts_question",
            ondelete="RESTRICT",
        ),
        Index("ix_question_drafts_bank", "tenant_id", "bank_id", "status", "created_at", "id"),
    )

    bank_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    usage_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    # The draft as the editor's input (QuestionIn: body, points, category, ...).
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    question_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class QuestionTranslation(TenantScoped, Base):
    """What a candidate reads of one question version in another language
    (0022): the same structure, other words. Scoring keys stay in the
    version; see :mod:`invigil.content.translations`."""

    __tablename__ = "question_translations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "question_id"],
            ["questions.tenant_id", "questions.id"],
            name="fk_question_translations_question",
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "question_version_id"],
            ["question_versions.tenant_id", "question_versions.id"],
            name="fk_question_translations_version",
            ondelete="RESTRICT",
        ),
        UniqueConstraint(
            "tenant_id",
            "question_version_id",
            "language",
            name="uq_question_translations_version_language",
        ),
        CheckConstraint(f"language ~ {LANGUAGE_CODE}", name="language"),
        Index("ix_question_translations_question", "tenant_id", "question_id"),
    )

    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    question_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    question_version_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    language: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_by: Mapped[str] = mapped_column(String(80))
    updated_by: Mapped[str] = mapped_column(String(80))


class Exam(TenantScoped, Base):
    """The editable working copy of an exam; publishing freezes it into a version."""

    __tablename__ = "exams"
    __table_args__ = (
        UniqueConstraint("tenant_id", "slug", name="uq_exams_tenant_id_slug"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status"),
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]{1,63}$'", name="slug_format"),
        CheckConstraint(
            "jsonb_typeof(consent_translations) = 'object'", name="consent_translations"
        ),
        CheckConstraint("jsonb_typeof(text_translations) = 'object'", name="text_translations"),
    )

    updated_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, server_default="")
    consent_text: Mapped[str] = mapped_column(Text, server_default="")
    # The author's consent text in other languages than the tenant's default (0021).
    consent_translations: Mapped[dict[str, str]] = mapped_column(JSONB, server_default="{}")
    # The title, description and section titles in other languages (0023; content.exam_text).
    text_translations: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    has_draft_changes: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))


class ExamVersion(TenantScoped, Base):
    __tablename__ = "exam_versions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "exam_id"], ["exams.tenant_id", "exams.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint(
            "tenant_id", "exam_id", "version", name="uq_exam_versions_tenant_id_exam_id_version"
        ),
        CheckConstraint("version >= 1", name="version"),
        CheckConstraint(
            "consent_texts IS NULL OR jsonb_typeof(consent_texts) = 'object'", name="consent_texts"
        ),
        CheckConstraint(
            "text_translations IS NULL OR jsonb_typeof(text_translations) = 'object'",
            name="text_translations",
        ),
        CheckConstraint(
            "text_language IS NULL OR text_language ~ '^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'",
            name="text_language",
        ),
    )

    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    consent_text: Mapped[str] = mapped_column(Text)
    # The complete consent text per language, frozen at publish (0021; NULL before it).
    consent_texts: Mapped[dict[str, str] | None] = mapped_column(JSONB, nullable=True)
    # The title, description and section titles per other language, frozen at
    # publish, and the language of the exam's own words (0023; NULL without any).
    text_translations: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    text_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sections: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(80))
