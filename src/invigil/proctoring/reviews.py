"""Human review of proctored attempts: reviewers decide each flag, then the
outcome; no attempt fails for integrity reasons without such a decision.

A *flag* is an episode of actions the policy took that a person must look
at (``flag``, ``provisional_fail`` or ``auto_submit``): the firings of one
rule whose windows overlap or touch are one flag, whose count and events
grow as the rule fires again (``proctoring_actions.flag_id``, ADR 0023). A
reviewer confirms or dismisses each flag with a reason (one decision covers
the whole episode, firings after it included: the page says how many came
after),
several at once if they like (:func:`decide_many`: one reason, each flag's
decision its own row and audit entry, all or none), then records the
outcome: ``cleared``, ``violation_fail`` or ``violation_invalidate``.

Decisions are rows of ``review_decisions`` (append-only) and each is an
audit entry (``review.decided``) in the same transaction, which anchors the
row's hash but does not repeat its reason: staff's words about a person go
with that person's identity under the retention policy (ADR 0063), and the
log can forget nothing. The decisions on
one flag form a chain, and so do the outcome decisions of an attempt: each
new row names in ``supersedes`` the row that was current when it was made
(NULL for the first). A caller says which row it saw as current; if another
reviewer decided in between, the decision is refused (409) rather than
silently overriding theirs.

Finality (``attempts.review_final``): an outcome is final once recorded,
except a violation under a policy named ``high_stakes``, which needs a
second, different reviewer to record the same outcome right after the first
(a concurrence: a row with the same decision, by another reviewer, that
follows it in the chain). ``cleared`` is final with one reviewer: two
people are needed to fail someone, one to decide they did nothing wrong.
The policy's own actions never touch ``review_outcome``; only
:func:`decide` does.

Contests (ADR 0059, :mod:`invigil.proctoring.contests`): a violation is
never final while the attempt's contest window is open, nor while a
contest of the candidate's is unanswered. The outcome is recorded, but
``review_final`` stays false (the outcome says until when it is held);
:func:`finalise` makes it final once the window closed and every contest
was answered (the periodic job ``proctoring.finalise_reviews``, or the
decision that answers the last contest). A decision on a flag, or on the
outcome, answers that flag's (the outcome's) unanswered contest
(``review_decisions.answers``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import select

from invigil import audit
from invigil.audit.models import AuditEvent
from invigil.audit.records import anchor
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Forbidden, Invalid, NotFound
from invigil.identity.models import User
from invigil.proctoring import contests, outcomes, records
from invigil.proctoring import policy as pol
from invigil.proctoring.models import ProctoringAction, ReviewDecision
from invigil.proctoring.pipeline import policy_of

REVIEWABLE = ("flag", "provisional_fail", "auto_submit")
FLAG_DECISIONS = ("confirmed", "dismissed")
OUTCOMES = ("cleared", "violation_fail", "violation_invalidate")
VIOLATIONS = frozenset({"violation_fail", "violation_invalidate"})
# Policies under which a violation needs two reviewers (attempts.policy["name"]).
TWO_REVIEWER_POLICIES = frozenset({"high_stakes"})
MAX_REASON = 2000


def requires_second_review(attempt: Attempt) -> bool:
    return (attempt.policy or {}).get("name") in TWO_REVIEWER_POLICIES


@dataclass(frozen=True)
class Flag:
    """One episode of a rule's reviewable actions, why the policy took them,
    and the decisions on it. Its id is its first action's id."""

    actions: list[ProctoringAction]  # oldest first; the first one names the flag
    explanation: str
    chain: list[ReviewDecision]  # oldest first; the last one is current

    @property
    def action(self) -> ProctoringAction:
        return self.actions[0]

    @property
    def id(self) -> uuid.UUID:
        return self.actions[0].id

    @property
    def events(self) -> list[int]:
        """Every event the rule counted in this episode, in order."""
        return sorted({seq for a in self.actions for seq in a.related})

    @property
    def severity(self) -> str:
        rank = pol.SEVERITIES.index
        return max((a.severity for a in self.actions), key=rank)

    @property
    def kind(self) -> str:
        """The most serious action taken in the episode."""
        order = ("flag", "auto_submit", "provisional_fail")
        return max((a.action for a in self.actions), key=order.index)

    @property
    def grown(self) -> int:
        """How many firings came after the current decision (it covers them
        too; the page says so, for a second look)."""
        d = self.decision
        if d is None:
            return 0
        return sum(1 for a in self.actions if a.created_at > d.created_at)

    @property
    def decision(self) -> ReviewDecision | None:
        return self.chain[-1] if self.chain else None


