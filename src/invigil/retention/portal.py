"""What a candidate sees in their portal (ADR 0059): their attempts, results
only as released, what was recorded about them while they took each exam
(the events, the flags and the evidence behind each), the reviewers'
decisions with their reasons, and their own contests with the answers.

Everything here is read for one candidate in one tenant: the portal link
names the candidate, RLS binds the tenant, and every attempt and evidence
object is looked up *through* the candidate (:func:`attempt_of`,
:func:`evidence_of`), so an id of another candidate's attempt answers
exactly like an id that does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select

from invigil import i18n
from invigil.db.uow import UnitOfWork
from invigil.delivery import language, voids
from invigil.delivery.attempts import version_of
from invigil.delivery.models import Attempt, AttemptResult
from invigil.errors import NotFound
from invigil.evidence.models import EvidenceObject
from invigil.i18n import N_
from invigil.proctoring import contests, review_timeline, reviews
from invigil.proctoring.api import EventOut, event_list
from invigil.proctoring.models import Contest, RecordingSegment, ReviewDecision, Snapshot
from invigil.results import release
from invigil.results.result_page import shown

MAX_ATTEMPTS = 200
MAX_EVENTS = 500

# The candidate's own words for what the proctoring recorded and decided
# (the staff pages' words are written for reviewers).
EVENT_WORDS = {
    "face.none": N_("No face was in view of the camera."),
    "face.multiple": N_("More than one face was in view of the camera."),
    "face.mismatch": N_("The server's check of a camera picture disagreed with your browser's."),
    "audio.voice": N_("Voices were heard."),
    "focus.lost": N_("The exam window lost focus."),
    "tab.hidden": N_("The exam tab was hidden."),
    "fullscreen.exit": N_("Full screen was left."),
    "devtools.open": N_("Developer tools were opened."),
    "clipboard.copy": N_("Text was copied."),
    "clipboard.paste": N_("Text was pasted."),
    "context_menu": N_("The context menu was opened."),
    "screen.share_stopped": N_("Screen sharing stopped."),
    "camera.stopped": N_("The camera stopped."),
    "network.offline": N_("The browser went offline."),
    "detector.failed": N_("A detector could not run."),
    "client.silent": N_("The browser stopped reporting."),
}
OTHER_EVENT = N_("Something else was recorded (%(kind)s).")
ACTION_WORDS = {
    "flag": N_("Flag"),
    "provisional_fail": N_("Provisional fail"),
    "auto_submit": N_("Submitted automatically"),
}
DECISION_WORDS = {
    "confirmed": N_("Confirmed: it happened as the rule describes"),
    "dismissed": N_("Dismissed: a false alarm, or allowed"),
    "cleared": N_("Cleared: no violation"),
    "violation_fail": N_("Violation confirmed: you fail this exam"),
    "violation_invalidate": N_("Violation confirmed: the attempt does not count"),
}


@dataclass(frozen=True)
class AttemptRow:
    attempt: Attempt
    title: Any
    result: dict[str, Any] | None  # as released (None: not released)


@dataclass
class FlagView:
    flag: reviews.Flag
    words: str
    snapshots: list[Snapshot] = field(default_factory=list)
    segments: list[RecordingSegment] = field(default_factory=list)
    contest: Contest | None = None
    answer: ReviewDecision | None = None

    @property
    def id(self) -> uuid.UUID:
        return self.flag.id

    @property
    def decision(self) -> ReviewDecision | None:
        return self.flag.decision


@dataclass(frozen=True)
class AttemptView:
    attempt: Attempt
    title: Any
    result: dict[str, Any] | None
    feedback: str
    released_at: datetime | None
    events: list[EventOut]
    flags: list[FlagView]
    outcome: reviews.Outcome
    outcome_contest: Contest | None
    outcome_answer: ReviewDecision | None
    window_ends: datetime | None
    window_open: bool
    voided: bool


def attempts_of(uow: UnitOfWork, candidate_id: uuid.UUID) -> list[Attempt]:
    """The candidate's attempts that began, newest first."""
    return list(
        uow.scalars(
            select(Attempt)
            .where(Attempt.candidate_id == candidate_id, Attempt.started_at.is_not(None))
            .order_by(Attempt.started_at.desc(), Attempt.id)
            .limit(MAX_ATTEMPTS)
        )
    )


def attempt_of(uow: UnitOfWork, candidate_id: uuid.UUID, attempt_id: uuid.UUID) -> Attempt:
    """One of the candidate's attempts; NotFound for anyone else's (as for a missing id)."""
    found = uow.scalar(
        select(Attempt).where(
            Attempt.id == attempt_id,
            Attempt.candidate_id == candidate_id,
            Attempt.started_at.is_not(None),
        )
    )
    if found is None:
        raise NotFound("attempt was not found")
    return found


