"""One attempt in full, as a reviewer reads it: who and what, a timeline
(from the attempt's columns, its consent and its audited releases), each
question with the answer in words, and the latest scored result when the
viewer may see scores. Reads only."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from gettext import NullTranslations
from typing import Any

from sqlalchemy import select

from invigil import i18n
from invigil.audit.models import AuditEvent
from invigil.content.models import ExamVersion, QuestionVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempts, results, voids
from invigil.delivery.models import (
    Attempt,
    AttemptAnswer,
    AttemptRelease,
    AttemptResult,
    AttemptVoid,
    Candidate,
    Consent,
    Invitation,
)
from invigil.delivery.review import NOT_ANSWERED, Shown, shown
from invigil.i18n import N_
from invigil.identity.models import User

# Audited attempt events a reviewer needs beyond what the columns say.
# Words are marked N_ and translated into the reader's language (``Detail.locale``).
HISTORY = {
    "attempt.released": N_("Browser released"),
    "attempt.bound": N_("Bound to a new browser"),
    # The player never asks this: a browser that does was changed.
    "attempt.navigation_refused": N_("Going back refused (linear navigation)"),
    "attempt.voided": N_("Voided"),
}
SUBMITTED = {
    "candidate": N_("By the candidate"),
    "deadline": N_("Automatically, when the deadline and grace period had passed"),
    "voided": N_("By staff, voiding the attempt"),
}
ACTORS = {"candidate": N_("the candidate"), "system": N_("Invigil (automatic)")}


@dataclass(frozen=True)
class Question:
    number: int
    section: str
    type: str
    category: str
    prompt: str
    answer: AttemptAnswer | None
    shown: Shown
    scored: Mapping[str, Any] | None  # this question in the result document


@dataclass(frozen=True)
class Step:
    """One line of the timeline; ``event_id`` links its audit entry."""

    at: datetime
    what: str
    notes: tuple[str, ...] = ()
    sha256: str = ""
    event_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Void:
    """A void as the page shows it: the record, who in words, the credits given back."""

    row: AttemptVoid
    by: str
    refunded: int


@dataclass(frozen=True)
class Detail:
    attempt: Attempt
    candidate: Candidate
    invitation: Invitation
    version: ExamVersion
    consent: Consent | None
    questions: list[Question]
    result: AttemptResult | None
    result_event: AuditEvent | None
    history: list[Step]
    locale: str = i18n.DEFAULT
    void: Void | None = None

    def timeline(self) -> list[Step]:
        a = self.attempt
        t = i18n.translations(self.locale)
        created = t.gettext("Attempt %(n)s created") % {"n": a.number}
        steps = [Step(a.created_at, created), *self.history]
        if self.consent is not None:
            steps.append(_consent_step(self.consent, t))
        if a.started_at is not None:
            steps.append(Step(a.started_at, t.gettext("Clock started"), (self._allowed(t),)))
        if a.deadline is not None:
            grace_end = a.deadline + timedelta(seconds=a.grace_seconds)
            note = t.gettext(
                "Answers made offline before it are accepted until %(time)s UTC "
                "(%(seconds)s s grace)"
            ) % {"time": f"{grace_end.astimezone(UTC):%H:%M:%S}", "seconds": a.grace_seconds}
            steps.append(Step(a.deadline, t.gettext("Deadline"), (note,)))
        if a.last_seen_at is not None:
            seen = (t.gettext("The browser's latest save or heartbeat"),)
            steps.append(Step(a.last_seen_at, t.gettext("Last seen"), seen))
        if a.submitted_at is not None:
            how = SUBMITTED.get(a.submit_reason or "", a.submit_reason or "")
            notes = (t.gettext(how),) if how else ()
            steps.append(Step(a.submitted_at, t.gettext("Submitted"), notes))
        return sorted(steps, key=lambda s: s.at)  # stable: equal times keep this order

    def _allowed(self, t: NullTranslations) -> str:
        a = self.attempt
        if a.deadline is None or a.started_at is None:
            return t.gettext("No time limit")
        minutes = round((a.deadline - a.started_at).total_seconds() / 60)
        extra = self.invitation.extra_time_percent
        if extra:
            return t.ngettext(
                "%(n)s minute allowed, with %(extra)s%% extra time",
                "%(n)s minutes allowed, with %(extra)s%% extra time",
                minutes,
            ) % {"n": minutes, "extra": extra}
        return t.ngettext("%(n)s minute allowed", "%(n)s minutes allowed", minutes) % {"n": minutes}


def _consent_step(c: Consent, t: NullTranslations) -> Step:
    unknown = t.gettext("not recorded")
    return Step(
        c.created_at,
        t.gettext("Consent given") if c.decision == "given" else t.gettext("Consent declined"),
        (
            t.gettext("From address %(address)s") % {"address": c.address or unknown},
            t.gettext("Browser: %(browser)s") % {"browser": c.user_agent or unknown},
            t.gettext("Text shown in %(language)s (%(code)s)")
            % {"language": i18n.display_name(c.language), "code": c.language},
            *(() if c.captures is None else (_captured(c.captures, t),)),
        ),
        sha256=c.text_sha256,
    )


def _captured(captures: Sequence[str], t: NullTranslations) -> str:
    agreed = ", ".join(captures) or t.gettext("none beyond the answers")
    return t.gettext("Captures agreed to: %(captures)s") % {"captures": agreed}


def detail(
    uow: UnitOfWork, attempt: Attempt, *, with_result: bool, locale: str = i18n.DEFAULT
) -> Detail:
    version = attempts.version_of(uow, attempt.exam_id, attempt.exam_version)
    result = results.latest_result(uow, attempt.id) if with_result else None
    return Detail(
        attempt=attempt,
        candidate=uow.get(Candidate, attempt.candidate_id),
        invitation=uow.get(Invitation, attempt.invitation_id),
        version=version,
        consent=uow.scalar(select(Consent).where(Consent.attempt_id == attempt.id)),
        questions=_questions(uow, attempt, version, result),
        result=result,
        result_event=None if result is None else _recorded(uow, result),
        history=_history(uow, attempt, i18n.translations(locale)),
        locale=locale,
        void=void_of(uow, attempt, i18n.translations(locale)),
    )


def void_of(uow: UnitOfWork, attempt: Attempt, t: NullTranslations) -> Void | None:
    return voids_shown(uow, [attempt.id], t).get(attempt.id)


def voids_shown(
    uow: UnitOfWork, attempt_ids: Sequence[uuid.UUID], t: NullTranslations
) -> dict[uuid.UUID, Void]:
    """The voids among ``attempt_ids`` as pages show them (a few queries for a page)."""
    from invigil.ledger import service as ledger

    rows = voids.of_many(uow, attempt_ids)
    refunds = [r.refund_transfer_id for r in rows.values() if r.refund_transfer_id]
    credited = ledger.credits_moved(uow, refunds)
    return {
        aid: Void(
            r,
            who(uow, r.voided_by, t),
            credited.get(r.refund_transfer_id, 0) if r.refund_transfer_id else 0,
        )
        for aid, r in rows.items()
    }


def who(uow: UnitOfWork, actor: str, t: NullTranslations) -> str:
    """``"<kind>:<id>"`` (as records keep who acted) in words: a user's email, ..."""
    kind, _, actor_id = actor.partition(":")
    uid = _user_id(actor_id) if kind == "user" else None
    if uid is not None:
        user = uow.session.get(User, (uow.tenant, uid))
        return user.email if user is not None else t.gettext("a former user")
    if kind in ACTORS:
        return t.gettext(ACTORS[kind])
    return f"{kind} {actor_id}"


