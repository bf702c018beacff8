"""Live monitoring: what a proctor sees of attempts in progress, and how
they step in (docs/live-monitoring.md).

A proctor holding ``proctor:live`` may message a candidate, grant time,
pause and resume the clock, end an attempt with a reason, and ask for a
room check. The candidate answers a message by reading it and a room check
with a clip. Each of these is a :class:`LiveIntervention` row, written
once, and an audit entry in the same transaction whose anchor is the
row's document (:func:`document`; the verifier rebuilds it from the row).
The words themselves stay out of the log (its SHA-256 is in the document):
a proctor's words about a person go with the person's identity (ADR 0063).

The server decides everything the player shows: a pause stops the clock
(saves wait, the closing job leaves the attempt alone, the deadline moves
by the pause on resume), added time moves the deadline, an end submits.
Every intervention bumps ``attempts.live_seq`` and signals the attempt
(:mod:`invigil.db.signals`), so consoles and the player hear of it at once.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from invigil import audit
from invigil.audit.anchored import Source, stream
from invigil.audit.records import Record, anchor, document_sha256
from invigil.content.models import Exam
from invigil.db import signals
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Invalid, NotFound
from invigil.identity import grants
from invigil.identity.models import User
from invigil.proctoring import disclosure
from invigil.proctoring.models import ExamLiveProctor, LiveIntervention
from invigil.security.permissions import Permission as P

KIND = "live_intervention"
MAX_MESSAGE = 1000
MAX_REASON = 500
MAX_MINUTES = 600
MAX_ADDED = 86_400  # a day, over all the time granted to one attempt
MAX_PROCTORS = 200  # named for one exam

# The audit action of each kind of intervention.
ACTIONS = {
    "message": "proctor.message_sent",
    "ack": "proctor.message_read",
    "time": "proctor.time_added",
    "pause": "proctor.paused",
    "resume": "proctor.resumed",
    "end": "proctor.ended",
    "room_check": "proctor.room_check_requested",
    "room_clip": "proctor.room_check_recorded",
}


class NotRunning(Conflict):
    slug = "attempt-not-running"


def _words(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field} is required", field=field)
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{field} has at most {limit} characters", field=field)
    if "\x00" in value:
        raise Invalid(f"{field} may not contain NUL characters", field=field)
    return value


# --- who may watch what --------------------------------------------------------


def watcher(uow: UnitOfWork) -> uuid.UUID | None:
    """The user whose exams' lists of proctors limit what they may watch;
    None when nothing limits it (an administrator, the system)."""
    user_id = grants.actor_user(uow)
    if user_id is None or P.TENANT_MANAGE.value in grants.held(uow):
        return None
    return user_id


# The exams a viewer (:viewer, a uuid or NULL for everything) may watch: those
# that name no proctor, and those that name them. ``{exam}`` is the exam's
# id column; ``{tenant}`` its tenant's.
WATCHABLE = """(
    CAST(:viewer AS uuid) IS NULL
    OR NOT EXISTS (SELECT 1 FROM exam_live_proctors w
                   WHERE w.tenant_id = {tenant} AND w.exam_id = {exam})
    OR EXISTS (SELECT 1 FROM exam_live_proctors w
               WHERE w.tenant_id = {tenant} AND w.exam_id = {exam}
                 AND w.user_id = CAST(:viewer AS uuid)))"""


def may_watch(uow: UnitOfWork, exam_id: uuid.UUID) -> bool:
    viewer = watcher(uow)
    if viewer is None:
        return True
    named = set(
        uow.scalars(select(ExamLiveProctor.user_id).where(ExamLiveProctor.exam_id == exam_id))
    )
    return not named or viewer in named


def hidden_exams(uow: UnitOfWork) -> list[uuid.UUID]:
    """The exams the actor may not watch: those that name proctors, not them."""
    viewer = watcher(uow)
    if viewer is None:
        return []
    named = uow.session.execute(select(ExamLiveProctor.exam_id, ExamLiveProctor.user_id)).all()
    exams: dict[uuid.UUID, bool] = {}
    for exam_id, user_id in named:
        exams[exam_id] = exams.get(exam_id, False) or user_id == viewer
    return sorted(e for e, mine in exams.items() if not mine)


def proctors_of(uow: UnitOfWork, exam_id: uuid.UUID) -> list[uuid.UUID]:
    """The proctors an exam names (empty: everyone holding proctor:live)."""
    return list(
        uow.scalars(
            select(ExamLiveProctor.user_id)
            .where(ExamLiveProctor.exam_id == exam_id)
            .order_by(ExamLiveProctor.user_id)
        )
    )


def set_proctors(
    uow: UnitOfWork, exam_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> list[uuid.UUID]:
    """Name who may watch the exam live (nobody: everyone who may watch).
    Each must be a user of the organisation who holds ``proctor:live``."""
    exam = uow.scalar(select(Exam).where(Exam.id == exam_id))
    if exam is None:
        raise NotFound(f"exam {exam_id} was not found")
    wanted = sorted(set(user_ids))
    if len(wanted) > MAX_PROCTORS:
        raise Invalid(f"name at most {MAX_PROCTORS} proctors", field="user_ids")
    for user_id in wanted:
        user = uow.scalar(select(User).where(User.id == user_id))
        if user is None:
            raise Invalid(f"user {user_id} was not found", field="user_ids")
        if P.PROCTOR_LIVE.value not in grants.user_permissions(uow, user_id):
            raise Invalid(
                f"{user.email} does not hold proctor:live: give them a role that does first",
                field="user_ids",
            )
    before = proctors_of(uow, exam_id)
    if before == wanted:
        return wanted
    uow.session.execute(delete(ExamLiveProctor).where(ExamLiveProctor.exam_id == exam_id))
    for user_id in wanted:
        uow.add(ExamLiveProctor(tenant_id=uow.tenant, exam_id=exam_id, user_id=user_id))
    uow.flush()
    audit.record(uow, "exam.live_proctors_set", exam, {"before": before, "proctors": wanted})
    return wanted


# --- the steps -------------------------------------------------------------------


def running(uow: UnitOfWork, attempt_id: uuid.UUID) -> Attempt:
    """The attempt, locked, if it is in progress (409 otherwise) and its
    exam may be watched by the actor (404 otherwise, as a missing one)."""
    attempt = uow.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
    if attempt is None or not may_watch(uow, attempt.exam_id):
        raise NotFound(f"attempt {attempt_id} was not found")
    if attempt.status != "in_progress":
        raise NotRunning(
            "this attempt is not in progress any more: nothing can be changed live",
            status=attempt.status,
        )
    return attempt


def document(row: LiveIntervention | Mapping[str, Any]) -> dict[str, Any]:
    """An intervention as its anchored document (the verifier rebuilds it)."""

    def get(key: str) -> Any:
        return row[key] if isinstance(row, Mapping) else getattr(row, key)

    def ident(key: str) -> str | None:
        value = get(key)
        return str(value) if value is not None else None

    return {
        "id": str(get("id")),
        "attempt_id": str(get("attempt_id")),
        "kind": get("kind"),
        "actor": get("actor"),
        "text_sha256": get("text_sha256"),
        "seconds": get("seconds"),
        "refers_to": ident("refers_to"),
        "object_id": ident("object_id"),
        "created_at": get("created_at").astimezone(UTC).isoformat(),
    }


def _intervene(
    uow: UnitOfWork,
    attempt: Attempt,
    kind: str,
    now: datetime,
    *,
    words: str = "",
    seconds: int | None = None,
    refers_to: uuid.UUID | None = None,
    object_id: uuid.UUID | None = None,
    extra: Mapping[str, Any] | None = None,
) -> LiveIntervention:
    row = LiveIntervention(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        created_at=now,
        attempt_id=attempt.id,
        kind=kind,
        actor=f"{uow.actor.kind}:{uow.actor.id}",
        text=words,
        text_sha256=hashlib.sha256(words.encode()).hexdigest() if words else "",
        seconds=seconds,
        refers_to=refers_to,
        object_id=object_id,
    )
    uow.add(row)
    uow.flush()
    attempt.live_seq += 1
    doc = document(row)
    audit.record(
        uow,
        ACTIONS[kind],
        row,
        {
            "attempt_id": attempt.id,
            "kind": kind,
            "seconds": seconds,
            "refers_to": refers_to,
            "object_id": object_id,
            "text_sha256": row.text_sha256 or None,
            **(extra or {}),
            "anchor": anchor(KIND, document_sha256(doc)),
        },
    )
    signals.attempt_changed(uow, attempt.id)
    return row


# --- the proctor's side ------------------------------------------------------


def send_message(
    uow: UnitOfWork, attempt_id: uuid.UUID, message: object, now: datetime | None = None
) -> LiveIntervention:
    attempt = running(uow, attempt_id)
    words = _words(message, "text", MAX_MESSAGE)
    return _intervene(uow, attempt, "message", now or datetime.now(UTC), words=words)


def add_time(
    uow: UnitOfWork,
    attempt_id: uuid.UUID,
    minutes: object,
    reason: object,
    now: datetime | None = None,
) -> LiveIntervention:
    """Move the deadline by ``minutes`` (an accommodation granted live)."""
    attempt = running(uow, attempt_id)
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise Invalid("minutes must be a whole number", field="minutes")
    if not 1 <= minutes <= MAX_MINUTES:
        raise Invalid(f"minutes must be between 1 and {MAX_MINUTES}", field="minutes")
    words = _words(reason, "reason", MAX_REASON)
    if attempt.deadline is None:
        raise Invalid("this exam has no time limit: there is no time to add", field="minutes")
    seconds = minutes * 60
    if attempt.added_seconds + seconds > MAX_ADDED:
        raise Invalid(
            "at most 24 hours may be added to one attempt "
            f"({attempt.added_seconds // 60} minutes already were)",
            field="minutes",
        )
    before = attempt.deadline
    attempt.deadline = before + timedelta(seconds=seconds)
    attempt.added_seconds += seconds
    return _intervene(
        uow,
        attempt,
        "time",
        now or datetime.now(UTC),
        words=words,
        seconds=seconds,
        extra={"deadline_before": before, "deadline": attempt.deadline},
    )


def pause(
    uow: UnitOfWork, attempt_id: uuid.UUID, reason: object, now: datetime | None = None
) -> LiveIntervention:
    """Stop the attempt's clock: nothing is answered until it resumes."""
    attempt = running(uow, attempt_id)
    words = _words(reason, "reason", MAX_REASON)
    if attempt.paused_at is not None:
        raise Conflict("this attempt is paused already")
    now = now or datetime.now(UTC)
    attempt.paused_at = now
    return _intervene(uow, attempt, "pause", now, words=words)


