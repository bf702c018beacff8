"""Attempts: start (consent + browser binding), begin (the clock), save
answers, heartbeat, submit, close at the deadline, release a binding.

The server is the authority on time. ``deadline = started_at + time limit +
accommodations`` is fixed when the clock starts (``begin``). After it,
answers are refused, except items the browser queued while offline (their
``client_time`` is before the deadline) that arrive within the grace period,
and items given before the deadline that were still in flight when it
passed (``IN_FLIGHT``): those are kept and marked ``late`` so a reviewer
sees the late sync. The
closing job submits every attempt whose deadline and grace have passed,
whether or not a browser is still there.

Answers are saved per question with the browser's per-attempt sequence
number. One ``INSERT ... ON CONFLICT DO UPDATE ... WHERE stored.seq <
new.seq`` decides: a repeated item changes nothing, an older item never
overwrites a newer one, and two racing saves cannot both win.

Every state change that matters (consent given or declined, attempt
created, browser bound or released, clock started, submitted, result
recorded) writes its audit entry in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import defer

from invigil import audit
from invigil.audit.canonical import canonical_json
from invigil.audit.records import anchor
from invigil.content.assemble import assemble
from invigil.content.models import ExamVersion
from invigil.db import signals
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import answers, keeping
from invigil.delivery.links import LinkKey
from invigil.delivery.models import (
    Attempt,
    AttemptAnswer,
    AttemptClientChange,
    AttemptRelease,
    Consent,
    Invitation,
)
from invigil.delivery.proctor import proctor
from invigil.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, PaymentRequired
from invigil.ledger import prices
from invigil.logs import get_logger
from invigil.proctoring import disclosure
from invigil.proctoring.policy import resolve as resolve_policy
from invigil.security.pseudonyms import text_sha256 as text_sha256  # re-exported
from invigil.security.tokens import new_secret

log = get_logger(__name__)

BINDING_PREFIX = "ab"
COOKIE_PREFIX = "invigil_a_"
DEFAULT_GRACE_SECONDS = 120
MAX_ITEMS = 500
# An answer given before the deadline may still be on the wire when it
# passes (the player sends everything at zero): taken if it arrives this
# soon after, and marked late like an offline one.
IN_FLIGHT = timedelta(seconds=5)


class Elsewhere(Conflict):
    """The attempt is bound to another browser."""

    slug = "in-progress-elsewhere"


class AttemptClosed(Conflict):
    slug = "attempt-closed"


class AttemptVoided(AttemptClosed):
    """Staff voided the attempt: the player is refused as for any closed
    attempt (same problem type), with words that say why."""


def refuse_voided(uow: UnitOfWork, attempt: Attempt) -> None:
    """Raise :class:`AttemptVoided` when staff voided ``attempt``."""
    from invigil.delivery import voids

    if voids.of(uow, attempt.id) is not None:
        raise AttemptVoided(
            "the organiser voided this attempt: nothing more is saved for it; ask them "
            "about a new attempt"
        )


class NotStarted(Conflict):
    slug = "not-started"


class NoAttemptsLeft(Conflict):
    slug = "no-attempts-left"


class NoFaceSeen(Conflict):
    """An exam that watches faces begins only after the system check's picture
    showed the server a face (``attempts.face_seen_at``)."""

    slug = "no-face-seen"


class OrganiserCannotPay(DomainError):
    """The organiser's credit cannot pay for this start: the candidate is
    told to contact them, never the organisation's balance."""

    status = 402
    slug = "exam-unavailable"


def require_face_seen(attempt: Attempt) -> None:
    if attempt.face_seen_at is None and proctor().policy_of(attempt).detectors.face:
        raise NoFaceSeen(
            "this exam watches your face, and the camera check has not seen it yet: sit in "
            "front of the camera in good light, then choose Check again"
        )


class ConsentChanged(Conflict):
    slug = "consent-changed"


class Paused(Conflict):
    """A proctor stopped the clock: answers given since wait for the resume."""

    slug = "paused"


