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
from gettext import NullTranslations
from typing import Any

from sqlalchemy import select

from invigil import i18n
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts
from invigil.delivery.models import Attempt
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import ATTEMPT
from invigil.i18n import N_
from invigil.proctoring import live
from invigil.proctoring import policy as pol
from invigil.proctoring.api import EventOut, event_list
from invigil.proctoring.models import ProctoringAction, RecordingSegment, Snapshot
from invigil.proctoring.reviews import REVIEWABLE, Flag, Review

# A flag's state, a severity and a re-check's status on the track's labels.
STATES = {"": N_("undecided"), "confirmed": N_("confirmed"), "dismissed": N_("dismissed")}
SEVERITIES = {
    "critical": N_("critical"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
    "info": N_("info"),
}
RECHECKS = {
    "agrees": N_("agrees"),
    "mismatch": N_("disagrees"),
    "unreadable": N_("unreadable"),
    "failed": N_("failed"),
    "pending": N_("pending"),
}
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
    "candidate": N_("by the candidate"),
    "deadline": N_("automatically at the deadline"),
    "proctoring": N_("automatically, by the proctoring policy"),
    "proctor": N_("by a proctor, live"),
}
# Words are marked N_ and translated into the reader's language where they are
# put together (``t``: the reader's catalog, see :func:`build`).
# What a person reads of an event's details: the keys that say something to
# a reviewer, in words. Everything else (detector internals such as the
# backend or the input size, scores, levels) stays in the API and the
# evidence bundle, never on the page.
DEVICES = {
    "camera": N_("the camera"),
    "microphone": N_("the microphone"),
    "screen": N_("the screen"),
}
TECHNIQUES = {
    "shortcut": N_("a keyboard shortcut"),
    "viewport": N_("the window's size changed as developer tools do"),
    "debugger": N_("a debugger paused the page"),
    "console": N_("the console was read"),
}
VIA = {
    "copy": N_("copied"),
    "cut": N_("cut"),
    "paste": N_("pasted"),
    "drop": N_("dropped in"),
    "print": N_("printing the page"),
    "shortcut": N_("a keyboard shortcut"),
}
REASONS = {
    "too_dark": N_("the camera picture was too dark to see a face"),
    "script_failed": N_("the detector could not start in the browser"),
    "models_failed": N_("the detector could not start in the browser"),
    "reload": N_("the page was reloaded"),
    "unmuted": N_("the device came back"),
    "restarted": N_("the device was restarted"),
    "muted": N_("the device was muted"),
    "ended": N_("the device stopped"),
}
DETECTORS = {
    "face": N_("the face detector"),
    "audio": N_("the voice detector"),
    "screen": N_("the screen recording"),
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
    clip: uuid.UUID | None = None  # a room check's clip (an evidence object)


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
    uow: UnitOfWork,
    attempt: Attempt,
    review: Review,
    events: Sequence[EventOut] | None = None,
    locale: str = i18n.DEFAULT,
) -> Timeline:
    """The review page's timeline, its words in ``locale``."""
    t = i18n.translations(locale)
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
    entries = _milestones(attempt, t) + _answers(uow, attempt, t) + interventions(uow, attempt, t)
    for e in events:
        entries.append(
            Entry(
                at=e.started_at,
                title=_sentence(t.gettext(pol.KIND_PHRASES[e.kind]))
                if e.kind in pol.KIND_PHRASES
                else e.kind,
                kind=e.kind,
                group=GROUPS.get(e.kind, "other"),
                severity=e.severity,
                event=e,
                notes=_details(e.details, t),
                flags=flags.get(e.seq, []),
                actions=others.get(e.seq, []),
                near=_near(e, snapshots, segments),
            )
        )
    entries.sort(key=lambda x: x.at)  # stable: milestones first at equal times
    at_of = {e.seq: e for e in events}
    words = {f.id: flag_words(review.policy, f, at_of, t) for f in review.flags}
    track = _track(attempt, entries, events, review, snapshots, segments, at_of, t)
    return Timeline(entries, snapshots, segments, id_photos(uow, attempt.id), track, words)