def resume(uow: UnitOfWork, attempt_id: uuid.UUID, now: datetime | None = None) -> LiveIntervention:
    """Start the clock again: the deadline moves by the time it stood still."""
    attempt = running(uow, attempt_id)
    since = attempt.paused_at
    if since is None:
        raise Conflict("this attempt is not paused")
    now = max(now or datetime.now(UTC), since)
    stood = max(1, round((now - since).total_seconds()))
    before = attempt.deadline
    if before is not None:
        attempt.deadline = before + (now - since)
    attempt.paused_at = None
    return _intervene(
        uow,
        attempt,
        "resume",
        now,
        seconds=min(stood, MAX_ADDED),
        extra={"paused_at": since, "deadline_before": before, "deadline": attempt.deadline},
    )


def end(
    uow: UnitOfWork, attempt_id: uuid.UUID, reason: object, now: datetime | None = None
) -> LiveIntervention:
    """Submit the attempt as it stands. An integrity decision is not made
    here: that stays with the review the policy sets."""
    attempt = running(uow, attempt_id)
    words = _words(reason, "reason", MAX_REASON)
    now = now or datetime.now(UTC)
    row = _intervene(uow, attempt, "end", now, words=words)
    attempts.submit(uow, attempt, "proctor", now=now)
    return row