class NavigationClosed(Conflict):
    """Under linear navigation: a move back, or a change to a question
    before the furthest one reached. ``asked`` is what the request named
    (question indices), for the audit entry."""

    slug = "navigation-closed"

    def __init__(self, detail: str, *, asked: list[int], **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.asked = asked


def cookie_name(invitation_id: uuid.UUID) -> str:
    """One binding cookie per invitation (it survives a rotated link)."""
    return f"{COOKIE_PREFIX}{invitation_id.hex[:12]}"


def limit_seconds(version: ExamVersion, invitation: Invitation) -> int | None:
    """The time limit with the candidate's extra time, in whole minutes (rounded up)."""
    minutes = version.settings.get("time_limit_minutes")
    if not minutes:
        return None
    extra = invitation.extra_time_percent
    return (int(minutes) + (int(minutes) * extra + 99) // 100) * 60


def grace_of(version: ExamVersion) -> int:
    return int(version.settings.get("offline_grace_seconds", DEFAULT_GRACE_SECONDS))


def latest(uow: UnitOfWork, invitation_id: uuid.UUID, *, lock: bool = False) -> Attempt | None:
    stmt = (
        select(Attempt)
        .where(Attempt.invitation_id == invitation_id)
        .order_by(Attempt.number.desc())
        .limit(1)
    )
    if lock:
        stmt = stmt.with_for_update()
    return uow.scalar(stmt)


def counted(uow: UnitOfWork, invitation_id: uuid.UUID) -> int:
    """The invitation's attempts that count against its attempts allowed:
    all but the voided ones (a voided attempt's remedy is a new one)."""
    from invigil.delivery import voids

    return int(
        uow.scalar(
            select(func.count())
            .select_from(Attempt)
            .where(Attempt.invitation_id == invitation_id, voids.not_voided())
        )
        or 0
    )


def version_of(uow: UnitOfWork, exam_id: uuid.UUID, version: int) -> ExamVersion:
    found = uow.scalar(
        select(ExamVersion).where(ExamVersion.exam_id == exam_id, ExamVersion.version == version)
    )
    if found is None:  # a foreign key makes this impossible
        raise NotFound("the exam version of this invitation was not found")
    return found


@dataclass(frozen=True)
class Browser:
    """Who pressed the button: kept with the consent record."""

    cookie: str | None = None
    address: str = ""
    user_agent: str = ""


@dataclass(frozen=True)
class Started:
    attempt: Attempt
    secret: str | None  # a new binding secret to set as the cookie, or None


def _consent(
    uow: UnitOfWork,
    invitation: Invitation,
    attempt_id: uuid.UUID | None,
    decision: str,
    consent_text: str,
    consent_language: str,
    browser: Browser,
    captures: Sequence[str],
) -> Consent:
    consent = Consent(
        tenant_id=uow.tenant,
        invitation_id=invitation.id,
        attempt_id=attempt_id,
        decision=decision,
        text=consent_text,
        text_sha256=text_sha256(consent_text),
        language=consent_language,
        address=browser.address[:64],
        user_agent=browser.user_agent[:400],
        captures=list(captures),
    )
    uow.add(consent)
    uow.flush()
    return consent


def _consent_anchor(uow: UnitOfWork, consent: Consent) -> dict[str, Any]:
    """The anchor of ``consent`` as its row now holds it (its ``created_at``
    is the database's), for the entry that records it."""
    from invigil.delivery import records

    return anchor("consent", records.consent(uow, consent.id).sha256)


class NotConsented(Forbidden):
    slug = "not-consented"


def consented_captures(uow: UnitOfWork, attempt: Attempt) -> tuple[str, ...]:
    """What the candidate consented to have captured for ``attempt``: the
    list recorded with the consent; for a consent recorded before lists
    were kept, what the policy frozen with the attempt (which the consent
    text was written from) captures."""
    recorded = uow.scalar(
        select(Consent.captures).where(
            Consent.attempt_id == attempt.id, Consent.decision == "given"
        )
    )
    if recorded is not None:
        return tuple(recorded)
    return proctor().captures(attempt)


def require_consented(uow: UnitOfWork, attempt: Attempt, evidence_kind: str) -> None:
    """Refuse evidence the candidate did not consent to (403 ``not-consented``)."""
    consented = consented_captures(uow, attempt)
    if not disclosure.covers(consented, evidence_kind):
        raise NotConsented(
            f"the candidate did not consent to {evidence_kind} evidence for this exam "
            "(consented: " + (", ".join(consented) or "nothing") + ")",
            consented=list(consented),
        )


def record_decline(
    uow: UnitOfWork,
    invitation: Invitation,
    version: ExamVersion,
    consent_text: str,
    consent_language: str,
    browser: Browser,
) -> Consent:
    """ "I do not agree": the text declined, in the language it was shown in."""
    captured = disclosure.captures(resolve_policy(version.settings))
    consent = _consent(
        uow, invitation, None, "declined", consent_text, consent_language, browser, captured
    )
    audit.record(
        uow,
        "consent.declined",
        consent,
        {
            "invitation_id": invitation.id,
            "text_sha256": consent.text_sha256,
            "language": consent.language,
            "captures": list(captured),
            "anchor": _consent_anchor(uow, consent),
        },
    )
    return consent


def start(
    uow: UnitOfWork,
    key: LinkKey,
    invitation: Invitation,
    version: ExamVersion,
    *,
    consent_text: str,
    consent_language: str,
    shown_sha256: str,
    shown_language: str,
    browser: Browser,
    now: datetime | None = None,
    retention_version: int | None = None,
) -> Started:
    """ "Start exam": consent, a new attempt (or this browser's running one),
    and the browser binding. Raises :class:`Elsewhere` when another browser
    holds the running attempt, and :class:`ConsentChanged` when the text
    the page showed (``shown_language``, ``shown_sha256``) is not
    ``consent_text`` in ``consent_language``, the text that is recorded.
    ``retention_version``: the retention policy version whose periods the
    text states, frozen with the attempt (None: the one in force now)."""
    now = now or datetime.now(UTC)
    current = latest(uow, invitation.id, lock=True)
    if current is not None and current.status != "submitted":
        if current.binding_hash is None:
            return Started(current, _bind(uow, key, current, now, rebound=True))
        if browser.cookie and key.hash(browser.cookie) == current.binding_hash:
            return Started(current, None)
        raise Elsewhere(
            "this exam is already in progress in another browser; continue it there, or "
            "ask the organiser to release it so that you can continue here"
        )
    if shown_sha256 != text_sha256(consent_text) or shown_language != consent_language:
        raise ConsentChanged(
            "the consent text changed since you opened the page: read it again, then start"
        )
    done = current.number if current is not None else 0
    allowed = int(version.settings.get("attempts_allowed", 1))
    if counted(uow, invitation.id) >= allowed:
        raise NoAttemptsLeft(
            f"you have used all {allowed} attempt(s) this exam allows; your last one is submitted"
        )
    policy = resolve_policy(version.settings)
    seed = secrets.randbits(62)
    paper = [
        {
            "section": s.section,
            "question_id": s.question_id,
            "version_id": s.version_id,
            "type": s.type,
            "option_order": list(s.option_order),
        }
        for s in assemble(version, seed)
    ]
    attempt = Attempt(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        invitation_id=invitation.id,
        candidate_id=invitation.candidate_id,
        exam_id=invitation.exam_id,
        exam_version=invitation.exam_version,
        number=done + 1,
        seed=seed,
        paper=paper,
        status="ready",
        grace_seconds=grace_of(version),
        last_seq=0,
        position=0,
        furthest=0 if version.settings.get("navigation") == "linear" else None,
        policy=policy.model_dump(mode="json"),
        retention_version=(
            retention_version if retention_version is not None
            else keeping.version_in_force(uow)
        ),
    )  # fmt: skip
    uow.add(attempt)
    uow.flush()
    captured = disclosure.captures(policy)
    consent = _consent(
        uow, invitation, attempt.id, "given", consent_text, consent_language, browser, captured
    )
    audit.record(
        uow,
        "consent.given",
        consent,
        {
            "attempt_id": attempt.id,
            "text_sha256": consent.text_sha256,
            "language": consent.language,
            "captures": list(captured),
            "anchor": _consent_anchor(uow, consent),
        },
    )
    audit.record(
        uow,
        "attempt.created",
        attempt,
        {
            "invitation_id": invitation.id,
            "candidate_id": invitation.candidate_id,
            "exam_id": invitation.exam_id,
            "exam_version": invitation.exam_version,
            "content_hash": version.content_hash,
            "number": attempt.number,
            "seed": str(seed),
            "questions": len(paper),
            "consent_id": consent.id,
            "policy": attempt.policy["name"] if attempt.policy else None,
            "policy_sha256": hashlib.sha256(canonical_json(attempt.policy or {})).hexdigest(),
        },
    )
    return Started(attempt, _bind(uow, key, attempt, now, rebound=False))


def _bind(uow: UnitOfWork, key: LinkKey, attempt: Attempt, now: datetime, rebound: bool) -> str:
    secret = new_secret(BINDING_PREFIX, uow.tenant)
    attempt.binding_hash = key.hash(secret)
    attempt.bound_at = now
    if rebound:
        audit.record(uow, "attempt.bound", attempt, {"after_release": True})
    return secret


def is_bound_to(key: LinkKey, attempt: Attempt, cookie: str | None) -> bool:
    return (
        bool(cookie)
        and attempt.binding_hash is not None
        and (key.hash(cookie or "") == attempt.binding_hash)
    )


def release(uow: UnitOfWork, attempt: Attempt, reason: str = "") -> Attempt:
    """Staff: free the attempt from its browser; the next "Start exam" binds anew."""
    if attempt.status == "submitted":
        raise Conflict("this attempt is submitted: there is no browser to release")
    if attempt.binding_hash is None:
        raise Conflict("this attempt is not bound to any browser")
    attempt.binding_hash = None
    attempt.bound_at = None
    row = AttemptRelease(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        released_by=f"{uow.actor.kind}:{uow.actor.id}"[:200],
        reason=reason[:500],
    )
    uow.add(row)
    uow.flush()
    # The words stay in the row (staff's words about a candidate are personal
    # data; the log keeps ids and hashes only).
    audit.record(
        uow, "attempt.released", attempt,
        {"release_id": row.id, "reason_sha256": text_sha256(row.reason)},
    )  # fmt: skip
    return attempt


def begin(
    uow: UnitOfWork,
    attempt: Attempt,
    version: ExamVersion,
    invitation: Invitation,
    now: datetime | None = None,
    language: str | None = None,
) -> Attempt:
    """Start the clock (idempotent) and fix the language the questions are
    delivered in (the candidate's at this moment; it never changes after,
    so a candidate who switches the pages' language mid-exam keeps the
    questions they began with, and the answers stay those of one paper)."""
    if attempt.status == "submitted":
        raise AttemptClosed("this attempt is already submitted")
    if attempt.status == "in_progress":
        return attempt
    now = now or datetime.now(UTC)
    if now >= invitation.closes_at:
        raise AttemptClosed(
            "this exam could only be started until "
            f"{invitation.closes_at.isoformat(timespec='minutes')}"
        )
    require_face_seen(attempt)
    seconds = limit_seconds(version, invitation)
    attempt.status = "in_progress"
    attempt.started_at = now
    attempt.deadline = now + timedelta(seconds=seconds) if seconds else None
    attempt.last_seen_at = now
    signals.attempt_changed(uow, attempt.id)
    attempt.language = language
    if attempt.retention_version is None:  # made before versions were frozen at consent
        attempt.retention_version = keeping.version_in_force(uow)
    # The start is charged in its own transaction (once per attempt).
    level = disclosure.billing_level(proctor().captures(attempt))
    try:
        prices.charge_event(uow, "attempt", attempt.id, level, now=now)
    except PaymentRequired:
        raise OrganiserCannotPay(
            "this exam cannot start now because of the organiser's account; contact the "
            "organisation that invited you (your invitation stays valid)"
        ) from None
    audit.record(
        uow,
        "attempt.started",
        attempt,
        {"deadline": attempt.deadline, "limit_seconds": seconds, "language": language},
    )
    return attempt


# --- answers ---------------------------------------------------------------


@dataclass
class Item:
    index: int
    response: Any
    seq: int
    flagged: bool = False
    time_ms: int = 0
    client_time: datetime | None = None
    offline: bool = False


# The reason of a rejected item, as a stable code the player words in the
# candidate's language (``reason`` stays English, for API clients and logs).
TIME_UP = "the time is up: answers after the deadline are not accepted"


def refusal_code(reason: str) -> str:
    if reason == TIME_UP:
        return "time-up"
    if reason.startswith("there is no question"):
        return "no-such-question"
    return "invalid-response"


@dataclass
class Outcome:
    seq: int
    status: str  # saved | duplicate | stale | late | rejected
    reason: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"seq": self.seq, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
            out["code"] = refusal_code(self.reason)
        return out


@dataclass
class Saved:
    results: list[Outcome] = field(default_factory=list)


_UPSERT = text(
    """
    INSERT INTO attempt_answers AS a
        (tenant_id, attempt_id, slot, response, flagged, seq, time_ms, client_time, late, saved_at)
    SELECT :tenant, :attempt, x.slot, x.response, x.flagged, x.seq, x.time_ms, x.client_time,
           x.late, now()
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(
        slot integer, response jsonb, flagged boolean, seq bigint, time_ms bigint,
        client_time timestamptz, late boolean)
    ON CONFLICT (tenant_id, attempt_id, slot) DO UPDATE SET
        response = excluded.response, flagged = excluded.flagged, seq = excluded.seq,
        time_ms = GREATEST(a.time_ms, excluded.time_ms), client_time = excluded.client_time,
        late = excluded.late, saved_at = excluded.saved_at
    WHERE a.seq < excluded.seq
    RETURNING slot, pg_notify('invigil_live', a.tenant_id::text || ' ' || a.attempt_id::text)
    """
)


def require_running(attempt: Attempt) -> None:
    if attempt.status == "submitted":
        raise AttemptClosed("this attempt is submitted: answers can no longer change")
    if attempt.status != "in_progress":
        raise NotStarted("the exam has not started yet: start it first")


@dataclass(frozen=True)
class Sheet:
    """What checking and storing answers needs of an attempt: its clock and
    the paper's slots (at least those the items name)."""

    attempt_id: uuid.UUID
    deadline: datetime | None
    grace_seconds: int
    questions: int
    slots: Mapping[int, Mapping[str, Any]]

    @classmethod
    def of(cls, attempt: Attempt) -> Sheet:
        paper = attempt.paper
        return cls(
            attempt.id, attempt.deadline, attempt.grace_seconds, len(paper), dict(enumerate(paper))
        )


def save(
    uow: UnitOfWork, attempt: Attempt, items: Sequence[Item], now: datetime | None = None
) -> Saved:
    """Save a batch of answer items; each gets its own outcome."""
    if attempt.status == "submitted":
        refuse_voided(uow, attempt)
    require_running(attempt)
    require_few(items)
    now = now or datetime.now(UTC)
    require_not_paused(attempt, items)
    sheet = Sheet.of(attempt)
    reach = require_forward(uow, attempt, sheet, items, now)
    saved = store(uow, sheet, items, now)
    top = max((it.seq for it in items), default=0)
    if top > attempt.last_seq:
        attempt.last_seq = top
    if reach is not None and attempt.furthest is not None and reach > attempt.furthest:
        attempt.furthest = attempt.position = reach
    proctor().heard(uow, attempt, now)
    return saved


def require_not_paused(attempt: Attempt, items: Sequence[Item]) -> None:
    """While a proctor has the clock stopped, only answers given before the
    pause are taken; the rest wait in the browser's queue for the resume
    (409 ``paused``: the player keeps them and sends them again)."""
    paused = attempt.paused_at
    if paused is None:
        return
    if all(it.client_time is not None and it.client_time <= paused for it in items):
        return
    raise Paused(
        "the proctor has paused this exam: answers are taken again when it resumes",
        paused_at=paused.isoformat(),
    )


# --- linear navigation -------------------------------------------------------
#
# An attempt of an exam whose navigation is linear keeps ``furthest``: the
# furthest question it has reached, by moving there (a heartbeat's position)
# or by answering it. A question before it is closed: a move back is
# refused, and so is any save that would change a closed question's answer
# (a re-sent or older item changes nothing and is answered as usual). The
# whole request is refused with 409 ``navigation-closed`` and nothing of it
# is stored; the refusal is audited (``attempt.navigation_refused``), as the
# player never sends such a request: a browser that does was changed.


def require_forward(
    uow: UnitOfWork, attempt: Attempt, sheet: Sheet, items: Sequence[Item], now: datetime
) -> int | None:
    """The furthest question ``items`` reach, taken in ``seq`` order (None
    under free navigation); raises :class:`NavigationClosed` when one of them
    would change a question closed by then."""
    if attempt.furthest is None:
        return None
    reach = attempt.furthest
    back: list[Item] = []
    for it in sorted(_unique(items), key=lambda i: i.seq):
        if _refusal(sheet, it, now) not in (None, "late"):
            continue  # rejected on its own, changes nothing
        if it.index < reach:
            back.append(it)
        else:
            reach = it.index
    if not back:
        return reach
    found = uow.session.execute(
        select(AttemptAnswer.slot, AttemptAnswer.seq).where(
            AttemptAnswer.attempt_id == attempt.id,
            AttemptAnswer.slot.in_({it.index for it in back}),
        )
    )
    stored = {slot: seq for slot, seq in found}
    changing = [it for it in back if stored.get(it.index, 0) < it.seq]
    if not changing:
        return reach
    closed = sorted({it.index for it in changing})
    raise NavigationClosed(
        f"question {_numbers(closed)} can no longer be changed: this exam's questions come "
        f"one after another, and question {reach + 1} has been reached; nothing in this "
        "request was saved",
        asked=closed,
        furthest=reach,
        questions=closed,
        refused=[it.seq for it in changing],
    )


def _numbers(indices: Sequence[int]) -> str:
    return ", ".join(str(i + 1) for i in indices)


def move(attempt: Attempt, position: int | None) -> None:
    """Keep the browser's position (a question of the paper); under linear
    navigation, never backwards (:class:`NavigationClosed`)."""
    if position is None or not 0 <= position < len(attempt.paper):
        return
    if attempt.furthest is not None:
        if position < attempt.furthest:
            raise NavigationClosed(
                f"you cannot go back to question {position + 1}: this exam's questions come "
                f"one after another, and question {attempt.furthest + 1} has been reached",
                asked=[position],
                furthest=attempt.furthest,
            )
        attempt.furthest = position
    attempt.position = position


def record_refusal(uow: UnitOfWork, attempt: Attempt, refused: NavigationClosed, via: str) -> None:
    """Audit a refused move back (nothing else of its request is kept)."""
    audit.record(
        uow,
        "attempt.navigation_refused",
        attempt,
        {"via": via, "asked": refused.asked, "furthest": attempt.furthest},
    )


def require_few(items: Sequence[Item]) -> None:
    if len(items) > MAX_ITEMS:
        raise Invalid(f"send at most {MAX_ITEMS} items at a time")


def store(uow: UnitOfWork, sheet: Sheet, items: Sequence[Item], now: datetime) -> Saved:
    """Check each item and write the acceptable ones. The caller holds the
    running attempt's row locked and keeps ``last_seq`` and ``last_seen_at``."""
    outcomes: dict[int, Outcome] = {}
    best: dict[int, Item] = {}  # slot -> the newest acceptable item of this batch
    late: set[int] = set()
    for item in items:
        reason = _refusal(sheet, item, now)
        if reason == "late":
            late.add(item.seq)
        elif reason is not None:
            outcomes[item.seq] = Outcome(item.seq, "rejected", reason)
            continue
        other = best.get(item.index)
        if other is None or item.seq > other.seq:
            if other is not None:
                outcomes[other.seq] = Outcome(other.seq, "stale")
            best[item.index] = item
        elif item.seq != other.seq:
            outcomes[item.seq] = Outcome(item.seq, "stale")
    written: set[int] = set()
    if best:
        rows = [
            {
                "slot": it.index,
                "response": it.response,
                "flagged": bool(it.flagged),
                "seq": it.seq,
                "time_ms": max(0, int(it.time_ms)),
                "client_time": it.client_time.isoformat() if it.client_time else None,
                "late": it.seq in late,
            }
            for it in best.values()
        ]
        written = set(
            uow.session.execute(
                _UPSERT,
                {"tenant": uow.tenant, "attempt": sheet.attempt_id, "rows": json.dumps(rows)},
            ).scalars()
        )
    unwritten = [it for it in best.values() if it.index not in written]
    stored: dict[int, int] = {}
    if unwritten:
        found = uow.session.execute(
            select(AttemptAnswer.slot, AttemptAnswer.seq).where(
                AttemptAnswer.attempt_id == sheet.attempt_id,
                AttemptAnswer.slot.in_([it.index for it in unwritten]),
            )
        )
        stored = {slot: seq for slot, seq in found}
    for it in best.values():
        if it.index in written:
            status = "late" if it.seq in late else "saved"
        else:
            status = "duplicate" if stored.get(it.index) == it.seq else "stale"
        outcomes[it.seq] = Outcome(it.seq, status)
    return Saved([outcomes[it.seq] for it in _unique(items)])


def _unique(items: Iterable[Item]) -> list[Item]:
    seen: set[int] = set()
    out = []
    for it in items:
        if it.seq not in seen:
            seen.add(it.seq)
            out.append(it)
    return out


def _refusal(sheet: Sheet, item: Item, now: datetime) -> str | None:
    """Why ``item`` is refused, ``"late"`` for an accepted late sync, or None."""
    if not 0 <= item.index < sheet.questions:
        return f"there is no question {item.index} on this paper"
    problem = answers.check(sheet.slots[item.index], item.response)
    if problem:
        return problem
    if sheet.deadline is None or now <= sheet.deadline:
        return None
    given_in_time = item.client_time is not None and item.client_time <= sheet.deadline
    grace_end = sheet.deadline + timedelta(seconds=sheet.grace_seconds)
    if given_in_time and item.offline and now <= grace_end:
        return "late"
    if given_in_time and now <= sheet.deadline + IN_FLIGHT:
        return "late"
    return TIME_UP


@dataclass(frozen=True)
class Heard:
    """A running attempt as :func:`invigil.delivery.candidate.heard` found
    and touched it, in one statement that holds its row until the end of the
    transaction: what a save or a heartbeat needs, not the whole row."""

    id: uuid.UUID
    deadline: datetime | None
    grace_seconds: int
    last_seq: int
    events_last_seq: int
    questions: int
    slots: Mapping[int, Mapping[str, Any]]
    live_seq: int = 0
    # The address and browser it was last heard from (None: not yet).
    client: tuple[str | None, str | None] = (None, None)

    def sheet(self) -> Sheet:
        return Sheet(self.id, self.deadline, self.grace_seconds, self.questions, self.slots)


def heartbeat(
    uow: UnitOfWork, attempt: Attempt, position: int | None, now: datetime | None = None
) -> list[Any]:
    """The browser is alive: keep its position, end a silence, and decide on
    episodes still open (a condition that has now lasted long enough)."""
    now = now or datetime.now(UTC)
    if attempt.status == "submitted":
        refuse_voided(uow, attempt)
        return []
    move(attempt, position)
    proctor().heard(uow, attempt, now)
    if attempt.events_last_seq == 0:
        return []
    return proctor().evaluate(uow, attempt, now)


def heartbeat_heard(uow: UnitOfWork, heard: Heard, now: datetime) -> tuple[str, list[Any]]:
    """:func:`heartbeat` for an attempt :func:`invigil.delivery.candidate.heard`
    has already touched (and kept the position of): decide on open episodes.
    Returns the attempt's status (an action may submit it) and the actions."""
    if heard.events_last_seq == 0:
        return "in_progress", []
    attempt = uow.session.get(Attempt, (uow.tenant, heard.id), options=[defer(Attempt.paper)])
    if attempt is None:  # its row is locked by this transaction: impossible
        raise NotFound(f"attempt {heard.id} was not found")
    taken = proctor().evaluate(uow, attempt, now)
    return attempt.status, taken


def note_client(
    uow: UnitOfWork,
    attempt_id: uuid.UUID,
    known: tuple[str | None, str | None],
    heard_from: Browser,
) -> bool:
    """Keep where the attempt is heard from; a change of address or browser
    after the first is written down (the live console shows it). Whether
    it changed."""
    address, agent = heard_from.address[:64], heard_from.user_agent[:400]
    if known == (address, agent):
        return False
    uow.session.execute(
        update(Attempt)
        .where(Attempt.id == attempt_id)
        .values(client_address=address, client_agent=agent)
    )
    if known == (None, None):
        return False
    uow.add(
        AttemptClientChange(
            tenant_id=uow.tenant, attempt_id=attempt_id, address=address, user_agent=agent
        )
    )
    signals.attempt_changed(uow, attempt_id)
    return True


def answers_of(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[AttemptAnswer]:
    return uow.scalars(
        select(AttemptAnswer)
        .where(AttemptAnswer.attempt_id == attempt_id)
        .order_by(AttemptAnswer.slot)
    )


# --- submit and close ------------------------------------------------------


def submit(
    uow: UnitOfWork,
    attempt: Attempt,
    reason: str,
    now: datetime | None = None,
) -> Attempt:
    """End the attempt and store its scored result (idempotent)."""
    from invigil.delivery import records, results, submission

    if attempt.status == "submitted":
        return attempt
    if attempt.status != "in_progress":
        raise NotStarted("the exam has not started: there is nothing to submit")
    attempt.status = "submitted"
    attempt.submitted_at = now or datetime.now(UTC)
    attempt.submit_reason = reason
    attempt.paused_at = None  # ended: no clock is stopped any more
    signals.attempt_changed(uow, attempt.id)
    uow.flush()
    result = results.record_automatic(uow, attempt)
    proctor().submitted(uow, attempt)
    sheet = records.answer_sheet(uow, attempt.id)
    audit.record(
        uow,
        "attempt.submitted",
        attempt,
        {
            "reason": reason,
            "answers": sheet.count,
            "last_seq": attempt.last_seq,
            "result_id": result.id,
            "result_sha256": result.document_sha256,
            "anchor": anchor("answers", sheet.sha256, sheet.count),
        },
    )
    submission.submitted(uow, attempt, result)
    return attempt


def close_due(db: Database, now: datetime | None = None, batch: int = 200) -> int:
    """Submit every running attempt whose deadline and grace have passed."""
    now = now or datetime.now(UTC)
    closed = 0
    with db.platform_connection() as conn:
        due = conn.execute(
            text("SELECT tenant_id, attempt_id FROM platform_due_attempts(:at, :n)"),
            {"at": now, "n": batch},
        ).all()
    for tenant_id, attempt_id in due:
        with db.unit_of_work(tenant_id, Actor.system("delivery.close_due")) as uow:
            attempt = uow.scalar(select(Attempt).where(Attempt.id == attempt_id).with_for_update())
            if attempt is None or attempt.status != "in_progress" or attempt.deadline is None:
                continue
            if attempt.deadline + timedelta(seconds=attempt.grace_seconds) > now:
                continue
            submit(uow, attempt, "deadline", now=now)
            closed += 1
    if closed:
        log.info("attempts.closed_at_deadline", count=closed)
    return closed
