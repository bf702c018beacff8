"""The integrity summary of one attempt: what was observed, what the server's
re-check found, and what reviewers decided.

Times are measured over the attempt's window (clock start to submission,
or to now while it runs). Overlapping periods count once: leaving the tab
usually blurs the window too, and that is one period out of focus, not two.
The share of time with exactly one face is measured only while the face
detector ran: periods when it could not (``detector.failed`` of the face
detector, ``camera.stopped``) are left out of both sides of the ratio. It
is what the browser reported, so a face missing for less than the policy's
persistence threshold does not count against it; the server's own view is
the share of re-checked snapshots in which it saw exactly one face.

Each figure names its source (the browser's detectors, or the server's
re-check of the snapshots), and when the two face figures are far apart
(:data:`DISAGREE` or more, over at least :data:`MIN_CHECKED` re-checked
snapshots) or any snapshot's counts differ, the summary says they disagree:
the browser is under the candidate's control, the server's re-check is not.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.proctoring import records
from invigil.proctoring.api import EventOut, event_list
from invigil.proctoring.models import ProctoringEvent, Snapshot
from invigil.proctoring.reviews import Flag, Review, load

FOCUS_KINDS = frozenset({"focus.lost", "tab.hidden"})
FACE_KINDS = frozenset({"face.none", "face.multiple"})
OFFLINE_KINDS = frozenset({"network.offline", "client.silent"})
STATUSES = ("agrees", "mismatch", "unreadable", "failed", "pending")

Span = tuple[datetime, datetime]
DISAGREE = 0.15  # the browser's and the server's shares of one face, this far apart
MIN_CHECKED = 3  # fewer re-checked snapshots say too little to compare


class FlagDecisionOut(BaseModel):
    action_id: uuid.UUID = Field(description="the flag (its first action)")
    rule_id: str
    kind: str
    severity: str
    action: str
    message: str = ""
    count: int = Field(default=1, description="events in the flag's episode")
    decision: str | None = Field(description="confirmed or dismissed; null while undecided")
    reason: str | None
    reviewer: str | None
    decided_at: datetime | None
    decision_id: uuid.UUID | None


class OutcomeOut(BaseModel):
    decision: str
    final: bool
    awaiting_second_review: bool
    reason: str
    reviewers: list[str] = Field(description="who stand behind it (two when a second concurred)")
    decided_at: datetime
    decision_id: uuid.UUID


class SnapshotsOut(BaseModel):
    total: int
    by_status: dict[str, int]
    one_face: int = Field(description="re-checked snapshots where the server saw exactly one face")
    checked: int


class IntegritySummary(BaseModel):
    attempt_id: uuid.UUID
    status: str
    policy: str
    integrity: str = Field(description="what the policy's actions set: clear, flagged, ...")
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float
    events: int
    counts: dict[str, dict[str, int]] = Field(description="episodes per kind, then per severity")
    out_of_focus_seconds: float | None = Field(description="null when focus was not watched")
    offline_seconds: float
    face_observed_seconds: float | None = Field(description="null without the face detector")
    one_face_share: float | None = Field(
        description="0-1 of face_observed_seconds, as the browser's face detector reported"
    )
    server_one_face_share: float | None = Field(
        default=None,
        description="0-1 of the snapshots the server re-checked in which it saw exactly one face",
    )
    face_figures_disagree: bool | None = Field(
        default=None,
        description="the browser's and the server's face figures disagree (null: nothing to "
        "compare)",
    )
    recheck_disagreements: int
    snapshots: SnapshotsOut
    stream_gaps: int = Field(description="event messages the browser numbered but never sent")
    stream_unlinked: int
    stream_intact: bool | None = Field(
        description="null before the seal; false when the stored events no longer hash to the "
        "chain head sealed in the audit log (an event was deleted or altered since)"
    )
    stream_missing: int = Field(description="events stored at the seal that are gone now")
    flags: list[FlagDecisionOut]
    undecided_flags: int
    outcome: OutcomeOut | None
    review_outcome: str | None
    review_final: bool


def summarize(
    uow: UnitOfWork,
    attempt: Attempt,
    *,
    review: Review | None = None,
    events: Sequence[EventOut] | None = None,
    now: datetime | None = None,
) -> IntegritySummary:
    review = review or load(uow, attempt)
    events = list(events) if events is not None else event_list(uow, attempt)
    start = attempt.started_at
    end = attempt.submitted_at or (now or datetime.now(UTC))
    window: Span | None = (start, max(start, end)) if start is not None else None
    detectors = review.policy.detectors

    counts: dict[str, dict[str, int]] = {}
    for e in events:
        per = counts.setdefault(e.kind, {})
        per[e.severity] = per.get(e.severity, 0) + 1

    def spans(match: Iterable[EventOut]) -> list[Span]:
        if window is None:
            return []
        return [_clip(e.started_at, e.ended_at or window[1], window) for e in match]

    focus = _length(spans(e for e in events if e.kind in FOCUS_KINDS))
    offline = _length(spans(e for e in events if e.kind in OFFLINE_KINDS))
    observed = share = None
    if detectors.face and window is not None:
        blind = spans(e for e in events if _face_blind(e))
        bad = spans(e for e in events if e.kind in FACE_KINDS)
        total = (window[1] - window[0]).total_seconds()
        observed = total - _length(blind)
        missing = _length(blind + bad) - _length(blind)
        share = max(0.0, (observed - missing) / observed) if observed > 0 else None

    snaps = _snapshots(uow, attempt.id)
    server = snaps.one_face / snaps.checked if snaps.checked else None
    gaps, unlinked = _stream(uow, attempt.id)
    intact, missing = _sealed(uow, attempt)
    return IntegritySummary(
        attempt_id=attempt.id,
        status=attempt.status,
        policy=review.policy.name,
        integrity=attempt.integrity,
        started_at=start,
        ended_at=window[1] if window else None,
        duration_seconds=(window[1] - window[0]).total_seconds() if window else 0.0,
        events=len(events),
        counts=counts,
        out_of_focus_seconds=focus if detectors.focus else None,
        offline_seconds=offline,
        face_observed_seconds=observed,
        one_face_share=share,
        server_one_face_share=server,
        face_figures_disagree=_disagree(share, snaps),
        recheck_disagreements=snaps.by_status.get("mismatch", 0),
        snapshots=snaps,
        stream_gaps=gaps,
        stream_unlinked=unlinked,
        stream_intact=intact,
        stream_missing=missing,
        flags=[_flag_out(review, f) for f in review.flags],
        undecided_flags=len(review.undecided),
        outcome=_outcome_out(review),
        review_outcome=attempt.review_outcome,
        review_final=attempt.review_final,
    )


def _disagree(share: float | None, snaps: SnapshotsOut) -> bool | None:
    """Whether the browser's share of time with one face and the server's
    share of snapshots with one face tell different stories."""
    if snaps.by_status.get("mismatch", 0):
        return True
    if share is None or snaps.checked < MIN_CHECKED:
        return None
    return abs(share - snaps.one_face / snaps.checked) >= DISAGREE


def _face_blind(e: EventOut) -> bool:
    if e.kind == "camera.stopped":
        return True
    return e.kind == "detector.failed" and e.details.get("detector") == "face"


def _clip(start: datetime, end: datetime, window: Span) -> Span:
    lo = min(max(start, window[0]), window[1])
    return lo, min(max(end, lo), window[1])


def _length(spans: list[Span]) -> float:
    """Seconds covered by the union of ``spans``."""
    total, reach = 0.0, None
    for lo, hi in sorted(spans):
        if reach is not None and lo < reach:
            lo = reach
        if hi > lo:
            total += (hi - lo).total_seconds()
        reach = hi if reach is None else max(reach, hi)
    return total


def _snapshots(uow: UnitOfWork, attempt_id: uuid.UUID) -> SnapshotsOut:
    rows = uow.session.execute(
        select(Snapshot.server_status, Snapshot.server_faces).where(
            Snapshot.attempt_id == attempt_id
        )
    ).all()
    by_status = {s: 0 for s in STATUSES}
    for status, _ in rows:
        by_status[status] = by_status.get(status, 0) + 1
    checked = [faces for status, faces in rows if status in ("agrees", "mismatch")]
    return SnapshotsOut(
        total=len(rows),
        by_status={s: n for s, n in by_status.items() if n},
        one_face=sum(1 for faces in checked if faces == 1),
        checked=len(checked),
    )


def _stream(uow: UnitOfWork, attempt_id: uuid.UUID) -> tuple[int, int]:
    rows = uow.session.execute(
        select(ProctoringEvent.seq, ProctoringEvent.linked).where(
            ProctoringEvent.attempt_id == attempt_id, ProctoringEvent.seq > 0
        )
    ).all()
    top = max((seq for seq, _ in rows), default=0)
    return top - len(rows), sum(1 for _, linked in rows if not linked)


def _sealed(uow: UnitOfWork, attempt: Attempt) -> tuple[bool | None, int]:
    """Whether the stored events still hash to the sealed chain head, and how
    many of the sealed ones are gone (see :mod:`invigil.proctoring.records`)."""
    anchor = records.sealed(uow, attempt.id) if attempt.status == "submitted" else None
    if anchor is None:
        return None, 0
    now = records.event_stream(uow, attempt.id)
    if now.sha256 == anchor.sha256:
        return True, 0
    return False, max(0, (anchor.count or 0) - (now.count or 0))


def _flag_out(review: Review, flag: Flag) -> FlagDecisionOut:
    a, d = flag.action, flag.decision
    return FlagDecisionOut(
        action_id=a.id,
        rule_id=a.rule_id,
        kind=a.kind,
        severity=flag.severity,
        action=flag.kind,
        message=a.message,
        count=len(flag.events),
        decision=d.decision if d else None,
        reason=d.reason if d else None,
        reviewer=review.who(d.reviewer_id) if d else None,
        decided_at=d.created_at if d else None,
        decision_id=d.id if d else None,
    )


def _outcome_out(review: Review) -> OutcomeOut | None:
    o = review.outcome
    current = o.current
    if current is None:
        return None
    return OutcomeOut(
        decision=current.decision,
        final=o.final,
        awaiting_second_review=o.awaiting_second,
        reason=current.reason,
        reviewers=[review.who(r) for r in o.reviewers],
        decided_at=current.created_at,
        decision_id=current.id,
    )
