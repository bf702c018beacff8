"""Proctoring tables: events and the actions taken (0010); snapshots,
recording segments and review decisions (0011); indexes for bounded reads
(0012); the browser's reference of a snapshot (0013); the flag (episode) each
action belongs to (0018)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, REAL, UUID
from sqlalchemy.orm import Mapped, mapped_column

from invigil.db.base import Base, TenantScoped

TS = DateTime(timezone=True)


class ProctoringEvent(Base):
    """One message of an attempt's event stream, as received (append-only).

    Client messages (seq >= 1) keep their exact ``body`` text, ``prev`` and
    ``hash``; server-recorded events (seq <= -1) have none."""

    __tablename__ = "proctoring_events"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        # Deciding reads episodes of some kinds from a moment on, and their ends (0012).
        Index(
            "ix_proctoring_events_kind",
            "tenant_id",
            "attempt_id",
            "kind",
            "at",
            postgresql_where=text("phase <> 'end'"),
        ),
        Index(
            "ix_proctoring_events_ends",
            "tenant_id",
            "attempt_id",
            "ends",
            "seq",
            postgresql_where=text("phase = 'end'"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="RESTRICT"), primary_key=True
    )
    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(8))
    at: Mapped[datetime] = mapped_column(TS)
    ends: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    linked: Mapped[bool] = mapped_column(Boolean, server_default="true")
    received_at: Mapped[datetime] = mapped_column(TS, server_default=func.now())


class ProctoringAction(TenantScoped, Base):
    """What the policy did about an episode (append-only; also audited)."""

    __tablename__ = "proctoring_actions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "attempt_id", "rule_id", "episode_seq"),
        Index("ix_proctoring_actions_episode", "tenant_id", "attempt_id", "episode_seq"),
        # The flag an action belongs to: the first action of its episode (0018).
        ForeignKeyConstraint(
            ["tenant_id", "flag_id"],
            ["proctoring_actions.tenant_id", "proctoring_actions.id"],
            ondelete="RESTRICT",
        ),
        Index(
            "ix_proctoring_actions_flag",
            "tenant_id",
            "flag_id",
            postgresql_where=text("flag_id IS NOT NULL"),
        ),
        Index("ix_proctoring_actions_recent", "tenant_id", "created_at"),  # home pages (0019)
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rule_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    action: Mapped[str] = mapped_column(String(20))
    episode_seq: Mapped[int] = mapped_column(BigInteger)
    related: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    message: Mapped[str] = mapped_column(Text)
    # The episode: NULL on actions stored before 0018 (each its own flag).
    flag_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    window_start: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    window_end: Mapped[datetime | None] = mapped_column(TS, nullable=True)

    @property
    def flag_key(self) -> uuid.UUID:
        """The id of the flag this action belongs to."""
        return self.flag_id or self.id


class Snapshot(TenantScoped, Base):
    """A webcam snapshot (an evidence object) and what each side saw on it."""

    __tablename__ = "proctoring_snapshots"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "object_id"],
            ["evidence_objects.tenant_id", "evidence_objects.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "object_id"),
        Index("ix_proctoring_snapshots_attempt", "tenant_id", "attempt_id", "taken_at"),
        # The browser's reference: a re-sent snapshot is stored once (0013).
        Index(
            "uq_proctoring_snapshots_client_ref",
            "tenant_id",
            "attempt_id",
            "client_ref",
            unique=True,
            postgresql_where=text("client_ref IS NOT NULL"),
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    object_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    taken_at: Mapped[datetime] = mapped_column(TS)
    reason: Mapped[str] = mapped_column(String(16))
    event_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    client_faces: Mapped[int | None] = mapped_column(Integer, nullable=True)
    server_faces: Mapped[int | None] = mapped_column(Integer, nullable=True)
    server_status: Mapped[str] = mapped_column(String(16), server_default="pending")
    brightness: Mapped[float | None] = mapped_column(REAL, nullable=True)
    sharpness: Mapped[float | None] = mapped_column(REAL, nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(TS, nullable=True)
    client_ref: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class RecordingSegment(TenantScoped, Base):
    """A few seconds of the candidate's screen (an evidence object)."""

    __tablename__ = "recording_segments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "object_id"],
            ["evidence_objects.tenant_id", "evidence_objects.id"],
            ondelete="RESTRICT",
        ),
        UniqueConstraint("tenant_id", "attempt_id", "segment_index"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    segment_index: Mapped[int] = mapped_column(Integer)
    object_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    started_at: Mapped[datetime] = mapped_column(TS)
    ended_at: Mapped[datetime] = mapped_column(TS)


class ReviewDecision(TenantScoped, Base):
    """A reviewer's decision on one flag or on the outcome (append-only;
    a changed decision is a new row naming the one it ``supersedes``)."""

    __tablename__ = "review_decisions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "reviewer_id"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "action_id"],
            ["proctoring_actions.tenant_id", "proctoring_actions.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "supersedes"],
            ["review_decisions.tenant_id", "review_decisions.id"],
            ondelete="RESTRICT",
        ),
        Index("ix_review_decisions_attempt", "tenant_id", "attempt_id", "created_at"),
        ForeignKeyConstraint(
            ["tenant_id", "answers"],
            ["proctoring_contests.tenant_id", "proctoring_contests.id"],
            ondelete="RESTRICT",
        ),
        Index(
            "uq_review_decisions_answers",
            "tenant_id",
            "answers",
            unique=True,
            postgresql_where=text("answers IS NOT NULL"),
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    reviewer_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    scope: Mapped[str] = mapped_column(String(8))
    action_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    decision: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    supersedes: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    # The candidate's contest this decision answers (0048; at most one decision each).
    answers: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class Contest(TenantScoped, Base):
    """A candidate's explanation against one flag (``action_id``) or against
    the attempt's integrity outcome (``action_id`` NULL): written once,
    anchored; answered by the review decision that names it (0048)."""

    __tablename__ = "proctoring_contests"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "action_id"],
            ["proctoring_actions.tenant_id", "proctoring_actions.id"],
            ondelete="RESTRICT",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "attachment_id"],
            ["evidence_objects.tenant_id", "evidence_objects.id"],
            ondelete="RESTRICT",
        ),
        Index(
            "uq_proctoring_contests_flag",
            "tenant_id",
            "attempt_id",
            "action_id",
            unique=True,
            postgresql_where=text("action_id IS NOT NULL"),
        ),
        Index(
            "uq_proctoring_contests_outcome",
            "tenant_id",
            "attempt_id",
            unique=True,
            postgresql_where=text("action_id IS NULL"),
        ),
        # '' only once the retention purge has removed it (0050); a candidate writes 1-4000.
        CheckConstraint(
            "(text = '' OR btrim(text) <> '') AND char_length(text) <= 4000", name="text"
        ),
        CheckConstraint("(attachment_id IS NULL) = (attachment_sha256 IS NULL)", name="attachment"),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    action_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    attachment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    attachment_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))


