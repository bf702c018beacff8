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
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts
from invigil.delivery.models import Attempt
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT
from invigil.proctoring import policy as pol
from invigil.proctoring.api import EventOut, event_list
from invigil.proctoring.engine import span
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
    "proctoring": "automatically, by the proctoring policy",
}
# What a person reads of an event's details: the keys that say something to
# a reviewer, in words. Everything else (detector internals such as the
# backend or the input size, scores, levels) stays in the API and the
# evidence bundle, never on the page.
DEVICES = {"camera": "the camera", "microphone": "the microphone", "screen": "the screen"}
TECHNIQUES = {
    "shortcut": "a keyboard shortcut",
    "viewport": "the window's size changed as developer tools do",
    "debugger": "a debugger paused the page",
    "console": "the console was read",
}
VIA = {
    "copy": "copied",
    "cut": "cut",
    "paste": "pasted",
    "drop": "dropped in",
    "print": "printing the page",
    "shortcut": "a keyboard shortcut",
}
REASONS = {
    "too_dark": "the camera picture was too dark to see a face",
    "script_failed": "the detector could not start in the browser",
    "models_failed": "the detector could not start in the browser",
    "reload": "the page was reloaded",
    "unmuted": "the device came back",
    "restarted": "the device was restarted",
    "muted": "the device was muted",
    "ended": "the device stopped",
}
DETECTORS = {
    "face": "the face detector",
    "audio": "the voice detector",
    "screen": "the screen recording",
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
class Mark:
    """Something on the track: where it starts and how long it lasts, as
    shares (0-100) of the attempt's span, and what it says."""

    lane: str  # event, flag, snapshot, screen
    at: datetime
    until: datetime | None
    left: float
    width: float
    label: str
    target: str  # the id of what it stands for on the page
    tone: str = ""  # a severity or a re-check status, for its colour


@dataclass(frozen=True)
class Track:
    """The attempt on one time axis: events, flags, snapshots and the screen
    recording (its segments one after the other)."""

    start: datetime
    end: datetime
    marks: list[Mark]

    @property
    def seconds(self) -> int:
        return max(1, round((self.end - self.start).total_seconds()))

    def lane(self, name: str) -> list[Mark]:
        return [m for m in self.marks if m.lane == name]


@dataclass(frozen=True)
class Timeline:
    entries: list[Entry]
    snapshots: list[Snapshot]
    segments: list[RecordingSegment]
    id_photos: list[EvidenceObject] = field(default_factory=list)
    track: Track | None = None
    flag_words: dict[uuid.UUID, str] = field(default_factory=dict)  # flag id -> sentence

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
    at_of = {e.seq: e for e in events}
    words = {f.id: flag_words(review.policy, f, at_of) for f in review.flags}
    track = _track(attempt, entries, events, review, snapshots, segments, at_of)
    return Timeline(entries, snapshots, segments, id_photos(uow, attempt.id), track, words)


def hms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S")


def flag_words(policy: pol.Policy, flag: Flag, at_of: dict[int, EventOut]) -> str:
    """The flag in one sentence a reviewer reads: what happened, how often,
    when, and what the rule counts; no rule ids, no event numbers."""
    what = _sentence(pol.KIND_PHRASES.get(flag.action.kind, "something was reported"))
    times = sorted(at_of[s].started_at for s in flag.events if s in at_of)
    n = len(flag.events)
    text = what + (" once" if n == 1 else f" {n} times")
    if len(times) == 1:
        text += f", at {hms(times[0])} UTC"
    elif times:
        text += f", between {hms(times[0])} and {hms(times[-1])} UTC"
    rule = policy.rule(flag.action.rule_id)
    if rule is not None:
        need = []
        if rule.count > 1:
            within = (
                f"within {span(rule.window_seconds)}"
                if rule.window_seconds
                else "during the attempt"
            )
            need.append(f"{rule.count} times {within}")
        if rule.min_duration_seconds:
            need.append(f"for at least {span(rule.min_duration_seconds)} each time")
        if need:
            text += f". The rule looks for it {', '.join(need)}"
    if len(flag.actions) > 1:
        text += f"; it was met {len(flag.actions)} times in a row, one flag for the whole run"
    return text + "."


def _track(
    attempt: Attempt,
    entries: Sequence[Entry],
    events: Sequence[EventOut],
    review: Review,
    snapshots: Sequence[Snapshot],
    segments: Sequence[RecordingSegment],
    at_of: dict[int, EventOut],
) -> Track | None:
    # What happened, not what was due: a deadline far after the submission
    # would squeeze every mark into the track's first part.
    times = [e.at for e in entries if e.event is not None or e.group == "answer"]
    times += [t for t in (attempt.started_at, attempt.submitted_at) if t is not None]
    times += [s.taken_at for s in snapshots]
    times += [g.ended_at for g in segments] + [g.started_at for g in segments]
    times += [e.ended_at for e in events if e.ended_at is not None]
    if not times:
        return None
    start, end = min(times), max(times)
    total = max((end - start).total_seconds(), 1.0)

    def place(lane: str, at: datetime, until: datetime | None, **more: str) -> Mark:
        left = min(100.0, max(0.0, (at - start).total_seconds() / total * 100))
        width = 0.0
        if until is not None and until > at:
            width = min(100.0 - left, (until - at).total_seconds() / total * 100)
        return Mark(lane, at, until, round(left, 3), round(width, 3), **more)

    marks = []
    for e in events:
        title = _sentence(pol.KIND_PHRASES.get(e.kind, "something was reported"))
        span = (
            f"from {hms(e.started_at)} to {hms(e.ended_at)}"
            if e.ended_at and (e.ended_at > e.started_at)
            else f"at {hms(e.started_at)}"
        )
        marks.append(
            place(
                "event",
                e.started_at,
                e.ended_at,
                label=f"{title}, {span} UTC",
                target=f"ev-{e.seq}",
                tone=e.severity,
            )
        )
    for f in review.flags:
        starts = sorted(at_of[s].started_at for s in f.events if s in at_of)
        if not starts:
            continue
        ends = [at_of[s].ended_at or at_of[s].started_at for s in f.events if s in at_of]
        state = f.decision.decision if f.decision else "undecided"
        label = f"Flag: {f.action.message} ({f.severity}, {state}), from {hms(starts[0])} UTC"
        marks.append(
            place("flag", starts[0], max(ends), label=label, target=f"flag-{f.id}", tone=f.severity)
        )
    for snap in snapshots:
        status = "disagrees" if snap.server_status == "mismatch" else snap.server_status
        label = f"Webcam snapshot at {hms(snap.taken_at)} UTC (server re-check: {status})"
        marks.append(
            place(
                "snapshot",
                snap.taken_at,
                None,
                label=label,
                target=f"snap-{snap.id}",
                tone=snap.server_status,
            )
        )
    for g in segments:
        label = f"Screen recording from {hms(g.started_at)} to {hms(g.ended_at)} UTC"
        marks.append(
            place("screen", g.started_at, g.ended_at, label=label, target=f"seg-{g.segment_index}")
        )
    return Track(start, end, marks)


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
        notes = ["The latest save of this answer"]
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
    """The details a reviewer can use, in words (see :data:`DEVICES` and on)."""
    out = []
    if (detector := details.get("detector")) is not None:
        out.append(f"Which: {DETECTORS.get(str(detector), 'a detector')}")
    if isinstance(faces := details.get("faces"), int) and not isinstance(faces, bool):
        out.append(f"{faces} face{'s' if faces != 1 else ''} in view")
    if isinstance(question := details.get("question"), int) and not isinstance(question, bool):
        out.append(f"On question {question}")
    if (via := details.get("via")) in VIA:
        out.append(f"How: {VIA[str(via)]}")
    if details.get("blocked") is True:
        out.append("The browser blocked it")
    techniques = details.get("techniques")
    if isinstance(techniques, list):
        told = [TECHNIQUES.get(str(t), "another sign") for t in techniques[:4]]
        out.append("Noticed by " + ", ".join(dict.fromkeys(told)))
    if (reason := details.get("reason")) is not None:
        out.append(f"Why: {REASONS.get(str(reason), str(reason).replace('_', ' ')[:80])}")
    if (device := details.get("device")) in DEVICES:
        out.append(f"Device: {DEVICES[str(device)]}")
    return tuple(out[:MAX_DETAILS])


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