@dataclass(frozen=True)
class Outcome:
    chain: list[ReviewDecision]  # oldest first
    final: bool
    reviewers: tuple[uuid.UUID, ...]  # who stand behind the current outcome
    second_review: bool  # the policy needs two reviewers for a violation
    # A violation held back by the contest window or an unanswered contest.
    held: bool = False
    held_until: datetime | None = None  # when the window closes (None: closed)

    @property
    def current(self) -> ReviewDecision | None:
        return self.chain[-1] if self.chain else None

    @property
    def awaiting_second(self) -> bool:
        return self.current is not None and not self.final and not self.held


@dataclass(frozen=True)
class Review:
    attempt: Attempt
    policy: pol.Policy
    flags: list[Flag]
    outcome: Outcome
    reviewers: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> name (email)

    @property
    def undecided(self) -> list[Flag]:
        return [f for f in self.flags if f.decision is None]

    @property
    def confirmed(self) -> list[Flag]:
        return [f for f in self.flags if f.decision and f.decision.decision == "confirmed"]

    def who(self, reviewer_id: uuid.UUID) -> str:
        return self.reviewers.get(reviewer_id, "a former user")

    def flag(self, flag_id: uuid.UUID | None) -> Flag | None:
        return next((f for f in self.flags if f.id == flag_id), None)


def require_attempt(uow: UnitOfWork, attempt_id: uuid.UUID, *, lock: bool = False) -> Attempt:
    stmt = select(Attempt).where(Attempt.id == attempt_id)
    found = uow.scalar(stmt.with_for_update() if lock else stmt)
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found


def _chain(rows: Sequence[ReviewDecision]) -> list[ReviewDecision]:
    """Rows linked by ``supersedes``, from the first to the current one.
    (Rows made in one transaction share ``created_at``: follow the links.)"""
    following = {r.supersedes: r for r in rows}
    out: list[ReviewDecision] = []
    row = following.get(None)
    while row is not None and len(out) < len(rows):
        out.append(row)
        row = following.get(row.id)
    return out


def outcome_of(chain: list[ReviewDecision], second_review: bool) -> Outcome:
    """Who stands behind the current outcome (the run of rows with its
    decision at the end of the chain) and whether that makes it final."""
    if not chain:
        return Outcome(chain, False, (), second_review)
    current = chain[-1]
    behind: list[uuid.UUID] = []
    for row in reversed(chain):
        if row.decision != current.decision:
            break
        if row.reviewer_id not in behind:
            behind.append(row.reviewer_id)
    needed = 2 if second_review and current.decision in VIOLATIONS else 1
    return Outcome(chain, len(behind) >= needed, tuple(reversed(behind)), second_review)


def load(uow: UnitOfWork, attempt: Attempt) -> Review:
    """An attempt's flags with their explanations and decisions, and its outcome."""
    policy = policy_of(attempt)
    actions = uow.scalars(
        select(ProctoringAction)
        .where(ProctoringAction.attempt_id == attempt.id, ProctoringAction.action.in_(REVIEWABLE))
        .order_by(ProctoringAction.created_at, ProctoringAction.episode_seq, ProctoringAction.id)
    )
    decisions = uow.scalars(
        select(ReviewDecision)
        .where(ReviewDecision.attempt_id == attempt.id)
        .order_by(ReviewDecision.created_at, ReviewDecision.id)
    )
    by_action: dict[uuid.UUID | None, list[ReviewDecision]] = {}
    for d in decisions:
        by_action.setdefault(d.action_id if d.scope == "flag" else None, []).append(d)
    episodes: dict[uuid.UUID, list[ProctoringAction]] = {}
    for a in actions:
        episodes.setdefault(a.flag_key, []).append(a)
    flags = []
    for key, members in episodes.items():
        members.sort(key=lambda a: (a.id != key, a.created_at, a.episode_seq))
        why = pol.explain(policy, _decision_of(members[0], members))
        flags.append(Flag(members, why, _chain(by_action.get(key, []))))
    outcome = outcome_of(_chain(by_action.get(None, [])), requires_second_review(attempt))
    current = outcome.current
    if outcome.final and not attempt.review_final and current and current.decision in VIOLATIONS:
        ends = contests.window_ends(uow, attempt)  # held back by the contest window
        until = ends if ends is not None and ends > datetime.now(UTC) else None
        outcome = replace(outcome, final=False, held=True, held_until=until)
    ids = {d.reviewer_id for d in decisions}
    names = people(uow, ids)
    return Review(attempt, policy, flags, outcome, names)