def released_result(uow: UnitOfWork, attempt: Attempt) -> tuple[dict[str, Any] | None, str, Any]:
    """What the candidate may see of the result: only a released one, never
    a voided attempt's (the result page's rules, :mod:`invigil.results.result_page`)."""
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    feedback = release.feedback_of(dict(version.settings))
    latest = release.latest_release(uow, attempt.id)
    if latest is None or voids.of(uow, attempt.id) is not None:
        return None, feedback, None
    result = uow.get(AttemptResult, latest.result_id)
    return shown(result.document, feedback), feedback, latest.released_at


def title_of(uow: UnitOfWork, attempt: Attempt, locale: str) -> Any:
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    return language.exam_words(uow, version, attempt.language or locale).title


def overview(uow: UnitOfWork, candidate_id: uuid.UUID, locale: str) -> list[AttemptRow]:
    rows = []
    for a in attempts_of(uow, candidate_id):
        result, _, _ = released_result(uow, a)
        rows.append(AttemptRow(a, title_of(uow, a, locale), result))
    return rows


def detail(
    uow: UnitOfWork, candidate_id: uuid.UUID, attempt_id: uuid.UUID, locale: str
) -> AttemptView:
    attempt = attempt_of(uow, candidate_id, attempt_id)
    result, feedback, released_at = released_result(uow, attempt)
    review = reviews.load(uow, attempt)
    events = event_list(uow, attempt)
    timeline = review_timeline.build(uow, attempt, review, events, locale)
    found = contests.of_attempt(uow, attempt.id)
    answers = contests.answers_of(uow, attempt.id)
    by_flag = {c.action_id: c for c in found}
    flags = []
    for f in review.flags:
        view = FlagView(f, kind_words(f.action.kind, locale))
        for entry in timeline.entries:
            if any(g.id == f.id for g in entry.flags):
                view.snapshots += [s for s in entry.near.snapshots if s not in view.snapshots]
                view.segments += [g for g in entry.near.segments if g not in view.segments]
        view.contest = by_flag.get(f.id)
        view.answer = answers.get(view.contest.id) if view.contest is not None else None
        flags.append(view)
    outcome_contest = by_flag.get(None)
    ends = contests.window_ends(uow, attempt)
    return AttemptView(
        attempt=attempt,
        title=title_of(uow, attempt, locale),
        result=result,
        feedback=feedback,
        released_at=released_at,
        events=events[:MAX_EVENTS],
        flags=flags,
        outcome=review.outcome,
        outcome_contest=outcome_contest,
        outcome_answer=answers.get(outcome_contest.id) if outcome_contest else None,
        window_ends=ends,
        window_open=ends is not None and datetime.now(UTC) < ends,
        voided=voids.of(uow, attempt.id) is not None,
    )


def evidence_of(
    uow: UnitOfWork, candidate_id: uuid.UUID, object_id: uuid.UUID
) -> tuple[EvidenceObject, uuid.UUID]:
    """An evidence object the portal may show this candidate, and its
    attempt: a snapshot or screen segment of one of their attempts, or the
    attachment of one of their contests. NotFound for anything else."""
    mine = select(Attempt.id).where(Attempt.candidate_id == candidate_id)
    attempt_id = uow.scalar(
        select(Attempt.id)
        .where(Attempt.candidate_id == candidate_id)
        .where(
            or_(
                Attempt.id.in_(
                    select(Snapshot.attempt_id).where(
                        Snapshot.object_id == object_id, Snapshot.attempt_id.in_(mine)
                    )
                ),
                Attempt.id.in_(
                    select(RecordingSegment.attempt_id).where(
                        RecordingSegment.object_id == object_id,
                        RecordingSegment.attempt_id.in_(mine),
                    )
                ),
                Attempt.id.in_(
                    select(Contest.attempt_id).where(
                        Contest.attachment_id == object_id, Contest.attempt_id.in_(mine)
                    )
                ),
            )
        )
        .limit(1)
    )
    if attempt_id is None:
        raise NotFound("evidence object was not found")
    obj = uow.scalar(select(EvidenceObject).where(EvidenceObject.id == object_id))
    if obj is None:
        raise NotFound("evidence object was not found")
    return obj, attempt_id


def kind_words(kind: str, locale: str) -> str:
    """An event kind in the candidate's words ("The exam tab was hidden.")."""
    phrase = EVENT_WORDS.get(kind)
    if phrase is None:
        return i18n.gettext(locale, OTHER_EVENT) % {"kind": kind[:64]}
    return i18n.gettext(locale, phrase)


def event_words(e: EventOut, locale: str) -> str:
    return kind_words(e.kind, locale)
