"""What a reviewer reads on the review page: the attempt's timeline (its
milestones, answers saved, proctoring episodes with the rules that fired),
and the evidence near each episode (snapshots with the server's re-check,
screen-recording segments). Reads only; evidence is shown through signed
URLs issued when the page's images and videos ask for them (review_pages).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts
from invigil.delivery.models import Attempt
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT
from invigil.proctoring import policy as pol
from invigil.proctoring.api import EventOut, event_list
from invigil.proctoring.models import ProctoringAction, RecordingSegment, Snapshot
from invigil.proctoring.reviews import REVIEWABLE, Flag, Review

SNAPSHOT_NEAR = timedelta(seconds=10)  # before the start and after the end of an episode
SEGMENT_NEAR = timedelta(seconds=5)
MAX_SNAPSHOTS = 4
MAX_SEGMENTS = 3
MAX_DETAILS = 8
GROUPS = {
    "focus.lost": "focus",
    "tab.hidden": "focus",
    "fullscreen.exit": "fullscreen",
    "network.offline": "network",
    "client.silent": "network",
    "face.none": "face",
    "face.multiple": "face",
    "face.mismatch": "face",
    "camera.stopped": "face",
}
SUBMITTED = {
    "candidate": "by the candidate",
    "deadline": "automatically at the deadline",
    "proctoring": "by the proctoring policy (auto_submit)",
}


@dataclass(frozen=True)
class Near:
    """Evidence around one episode."""

    snapshots: list[Snapshot] = field(default_factory=list)
    segments: list[RecordingSegment] = field(default_factory=list)
    more_segments: int = 0

    def __bool__(self) -> bool:
        return bool(self.snapshots or self.segments)


@dataclass(frozen=True)
class Entry:
    at: datetime
    title: str
    kind: str = ""  # the event kind; "" for milestones and answers
    group: str = "milestone"  # milestone, answer, focus, fullscreen, network, face, other
    severity: str | None = None
    event: EventOut | None = None
    notes: tuple[str, ...] = ()
    flags: list[Flag] = field(default_factory=list)
    actions: list[tuple[ProctoringAction, str]] = field(default_factory=list)  # log and warn
    near: Near = field(default_factory=Near)


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]
    snapshots: list[Snapshot]
    segments: list[RecordingSegment]
    id_photos: list[EvidenceObject] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return sum(1 for e in self.entries if e.flags)


def build(
    uow: UnitOfWork, attempt: Attempt, review: Review, events: Sequence[EventOut] | None = None
) -> Timeline:
    events = list(events) if events is not None else event_list(uow, attempt)
    snapshots = uow.scalars(
        select(Snapshot).where(Snapshot.attempt_id == attempt.id).order_by(Snapshot.taken_at)
    )
    segments = uow.scalars(
        select(RecordingSegment)
        .where(RecordingSegment.attempt_id == attempt.id)
        .order_by(RecordingSegment.segment_index)
    )
    flags: dict[int, list[Flag]] = {}
    for f in review.flags:
        flags.setdefault(f.action.episode_seq, []).append(f)
    others: dict[int, list[tuple[ProctoringAction, str]]] = {}
    for a in uow.scalars(
        select(ProctoringAction)
        .where(ProctoringAction.attempt_id == attempt.id, ~ProctoringAction.action.in_(REVIEWABLE))
        .order_by(ProctoringAction.created_at, ProctoringAction.id)
    ):
        others.setdefault(a.episode_seq, []).append((a, _explain(review.policy, a)))
    entries = _milestones(attempt) + _answers(uow, attempt)
    for e in events:
        entries.append(
            Entry(
                at=e.started_at,
                title=_sentence(pol.KIND_PHRASES.get(e.kind, e.kind)),
                kind=e.kind,
                group=GROUPS.get(e.kind, "other"),
                severity=e.severity,
                event=e,
                notes=_details(e.details),
                flags=flags.get(e.seq, []),
                actions=others.get(e.seq, []),
                near=_near(e, snapshots, segments),
            )
        )
    entries.sort(key=lambda x: x.at)  # stable: milestones first at equal times
    return Timeline(entries, snapshots, segments, id_photos(uow, attempt.id))


def id_photos(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[EvidenceObject]:
    """The photos of an identity document the candidate took before the exam
    (the policy's ``id_photo``), oldest first."""
    return uow.scalars(
        select(EvidenceObject)
        .where(
            EvidenceObject.subject_type == ATTEMPT,
            EvidenceObject.subject_id == str(attempt_id),
            EvidenceObject.kind == "id_photo",
        )
        .order_by(EvidenceObject.created_at, EvidenceObject.id)
    )


def _explain(policy: pol.Policy, a: ProctoringAction) -> str:
    decision = pol.Decision(
        a.rule_id, a.kind, a.severity, a.action, a.episode_seq, tuple(a.related), a.message
    )
    return pol.explain(policy, decision)


def _sentence(phrase: str) -> str:
    return phrase[:1].upper() + phrase[1:]


def _milestones(a: Attempt) -> list[Entry]:
    out = [Entry(a.created_at, f"Attempt {a.number} created")]
    if a.started_at is not None:
        out.append(Entry(a.started_at, "Clock started"))
    if a.deadline is not None:
        out.append(Entry(a.deadline, "Deadline"))
    if a.submitted_at is not None:
        how = SUBMITTED.get(a.submit_reason or "", a.submit_reason or "")
        out.append(Entry(a.submitted_at, "Submitted", notes=(how,) if how else ()))
    return out


def _answers(uow: UnitOfWork, attempt: Attempt) -> list[Entry]:
    out = []
    for answer in attempts.answers_of(uow, attempt.id):
        notes = [f"Change {answer.seq} from the browser (its latest save of this question)"]
        if answer.late:
            notes.append("Made offline before the deadline, received during the grace period")
        if answer.flagged:
            notes.append("The candidate marked it for review")
        out.append(
            Entry(
                answer.saved_at,
                f"Answer to question {answer.slot + 1} saved",
                group="answer",
                notes=tuple(notes),
            )
        )
    return out


def _details(details: dict[str, Any]) -> tuple[str, ...]:
    out = []
    for key, value in list(details.items())[:MAX_DETAILS]:
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        out.append(f"{key.replace('_', ' ')}: {shown[:120]}")
    return tuple(out)


def _near(e: EventOut, snapshots: Sequence[Snapshot], segments: Sequence[RecordingSegment]) -> Near:
    start, end = e.started_at, e.ended_at or e.started_at
    own = {seq for seq in (e.seq, e.end_seq) if seq is not None}
    close = [
        s
        for s in snapshots
        if s.event_seq in own or start - SNAPSHOT_NEAR <= s.taken_at <= end + SNAPSHOT_NEAR
    ]
    close.sort(key=lambda s: (s.event_seq not in own, abs((s.taken_at - start).total_seconds())))
    chosen = sorted(close[:MAX_SNAPSHOTS], key=lambda s: s.taken_at)
    lo, hi = start - SEGMENT_NEAR, end + SEGMENT_NEAR
    over = [g for g in segments if g.started_at <= hi and g.ended_at >= lo]
    return Near(chosen, over[:MAX_SEGMENTS], max(0, len(over) - MAX_SEGMENTS))
