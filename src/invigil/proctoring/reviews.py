"""Human review of proctored attempts: reviewers decide each flag, then the
outcome; no attempt fails for integrity reasons without such a decision.

A *flag* is an action the policy took that a person must look at: ``flag``,
``provisional_fail`` or ``auto_submit``. A reviewer confirms or dismisses
each one with a reason, then records the outcome: ``cleared``,
``violation_fail`` or ``violation_invalidate``.

Decisions are rows of ``review_decisions`` (append-only) and each is an
audit entry (``review.decided``) in the same transaction. The decisions on
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
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from invigil import audit
from invigil.audit.models import AuditEvent
from invigil.audit.records import anchor
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Forbidden, Invalid, NotFound
from invigil.identity.models import User
from invigil.proctoring import policy as pol
from invigil.proctoring import records
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
    """One reviewable action, why the policy took it, and its decisions."""

    action: ProctoringAction
    explanation: str
    chain: list[ReviewDecision]  # oldest first; the last one is current

    @property
    def decision(self) -> ReviewDecision | None:
        return self.chain[-1] if self.chain else None


@dataclass(frozen=True)
class Outcome:
    chain: list[ReviewDecision]  # oldest first
    final: bool
    reviewers: tuple[uuid.UUID, ...]  # who stand behind the current outcome
    second_review: bool  # the policy needs two reviewers for a violation

    @property
    def current(self) -> ReviewDecision | None:
        return self.chain[-1] if self.chain else None

    @property
    def awaiting_second(self) -> bool:
        return self.current is not None and not self.final


@dataclass(frozen=True)
class Review:
    attempt: Attempt
    policy: pol.Policy
    flags: list[Flag]
    outcome: Outcome
    reviewers: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> email

    @property
    def undecided(self) -> list[Flag]:
        return [f for f in self.flags if f.decision is None]

    @property
    def confirmed(self) -> list[Flag]:
        return [f for f in self.flags if f.decision and f.decision.decision == "confirmed"]

    def who(self, reviewer_id: uuid.UUID) -> str:
        return self.reviewers.get(reviewer_id, "a former user")


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
    flags = [
        Flag(a, pol.explain(policy, _decision_of(a)), _chain(by_action.get(a.id, [])))
        for a in actions
    ]
    outcome = outcome_of(_chain(by_action.get(None, [])), requires_second_review(attempt))
    ids = {d.reviewer_id for d in decisions}
    emails = (
        {u.id: u.email for u in uow.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    )
    return Review(attempt, policy, flags, outcome, emails)


def _decision_of(a: ProctoringAction) -> pol.Decision:
    return pol.Decision(
        rule_id=a.rule_id,
        kind=a.kind,
        severity=a.severity,
        action=a.action,
        episode_seq=a.episode_seq,
        related=tuple(a.related),
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
    reason = (request.reason or "").strip()
    if not reason:
        raise Invalid("give a reason: it is kept with the decision and in the audit log")
    if len(reason) > MAX_REASON:
        raise Invalid(f"the reason has at most {MAX_REASON} characters")
    review = load(uow, attempt)
    if request.scope == "flag":
        return _decide_flag(uow, review, reviewer, request, reason)
    if request.scope == "outcome":
        return _decide_outcome(uow, review, reviewer, request, reason)
    raise Invalid("scope must be flag (a decision on one flag) or outcome")


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
    flag = next((f for f in review.flags if f.action.id == request.action_id), None)
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
    uow.add(row)
    uow.flush()
    payload: dict[str, object] = {
        "attempt": attempt.id,
        "scope": row.scope,
        "decision": row.decision,
        "reason": reason,
        "reviewer": reviewer,
        "policy": review.policy.name,
        "supersedes": row.supersedes,
        "supersedes_entry": _entry_of(uow, previous.id) if previous is not None else None,
    }
    if flag is not None:
        a = flag.action
        payload |= {"action": a.id, "rule": a.rule_id, "kind": a.kind, "flag_action": a.action}
    else:
        outcome = outcome_of([*review.outcome.chain, row], review.outcome.second_review)
        attempt.review_outcome = row.decision
        attempt.review_final = outcome.final
        payload |= {
            "concurs": previous is not None
            and previous.decision == row.decision
            and previous.reviewer_id != reviewer,
            "final": outcome.final,
            "reviewers": list(outcome.reviewers),
            "second_review_required": outcome.second_review and row.decision in VIOLATIONS,
        }
    payload["anchor"] = anchor("review_decision", records.decision(uow, row.id).sha256)
    audit.record(uow, "review.decided", row, payload)
    return row


def _entry_of(uow: UnitOfWork, decision_id: uuid.UUID) -> uuid.UUID | None:
    """The audit entry that recorded a decision (its subject is the decision)."""
    return uow.scalar(
        select(AuditEvent.id).where(
            AuditEvent.subject_type == "review_decision",
            AuditEvent.subject_id == str(decision_id),
            AuditEvent.action == "review.decided",
        )
    )