def request_room_check(
    uow: UnitOfWork, attempt_id: uuid.UUID, reason: object, now: datetime | None = None
) -> LiveIntervention:
    """Ask the candidate to show the room with the camera; the clip is kept
    as evidence of the attempt."""
    attempt = running(uow, attempt_id)
    words = _words(reason, "reason", MAX_REASON)
    if not disclosure.covers(attempts.consented_captures(uow, attempt), "room_check"):
        raise Invalid(
            "the candidate did not consent to the camera for this exam: a room check "
            "cannot be asked for",
            field="reason",
        )
    if pending_room_check(uow, attempt.id) is not None:
        raise Conflict("a room check was asked for already and is not recorded yet")
    return _intervene(uow, attempt, "room_check", now or datetime.now(UTC), words=words)


# --- the candidate's side ----------------------------------------------------


def acknowledge(
    uow: UnitOfWork, attempt: Attempt, message_id: uuid.UUID, now: datetime | None = None
) -> LiveIntervention:
    """The candidate read a message (once; reading it again answers the
    first acknowledgement)."""
    message = uow.scalar(
        select(LiveIntervention).where(
            LiveIntervention.id == message_id,
            LiveIntervention.attempt_id == attempt.id,
            LiveIntervention.kind == "message",
        )
    )
    if message is None:
        raise NotFound(f"message {message_id} was not found")
    known = answer_to(uow, message.id)
    if known is not None:
        return known
    locked = uow.scalar(select(Attempt).where(Attempt.id == attempt.id).with_for_update())
    assert locked is not None
    return _intervene(uow, locked, "ack", now or datetime.now(UTC), refers_to=message.id)