def people(uow: UnitOfWork, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """How to name staff to a person: "Ada Lovelace (ada@acme.test)", or the
    email alone when they gave no name."""
    if not ids:
        return {}
    rows = uow.session.execute(
        select(User.id, User.display_name, User.email).where(User.id.in_(ids))
    ).all()
    return {i: f"{name} ({email})" if name.strip() else email for i, name, email in rows}


def _decision_of(a: ProctoringAction, members: Sequence[ProctoringAction] = ()) -> pol.Decision:
    """The decision an action records (over a whole flag: its events)."""
    related = sorted({s for m in members for s in m.related}) if members else a.related
    return pol.Decision(
        rule_id=a.rule_id,
        kind=a.kind,
        severity=a.severity,
        action=a.action,
        episode_seq=a.episode_seq,
        related=tuple(related),
        message=a.message,
    )


# --- deciding ---------------------------------------------------------------


@dataclass(frozen=True)
class Decide:
    """A decision as a reviewer submits it. ``supersedes`` is the decision the
    reviewer saw as current (None when there was none)."""

    scope: str | None
    decision: str | None
    reason: str | None
    action_id: uuid.UUID | None = None
    supersedes: uuid.UUID | None = None


def decide(uow: UnitOfWork, attempt_id: uuid.UUID, request: Decide) -> ReviewDecision:
    """Record one decision, audited, and update the attempt's outcome."""
    attempt = require_attempt(uow, attempt_id, lock=True)  # one decider at a time per attempt
    if uow.actor.kind != "user":
        raise Forbidden("only a signed-in reviewer can record a review decision")
    reviewer = uuid.UUID(uow.actor.id)
    reason = _reason(request.reason)
    review = load(uow, attempt)
    if request.scope == "flag":
        return _decide_flag(uow, review, reviewer, request, reason)
    if request.scope == "outcome":
        return _decide_outcome(uow, review, reviewer, request, reason)
    raise Invalid("scope must be flag (a decision on one flag) or outcome")


MAX_BULK = 200


@dataclass(frozen=True)
class Seen:
    """One flag of a bulk decision, with the decision the reviewer saw as
    current on it (None when undecided)."""

    flag_id: uuid.UUID
    supersedes: uuid.UUID | None = None


def decide_many(
    uow: UnitOfWork,
    attempt_id: uuid.UUID,
    flags: Sequence[Seen],
    decision: str | None,
    reason: str | None,
) -> list[ReviewDecision]:
    """Confirm or dismiss several flags of one attempt with one reason: each
    flag's decision is recorded and audited exactly as :func:`decide` would
    one by one, in one transaction. Everything is checked first, so a bad
    flag id, a stale ``supersedes`` or a rule of the outcome refuses the
    whole request and nothing is recorded."""
    attempt = require_attempt(uow, attempt_id, lock=True)
    if uow.actor.kind != "user":
        raise Forbidden("only a signed-in reviewer can record a review decision")
    if not flags:
        raise Invalid("choose at least one flag to decide", field="flags")
    if len(flags) > MAX_BULK:
        raise Invalid(f"decide at most {MAX_BULK} flags at a time", field="flags")
    ids = [f.flag_id for f in flags]
    if len(set(ids)) != len(ids):
        raise Invalid("each flag may be named once", field="flags")
    if decision not in FLAG_DECISIONS:
        raise Invalid("a flag is confirmed or dismissed", field="decision")
    reason = _reason(reason)
    review = load(uow, attempt)
    unknown = [str(i) for i in ids if review.flag(i) is None]
    if unknown:
        raise Invalid(
            f"not a flag of this attempt: {', '.join(unknown[:5])}"
            f"{' …' if len(unknown) > 5 else ''}. Reload the review and choose again",
            field="flags",
        )
    chosen = [(review.flag(f.flag_id), f) for f in flags]
    for flag, seen in chosen:
        assert flag is not None
        _check_current(flag.decision, seen.supersedes, f"the flag {flag.action.message!r}")
    current = review.outcome.current
    if decision == "dismissed" and current is not None and current.decision in VIOLATIONS:
        left = {f.id for f in review.confirmed} - set(ids)
        if review.confirmed and not left:
            raise Conflict(
                "the recorded outcome is a violation resting on these flags: record another "
                "outcome first, then dismiss them"
            )
    reviewer = uuid.UUID(uow.actor.id)
    rows = []
    for flag, _ in chosen:
        assert flag is not None
        request = Decide(
            "flag", decision, reason, flag.id, flag.decision.id if flag.decision else None
        )
        rows.append(_record(uow, review, reviewer, request, reason, flag, bulk=len(chosen)))
    return rows


def _reason(text: str | None) -> str:
    reason = (text or "").strip()
    if not reason:
        raise Invalid(
            "give a reason: it is kept with the decision and in the audit log", field="reason"
        )
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason has at most {MAX_REASON} characters", field="reason")
    return reason


def _check_current(current: ReviewDecision | None, seen: uuid.UUID | None, what: str) -> None:
    if (current.id if current else None) != seen:
        if current is None:
            raise Conflict(f"{what} has no decision yet: send supersedes as null")
        raise Conflict(
            f"{what} was decided meanwhile (decision {current.id}, {current.decision}): "
            "reload, read it, and send its id as supersedes to change it",
            current=str(current.id),
        )


def _decide_flag(
    uow: UnitOfWork, review: Review, reviewer: uuid.UUID, request: Decide, reason: str
) -> ReviewDecision:
    flag = review.flag(request.action_id)
    if flag is None:
        raise Invalid(
            "action_id must name a flag of this attempt (an action flag, provisional_fail "
            "or auto_submit of GET /api/v1/reviews/{attempt_id})"
        )
    if request.decision not in FLAG_DECISIONS:
        raise Invalid("a flag is confirmed or dismissed")
    _check_current(flag.decision, request.supersedes, "this flag")
    current = review.outcome.current
    if (
        request.decision == "dismissed"
        and current is not None
        and current.decision in VIOLATIONS
        and [f.action.id for f in review.confirmed] == [flag.action.id]
    ):
        raise Conflict(
            "the recorded outcome is a violation resting on this flag alone: record "
            "another outcome first, then dismiss it"
        )
    return _record(uow, review, reviewer, request, reason, flag)


def _decide_outcome(
    uow: UnitOfWork, review: Review, reviewer: uuid.UUID, request: Decide, reason: str
) -> ReviewDecision:
    attempt = review.attempt
    if request.decision not in OUTCOMES:
        raise Invalid("the outcome is cleared, violation_fail or violation_invalidate")
    if request.action_id is not None:
        raise Invalid("an outcome is about the whole attempt: leave action_id out")
    if attempt.status != "submitted":
        raise Conflict("the attempt is still running: decide its outcome once it is submitted")
    if not review.flags:
        raise Conflict("this attempt has no flag to review")
    if review.undecided:
        n = len(review.undecided)
        raise Conflict(f"confirm or dismiss every flag first ({n} undecided)")
    if request.decision in VIOLATIONS and not review.confirmed:
        raise Invalid("a violation needs at least one confirmed flag; every flag is dismissed")
    _check_current(review.outcome.current, request.supersedes, "the outcome")
    return _record(uow, review, reviewer, request, reason, None)


def _record(
    uow: UnitOfWork,
    review: Review,
    reviewer: uuid.UUID,
    request: Decide,
    reason: str,
    flag: Flag | None,
    *,
    bulk: int = 0,
) -> ReviewDecision:
    attempt = review.attempt
    previous = flag.decision if flag is not None else review.outcome.current
    row = ReviewDecision(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        reviewer_id=reviewer,
        scope="flag" if flag is not None else "outcome",
        action_id=flag.action.id if flag is not None else None,
        decision=request.decision,
        reason=reason,
        supersedes=previous.id if previous is not None else None,
    )
    contest = contests.unanswered(uow, attempt.id, flag.action.id if flag is not None else None)
    row.answers = contest.id if contest is not None else None
    uow.add(row)
    uow.flush()
    payload: dict[str, object] = {
        "attempt": attempt.id,
        "scope": row.scope,
        "decision": row.decision,
        "reviewer": reviewer,
        "policy": review.policy.name,
        "supersedes": row.supersedes,
        "supersedes_entry": _entry_of(uow, previous.id) if previous is not None else None,
    }
    if row.answers is not None:
        payload["answers"] = row.answers  # the candidate's contest this decision answers
    if flag is not None:
        a = flag.action
        payload |= {
            "action": a.id,
            "rule": a.rule_id,
            "kind": a.kind,
            "flag_action": flag.kind,
            "actions": [m.id for m in flag.actions],  # the firings this decision covers
            "events": flag.events,
        }
        if bulk:
            payload["bulk"] = bulk  # decided with this many flags, one reason
    else:
        outcome = outcome_of([*review.outcome.chain, row], review.outcome.second_review)
        held = outcome.final and contests.held(uow, attempt, row.decision)
        attempt.review_outcome = row.decision
        attempt.review_final = outcome.final and not held
        payload |= {
            "concurs": previous is not None
            and previous.decision == row.decision
            and previous.reviewer_id != reviewer,
            "final": attempt.review_final,
            "held": held,
            "reviewers": list(outcome.reviewers),
            "second_review_required": outcome.second_review and row.decision in VIOLATIONS,
        }
    payload["anchor"] = anchor("review_decision", records.decision(uow, row.id).sha256)
    audit.record(uow, "review.decided", row, payload)
    if flag is None:
        outcomes.decided(uow, attempt)  # e.g. release a result waiting for the review
    elif row.answers is not None:
        finalise(uow, attempt)  # answering the last contest may end a hold
    return row


def finalise(uow: UnitOfWork, attempt: Attempt, now: datetime | None = None) -> bool:
    """Make a held violation final once the contest window closed and every
    contest was answered (audited ``review.finalised``); False when it is
    not held or still must wait."""
    if attempt.review_final or attempt.review_outcome not in VIOLATIONS:
        return False
    review = load(uow, attempt)
    current = review.outcome.current
    if current is None or not review.outcome.held:
        return False
    if contests.held(uow, attempt, current.decision, now):
        return False
    attempt.review_final = True
    uow.flush()
    audit.record(
        uow,
        "review.finalised",
        attempt,
        {
            "decision": current.id,
            "outcome": current.decision,
            "window_ended_at": contests.window_ends(uow, attempt),
            "contests": [c.id for c in contests.of_attempt(uow, attempt.id)],
        },
    )
    outcomes.decided(uow, attempt)
    return True


def held_attempts(uow: UnitOfWork) -> list[uuid.UUID]:
    """Attempts whose violation outcome is recorded but not final (held or awaiting a second)."""
    return list(
        uow.scalars(
            select(Attempt.id).where(
                Attempt.review_outcome.in_(VIOLATIONS), Attempt.review_final.is_(False)
            )
        )
    )


def _entry_of(uow: UnitOfWork, decision_id: uuid.UUID) -> uuid.UUID | None:
    """The audit entry that recorded a decision (its subject is the decision)."""
    return uow.scalar(
        select(AuditEvent.id).where(
            AuditEvent.subject_type == "review_decision",
            AuditEvent.subject_id == str(decision_id),
            AuditEvent.action == "review.decided",
        )
    )