def _questions(
    uow: UnitOfWork, attempt: Attempt, version: ExamVersion, result: AttemptResult | None
) -> list[Question]:
    ids = {uuid.UUID(s["version_id"]) for s in attempt.paper}
    bodies = {
        v.id: v for v in uow.scalars(select(QuestionVersion).where(QuestionVersion.id.in_(ids)))
    }
    given = {a.slot: a for a in attempts.answers_of(uow, attempt.id)}
    scored = {q["index"]: q for q in (result.document["questions"] if result else [])}
    titles = [str(s.get("title") or "") for s in version.sections]
    out = []
    for index, slot in enumerate(attempt.paper):
        qv = bodies[uuid.UUID(slot["version_id"])]
        answer = given.get(index)
        section = slot.get("section", 0)
        out.append(
            Question(
                number=index + 1,
                section=titles[section] if 0 <= section < len(titles) else "",
                type=slot["type"],
                category=qv.category,
                prompt=str(qv.body.get("prompt", "")),
                answer=answer,
                shown=shown(slot, qv.body, answer.response) if answer else NOT_ANSWERED,
                scored=scored.get(index),
            )
        )
    return out


def _recorded(uow: UnitOfWork, result: AttemptResult) -> AuditEvent | None:
    return uow.scalar(
        select(AuditEvent).where(
            AuditEvent.subject_type == "attempt_result",
            AuditEvent.subject_id == str(result.id),
            AuditEvent.action == "result.recorded",
        )
    )