INTERVENTION_KINDS = ("message", "ack", "time", "pause", "resume", "end", "room_check", "room_clip")


class LiveIntervention(TenantScoped, Base):
    """What a proctor did to a running attempt, or what its candidate
    answered (a message read, a room-check clip) (0059). Written once; only
    the retention purge empties ``text`` (a proctor's words about a person)."""

    __tablename__ = "live_interventions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "attempt_id"], ["attempts.tenant_id", "attempts.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "refers_to"],
            ["live_interventions.tenant_id", "live_interventions.id"],
            name="fk_live_interventions_refers_to",
            ondelete="RESTRICT",
        ),
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k}'" for k in INTERVENTION_KINDS) + ")", name="kind"
        ),
        CheckConstraint("char_length(text) <= 1000", name="text"),
        CheckConstraint("seconds IS NULL OR seconds BETWEEN 1 AND 86400", name="seconds"),
        Index("ix_live_interventions_attempt", "tenant_id", "attempt_id", "created_at"),
        Index(
            "uq_live_interventions_answer",
            "tenant_id",
            "refers_to",
            unique=True,
            postgresql_where=text("refers_to IS NOT NULL"),
        ),
    )

    attempt_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))  # "<actor kind>:<actor id>"
    text: Mapped[str] = mapped_column(Text, server_default="")
    # Of the text as written: the anchored document names it, so a purge that
    # empties the words leaves the record verifiable.
    text_sha256: Mapped[str] = mapped_column(String(64), server_default="")
    seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    refers_to: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    object_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)


class ExamLiveProctor(TenantScoped, Base):
    """A proctor an exam names as one of those who may watch it live (0059).
    An exam that names nobody may be watched by everyone holding
    ``proctor:live``; one that names some, by them (and administrators)."""

    __tablename__ = "exam_live_proctors"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "exam_id"], ["exams.tenant_id", "exams.id"], ondelete="RESTRICT"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "exam_id", "user_id", name="uq_exam_live_proctors"),
    )

    exam_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    user_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
