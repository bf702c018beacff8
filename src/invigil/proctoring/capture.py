"""What the browser says about the evidence it uploads: when a snapshot was
taken, why, and how many faces its own detector saw then; which span of the
exam a screen-recording segment covers. See docs/candidate-api.md,
"Evidence uploads".

Both records are attempt-scoped: an object of another attempt (in this
tenant or another) is not found, exactly like a missing one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from invigil import audit
from invigil.db import signals
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Invalid, NotFound
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT
from invigil.proctoring import pipeline, recheck
from invigil.proctoring.models import RecordingSegment, Snapshot

REASONS = ("periodic", "event", "start")
MAX_FACES = 50


@dataclass(frozen=True)
class SnapshotMeta:
    taken_at: datetime | None = None  # default: when the server received it
    reason: str = "periodic"
    event_seq: int | None = None  # the face event that prompted it
    faces: int | None = None  # what the browser's detector counted then
    ref: uuid.UUID | None = None  # the browser's own id for it: stored once


def check_meta(meta: SnapshotMeta, attempt: Attempt, now: datetime | None = None) -> None:
    """Refuse bad metadata before any byte is stored: ``taken_at`` lies in
    the attempt's window, as an event's time does (see
    :func:`invigil.proctoring.pipeline.outside_window`)."""
    now = now or datetime.now(UTC)
    if meta.reason not in REASONS:
        raise Invalid("reason must be periodic, event or start")
    if meta.taken_at is not None:
        if meta.taken_at.tzinfo is None:
            raise Invalid("taken_at must carry a time zone (e.g. Z)")
        if (late := pipeline.outside_window(meta.taken_at, attempt, now)) is not None:
            raise Invalid(f"taken_at {late}")
    if meta.event_seq is not None and not 1 <= meta.event_seq <= pipeline.MAX_SEQ:
        raise Invalid(f"event_seq is the seq of a face event (1 to {pipeline.MAX_SEQ})")
    if meta.faces is not None and not 0 <= meta.faces <= MAX_FACES:
        raise Invalid(f"faces is a count from 0 to {MAX_FACES}")


def record_snapshot(
    uow: UnitOfWork,
    attempt: Attempt,
    obj: EvidenceObject,
    meta: SnapshotMeta,
    now: datetime | None = None,
) -> Snapshot:
    """Record a stored snapshot and queue its re-check in this transaction.

    With the browser's own count the check runs at once; without one, the
    client's face events are the claim, so it waits until they can have
    arrived (at most ``recheck.settle_seconds``)."""
    now = now or datetime.now(UTC)
    check_meta(meta, attempt, now)
    snapshot = Snapshot(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        object_id=obj.id,
        taken_at=meta.taken_at or now,
        reason=meta.reason,
        event_seq=meta.event_seq,
        client_faces=meta.faces,
        client_ref=meta.ref,
    )
    uow.add(snapshot)
    uow.flush()
    signals.attempt_changed(uow, attempt.id)  # the consoles' thumbnail
    delay = 0.0
    if meta.faces is None:
        settle = recheck.settle_seconds(pipeline.policy_of(attempt))
        ready = snapshot.taken_at + timedelta(seconds=settle)
        delay = min(max((ready - now).total_seconds(), 0.0), settle)
    recheck.defer(uow, snapshot, delay)
    return snapshot


def stored_snapshot(uow: UnitOfWork, attempt: Attempt, ref: uuid.UUID | None) -> Snapshot | None:
    """The snapshot the browser already sent under ``ref``, if any."""
    if ref is None:
        return None
    return uow.scalar(
        select(Snapshot).where(Snapshot.attempt_id == attempt.id, Snapshot.client_ref == ref)
    )


def hold_ref(uow: UnitOfWork, attempt: Attempt, ref: uuid.UUID) -> Snapshot | None:
    """Serialise two uploads of one ``ref`` (until commit), then say whether
    one of them is stored already."""
    uow.session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"{attempt.id}/{ref}", 0)))
    )
    return stored_snapshot(uow, attempt, ref)


def _attempt_object(uow: UnitOfWork, attempt: Attempt, object_id: uuid.UUID) -> EvidenceObject:
    obj = uow.session.get(EvidenceObject, (uow.tenant, object_id))
    if obj is None or obj.subject_type != ATTEMPT or obj.subject_id != str(attempt.id):
        raise NotFound(f"evidence object {object_id} was not found")
    return obj


def register_segment(
    uow: UnitOfWork,
    attempt: Attempt,
    *,
    segment_index: int,
    object_id: uuid.UUID,
    started_at: datetime,
    ended_at: datetime,
) -> tuple[RecordingSegment, bool]:
    """Say which span of the exam a completed recording upload covers.
    Idempotent: the same index with the same object answers the first
    registration (``False``: nothing new); another object under a used
    index, or a used object under another index, is a conflict."""
    obj = _attempt_object(uow, attempt, object_id)
    if obj.kind != "recording_chunk":
        raise Invalid(f"evidence object {object_id} is a {obj.kind}, not a screen recording")
    if started_at.tzinfo is None or ended_at.tzinfo is None:
        raise Invalid("started_at and ended_at must carry a time zone (e.g. Z)")
    if ended_at < started_at:
        raise Invalid("ended_at is before started_at")
    now = datetime.now(UTC)
    for name, at in (("started_at", started_at), ("ended_at", ended_at)):
        if (late := pipeline.outside_window(at, attempt, now)) is not None:
            raise Invalid(f"{name} {late}")
    inserted = uow.session.execute(
        insert(RecordingSegment)
        .values(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            attempt_id=attempt.id,
            segment_index=segment_index,
            object_id=object_id,
            started_at=started_at,
            ended_at=ended_at,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "attempt_id", "segment_index"])
        .returning(RecordingSegment.id)
    ).scalar()
    if inserted is None:
        existing = uow.scalar(
            select(RecordingSegment).where(
                RecordingSegment.attempt_id == attempt.id,
                RecordingSegment.segment_index == segment_index,
            )
        )
        assert existing is not None  # the conflict was on this index
        if existing.object_id != object_id:
            raise Conflict(
                f"segment {segment_index} is already another recording",
                object_id=str(existing.object_id),
            )
        return existing, False
    other = uow.scalar(
        select(RecordingSegment.segment_index).where(
            RecordingSegment.attempt_id == attempt.id,
            RecordingSegment.object_id == object_id,
            RecordingSegment.id != inserted,
        )
    )
    if other is not None:
        raise Conflict(
            f"evidence object {object_id} is already segment {other}", segment_index=other
        )
    segment = uow.get(RecordingSegment, inserted)
    audit.record(
        uow,
        "proctoring.segment_registered",
        attempt,
        {
            "segment": str(segment.id),
            "segment_index": segment_index,
            "object": str(object_id),
            "started_at": started_at.isoformat(),
            "ended_at": ended_at.isoformat(),
        },
    )
    return segment, True