def hms(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%H:%M:%S")


def flag_words(
    policy: pol.Policy,
    flag: Flag,
    at_of: dict[int, EventOut],
    t: NullTranslations | None = None,
) -> str:
    """The flag in sentences a reviewer reads: what happened, how often,
    when, and what the rule counts; no rule ids, no event numbers."""
    t = t or i18n.translations(i18n.DEFAULT)
    what = _what(flag.action.kind, t)
    times = sorted(at_of[s].started_at for s in flag.events if s in at_of)
    n = len(flag.events)
    if len(times) == 1:
        text = t.ngettext(
            "%(what)s once, at %(at)s UTC", "%(what)s %(n)s times, at %(at)s UTC", n
        ) % {"what": what, "n": n, "at": hms(times[0])}
    elif times:
        text = t.ngettext(
            "%(what)s once, between %(start)s and %(end)s UTC",
            "%(what)s %(n)s times, between %(start)s and %(end)s UTC",
            n,
        ) % {"what": what, "n": n, "start": hms(times[0]), "end": hms(times[-1])}
    else:
        text = t.ngettext("%(what)s once", "%(what)s %(n)s times", n) % {"what": what, "n": n}
    rule = policy.rule(flag.action.rule_id)
    if rule is not None:
        need = []
        if rule.count > 1:
            if rule.window_seconds:
                need.append(
                    t.ngettext(
                        "%(n)s time within %(span)s", "%(n)s times within %(span)s", rule.count
                    )
                    % {"n": rule.count, "span": _span(rule.window_seconds, t)}
                )
            else:
                need.append(
                    t.ngettext(
                        "%(n)s time during the attempt",
                        "%(n)s times during the attempt",
                        rule.count,
                    )
                    % {"n": rule.count}
                )
        if rule.min_duration_seconds:
            need.append(
                t.gettext("for at least %(span)s each time")
                % {"span": _span(rule.min_duration_seconds, t)}
            )
        if need:
            text += ". " + t.gettext("The rule looks for it %(need)s") % {"need": ", ".join(need)}
    if len(flag.actions) > 1:
        runs = len(flag.actions)
        text += "; " + t.ngettext(
            "it was met %(n)s time in a row, one flag for the whole run",
            "it was met %(n)s times in a row, one flag for the whole run",
            runs,
        ) % {"n": runs}
    return text + "."


def _what(kind: str, t: NullTranslations) -> str:
    phrase = pol.KIND_PHRASES.get(kind)
    return _sentence(t.gettext(phrase) if phrase else t.gettext("something was reported"))


def _span(seconds: float, t: NullTranslations) -> str:
    """A rule's window in words ("5 minutes", "90 seconds"), as the engine says it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        n = int(seconds // 3600)
        return t.ngettext("%(n)s hour", "%(n)s hours", n) % {"n": n}
    if seconds >= 60 and seconds % 60 == 0:
        n = int(seconds // 60)
        return t.ngettext("%(n)s minute", "%(n)s minutes", n) % {"n": n}
    if seconds == int(seconds):
        whole = int(seconds)
        return t.ngettext("%(n)s second", "%(n)s seconds", whole) % {"n": whole}
    return t.gettext("%(n)s seconds") % {"n": f"{seconds:g}"}


def _track(
    attempt: Attempt,
    entries: Sequence[Entry],
    events: Sequence[EventOut],
    review: Review,
    snapshots: Sequence[Snapshot],
    segments: Sequence[RecordingSegment],
    at_of: dict[int, EventOut],
    t: NullTranslations,
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
        title = _what(e.kind, t)
        if e.ended_at and (e.ended_at > e.started_at):
            when = {"start": hms(e.started_at), "end": hms(e.ended_at)}
            label = t.gettext("%(what)s, from %(start)s to %(end)s UTC") % {"what": title, **when}
        else:
            label = t.gettext("%(what)s, at %(at)s UTC") % {"what": title, "at": hms(e.started_at)}
        marks.append(
            place(
                "event",
                e.started_at,
                e.ended_at,
                label=label,
                target=f"ev-{e.seq}",
                tone=e.severity,
            )
        )
    for f in review.flags:
        starts = sorted(at_of[s].started_at for s in f.events if s in at_of)
        if not starts:
            continue
        ends = [at_of[s].ended_at or at_of[s].started_at for s in f.events if s in at_of]
        state = t.gettext(STATES.get(f.decision.decision if f.decision else "", STATES[""]))
        label = t.gettext("Flag: %(message)s (%(severity)s, %(state)s), from %(at)s UTC") % {
            "message": f.action.message,
            "severity": t.gettext(SEVERITIES.get(f.severity, f.severity)),
            "state": state,
            "at": hms(starts[0]),
        }
        marks.append(
            place("flag", starts[0], max(ends), label=label, target=f"flag-{f.id}", tone=f.severity)
        )
    for snap in snapshots:
        status = t.gettext(RECHECKS.get(snap.server_status, snap.server_status))
        label = t.gettext("Webcam snapshot at %(at)s UTC (server re-check: %(status)s)") % {
            "at": hms(snap.taken_at),
            "status": status,
        }
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
        label = t.gettext("Screen recording from %(start)s to %(end)s UTC") % {
            "start": hms(g.started_at),
            "end": hms(g.ended_at),
        }
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


def _milestones(a: Attempt, t: NullTranslations) -> list[Entry]:
    out = [Entry(a.created_at, t.gettext("Attempt %(n)s created") % {"n": a.number})]
    if a.started_at is not None:
        out.append(Entry(a.started_at, t.gettext("Clock started")))
    if a.deadline is not None:
        out.append(Entry(a.deadline, t.gettext("Deadline")))
    if a.submitted_at is not None:
        how = SUBMITTED.get(a.submit_reason or "")
        notes = (t.gettext(how),) if how else ((a.submit_reason,) if a.submit_reason else ())
        out.append(Entry(a.submitted_at, t.gettext("Submitted"), notes=notes))
    return out


_STEPS = {
    "message": N_("The proctor sent a message"),
    "ack": N_("The candidate read the proctor's message"),
    "pause": N_("The proctor paused the clock"),
    "end": N_("The proctor ended the attempt"),
    "room_check": N_("The proctor asked for a room check"),
    "room_clip": N_("The candidate recorded the room check"),
}


def interventions(uow: UnitOfWork, attempt: Attempt, t: NullTranslations) -> list[Entry]:
    """What proctors did live, and what the candidate answered."""
    out = []
    for x in live.of_attempt(uow, attempt.id):
        if x.kind == "time":
            title = t.ngettext(
                "The proctor added %(n)s minute", "The proctor added %(n)s minutes",
                (x.seconds or 0) // 60,
            ) % {"n": (x.seconds or 0) // 60}  # fmt: skip
        elif x.kind == "resume":
            title = t.gettext("The proctor started the clock again, after %(span)s") % {
                "span": _span(x.seconds or 0, t)
            }
        else:
            title = t.gettext(_STEPS[x.kind])
        notes: list[str] = []
        if x.text:
            notes.append(f"“{x.text}”")
        elif x.text_sha256:
            notes.append(t.gettext("(the words were removed with the candidate's identity)"))
        out.append(
            Entry(
                x.created_at,
                title,
                group="proctor",
                notes=tuple(notes),
                clip=x.object_id if x.kind == "room_clip" else None,
            )
        )
    return out


def _answers(uow: UnitOfWork, attempt: Attempt, t: NullTranslations) -> list[Entry]:
    out = []
    for answer in attempts.answers_of(uow, attempt.id):
        notes = [t.gettext("The latest save of this answer")]
        if answer.late:
            notes.append(
                t.gettext("Made offline before the deadline, received during the grace period")
            )
        if answer.flagged:
            notes.append(t.gettext("The candidate marked it for review"))
        out.append(
            Entry(
                answer.saved_at,
                t.gettext("Answer to question %(n)s saved") % {"n": answer.slot + 1},
                group="answer",
                notes=tuple(notes),
            )
        )
    return out


def _details(details: dict[str, Any], t: NullTranslations) -> tuple[str, ...]:
    """The details a reviewer can use, in words (see :data:`DEVICES` and on)."""
    out = []
    if (detector := details.get("detector")) is not None:
        which = DETECTORS.get(str(detector), N_("a detector"))
        out.append(t.gettext("Which: %(detector)s") % {"detector": t.gettext(which)})
    if isinstance(faces := details.get("faces"), int) and not isinstance(faces, bool):
        out.append(t.ngettext("%(n)s face in view", "%(n)s faces in view", faces) % {"n": faces})
    if isinstance(question := details.get("question"), int) and not isinstance(question, bool):
        out.append(t.gettext("On question %(n)s") % {"n": question})
    if (via := details.get("via")) in VIA:
        out.append(t.gettext("How: %(via)s") % {"via": t.gettext(VIA[str(via)])})
    if details.get("blocked") is True:
        out.append(t.gettext("The browser blocked it"))
    techniques = details.get("techniques")
    if isinstance(techniques, list):
        told = [t.gettext(TECHNIQUES.get(str(x), N_("another sign"))) for x in techniques[:4]]
        out.append(t.gettext("Noticed by %(signs)s") % {"signs": ", ".join(dict.fromkeys(told))})
    if (reason := details.get("reason")) is not None:
        known = REASONS.get(str(reason))
        why = t.gettext(known) if known else str(reason).replace("_", " ")[:80]
        out.append(t.gettext("Why: %(reason)s") % {"reason": why})
    if (device := details.get("device")) in DEVICES:
        out.append(t.gettext("Device: %(device)s") % {"device": t.gettext(DEVICES[str(device)])})
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