def _history(uow: UnitOfWork, attempt: Attempt, t: NullTranslations) -> list[Step]:
    events = uow.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "attempt",
            AuditEvent.subject_id == str(attempt.id),
            AuditEvent.action.in_(HISTORY),
        )
        .order_by(AuditEvent.seq)
    )
    steps = []
    for e, by in zip(events, _actors(uow, events, t), strict=True):
        notes: tuple[str, ...] = ()
        if e.action == "attempt.released":
            reason = _release_reason(uow, e.payload)
            if reason in ("", i18n.REMOVED):  # words of ours, not the staff's
                reason = t.gettext(reason or N_("none given"))
            notes = (
                t.gettext("By %(who)s") % {"who": by},
                t.gettext("Reason: %(reason)s") % {"reason": reason},
            )
        elif e.action == "attempt.voided":
            label = voids.REASON_LABELS.get(str(e.payload.get("reason")), N_("Other"))
            notes = (
                t.gettext("By %(who)s") % {"who": by},
                t.gettext("Reason: %(reason)s") % {"reason": t.gettext(label)},
            )
        elif e.action == "attempt.navigation_refused":
            asked = ", ".join(str(int(i) + 1) for i in e.payload.get("asked") or [])
            furthest = int(e.payload.get("furthest") or 0) + 1
            notes = (
                t.gettext("Asked for question %(asked)s after reaching question %(furthest)s")
                % {"asked": asked, "furthest": furthest},
            )
        steps.append(Step(e.occurred_at, t.gettext(HISTORY[e.action]), notes, event_id=e.id))
    return steps


def _user_id(actor_id: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(actor_id)
    except ValueError:
        return None


_EMPTY_SHA256 = attempts.text_sha256("")


def _release_reason(uow: UnitOfWork, payload: Mapping[str, Any]) -> str:
    """The staff's reason for a release: from its row (entries since migration
    0056 carry the row's id), or as older entries carried it."""
    release_id = payload.get("release_id")
    if release_id is None:
        return str(payload.get("reason") or "")
    try:
        row = uow.session.get(AttemptRelease, (uow.tenant, uuid.UUID(str(release_id))))
    except ValueError:
        return ""
    if row is not None and row.reason == "" and payload.get("reason_sha256") != _EMPTY_SHA256:
        return str(i18n.REMOVED)  # emptied by the retention purge (the caller translates)
    return row.reason if row is not None else ""


def _actors(uow: UnitOfWork, events: Sequence[AuditEvent], t: NullTranslations) -> list[str]:
    """Who did it, in words: a user's email, "the candidate", ..."""
    users = [_user_id(e.actor_id) if e.actor_kind == "user" else None for e in events]
    wanted = {u for u in users if u is not None}
    emails = (
        {u.id: u.email for u in uow.scalars(select(User).where(User.id.in_(wanted)))}
        if wanted
        else {}
    )
    out = []
    for e, uid in zip(events, users, strict=True):
        if uid is not None:
            out.append(emails.get(uid, t.gettext("a former user")))
        elif e.actor_kind in ACTORS:
            out.append(t.gettext(ACTORS[e.actor_kind]))
        else:
            out.append(f"{e.actor_kind} {e.actor_id}")
    return out