def answer_to(uow: UnitOfWork, intervention_id: uuid.UUID) -> LiveIntervention | None:
    return uow.scalar(select(LiveIntervention).where(LiveIntervention.refers_to == intervention_id))


def pending_room_check(uow: UnitOfWork, attempt_id: uuid.UUID) -> LiveIntervention | None:
    """The room check asked for and not recorded yet, if any."""
    asked = uow.scalar(
        select(LiveIntervention)
        .where(LiveIntervention.attempt_id == attempt_id, LiveIntervention.kind == "room_check")
        .order_by(LiveIntervention.created_at.desc())
        .limit(1)
    )
    if asked is None or answer_to(uow, asked.id) is not None:
        return None
    return asked


def record_room_clip(
    uow: UnitOfWork,
    attempt: Attempt,
    check_id: uuid.UUID,
    object_id: uuid.UUID,
    now: datetime | None = None,
) -> LiveIntervention:
    asked = pending_room_check(uow, attempt.id)
    if asked is None or asked.id != check_id:
        raise Conflict("no room check is waiting for this clip")
    locked = uow.scalar(select(Attempt).where(Attempt.id == attempt.id).with_for_update())
    assert locked is not None
    return _intervene(
        uow, locked, "room_clip", now or datetime.now(UTC), refers_to=check_id, object_id=object_id
    )


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def candidate_view(uow: UnitOfWork, attempt: Attempt) -> dict[str, Any]:
    """What the player needs to follow the proctor: the clock, the unread
    messages (oldest first) and a room check waiting for its clip."""
    unread = uow.scalars(
        select(LiveIntervention)
        .where(LiveIntervention.attempt_id == attempt.id, LiveIntervention.kind == "message")
        .order_by(LiveIntervention.created_at)
    )
    read = set(
        uow.scalars(
            select(LiveIntervention.refers_to).where(
                LiveIntervention.attempt_id == attempt.id, LiveIntervention.kind == "ack"
            )
        )
    )
    check = pending_room_check(uow, attempt.id) if attempt.status == "in_progress" else None
    return {
        "live_seq": attempt.live_seq,
        "status": attempt.status,
        "server_time": _iso(datetime.now(UTC)),
        "deadline": _iso(attempt.deadline),
        "paused_at": _iso(attempt.paused_at),
        "messages": [
            {"id": str(m.id), "text": m.text, "sent_at": _iso(m.created_at)}
            for m in unread
            if m.id not in read
        ],
        "room_check": (
            {"id": str(check.id), "requested_at": _iso(check.created_at), "reason": check.text}
            if check is not None
            else None
        ),
    }


def of_attempt(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[LiveIntervention]:
    """Every intervention of an attempt, oldest first (the review timeline)."""
    return list(
        uow.scalars(
            select(LiveIntervention)
            .where(LiveIntervention.attempt_id == attempt_id)
            .order_by(LiveIntervention.created_at, LiveIntervention.id)
        )
    )


# --- verification --------------------------------------------------------------

_ROWS = """
    SELECT id, attempt_id, kind, actor, text, text_sha256, seconds, refers_to, object_id,
           created_at
    FROM live_interventions ORDER BY id::text COLLATE "C"
"""
_FIELDS = ("id", "attempt_id", "kind", "actor", "text", "text_sha256", "seconds", "refers_to",
           "object_id", "created_at")  # fmt: skip


def _records(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
    for r in stream(uow, _ROWS, {}, "records_live"):
        row = dict(zip(_FIELDS, r, strict=True))
        doc = document(row)
        words = row["text"]
        flaw = None
        if words and hashlib.sha256(words.encode()).hexdigest() != row["text_sha256"]:
            flaw = "its words are not the words it was written with"
        yield Record(
            KIND,
            str(row["id"]),
            "live_intervention",
            ACTIONS[row["kind"]],
            document_sha256(doc),
            body=doc if keep else None,
            flaw=flaw,
        )


SOURCES = (Source(KIND, _records),)
