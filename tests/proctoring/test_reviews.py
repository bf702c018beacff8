"""Human review: decisions on flags and on the outcome (append-only, audited,
chained), the second reviewer of high_stakes, the rule that no attempt fails
for integrity reasons without a recorded human decision, the queue, and the
integrity summary."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import Conflict, Forbidden, Invalid
from invigil.evidence import service as evidence_service
from invigil.identity.models import User
from invigil.proctoring import pipeline, review_queue, reviews, summary
from invigil.proctoring.models import ProctoringAction, ReviewDecision, Snapshot
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begun
from tests.evidence.factories import jpeg
from tests.proctoring.test_pipeline import Chain, custom, rule, send

POLICY = custom(
    rule("tab-flag", "tab.hidden", "flag", severity="medium"),
    rule("copy-warn", "clipboard.copy", "warn", severity="low"),
    rule("copy-fail", "clipboard.copy", "provisional_fail", severity="critical"),
    rule("devtools-end", "devtools.open", "auto_submit", severity="critical"),
)
HIGH_STAKES = POLICY | {"name": "high_stakes"}


@dataclass
class Sat:
    """One candidate's attempt, seen from the test."""

    tenant_id: uuid.UUID
    exam_id: uuid.UUID
    attempt_id: uuid.UUID
    client: TestClient
    token: str
    chain: Chain

    def send(self, *events: dict[str, Any]) -> dict[str, Any]:
        return send(self.client, self.token, *events)

    def submit(self) -> None:
        r = self.client.post(f"/take/{self.token}/api/submit", json={})
        assert r.status_code == 200, r.text


def new_exam(db: BoundDatabase, tenant_id: uuid.UUID, policy: dict[str, Any]) -> uuid.UUID:
    return exam_with_every_type(db, tenant_id, settings={"proctoring_policy": policy})


def sit(
    app: FastAPI, db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID, exam_id: uuid.UUID
) -> Sat:
    made = make_invitation(db, tenant_id, kit_for(settings), exam_id)
    token = token_of(made)
    client, state = begun(app, token)
    return Sat(
        tenant_id,
        exam_id,
        uuid.UUID(state["attempt_id"]),
        client,
        token,
        Chain(state["attempt_id"]),
    )


def misbehave(s: Sat, at: datetime | None = None) -> None:
    """A tab left for 5 s (flag) and a copy (warn + provisional fail)."""
    t = at or datetime.now(UTC)
    start = s.chain.message("tab.hidden", "start", t)
    end = s.chain.message("tab.hidden", "end", t + timedelta(seconds=5), ends=start["seq"])
    s.send(start, end, s.chain.message("clipboard.copy", "instant", t + timedelta(seconds=10)))


def no_contest_window(db: Database, tenant_id: uuid.UUID) -> None:
    """A retention policy with no contest window: a violation is final when
    recorded, as these tests of the reviewers' rules expect (the window that
    holds it back is tested in tests/retention/test_portal.py)."""
    from invigil.retention import policy as retention

    with db.unit_of_work(tenant_id, Actor.operator("test")) as uow:
        document = retention.DEFAULT.as_json() | {"contest_window_days": 0}
        retention.set_policy(uow, document, reason="no contest window in these tests")


def flagged(
    app: FastAPI,
    db: BoundDatabase,
    settings: Settings,
    policy: dict[str, Any] = POLICY,
    *,
    submit: bool = True,
) -> Sat:
    tenant = make_tenant(db, settings)
    no_contest_window(db, tenant.id)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, policy))
    misbehave(s)
    if submit:
        s.submit()
    return s


def as_user(db: BoundDatabase, tenant_id: uuid.UUID, user: User) -> Any:
    return db.unit_of_work(tenant_id, Actor("user", str(user.id)))


def flags_of(db: BoundDatabase, s: Sat) -> list[ProctoringAction]:
    with db.unit_of_work(s.tenant_id) as uow:
        return uow.scalars(
            select(ProctoringAction)
            .where(ProctoringAction.action.in_(reviews.REVIEWABLE))
            .order_by(ProctoringAction.rule_id)
        )


def decide(
    db: BoundDatabase, s: Sat, user: User, scope: str, decision: str, **more: Any
) -> ReviewDecision:
    with as_user(db, s.tenant_id, user) as uow:
        return reviews.decide(
            uow,
            s.attempt_id,
            reviews.Decide(
                scope=scope, decision=decision, reason=more.pop("reason", "seen"), **more
            ),
        )


def decide_all_flags(db: BoundDatabase, s: Sat, user: User, decision: str = "confirmed") -> None:
    for f in flags_of(db, s):
        decide(db, s, user, "flag", decision, action_id=f.id)


def attempt_of(db: BoundDatabase, s: Sat) -> Attempt:
    with db.unit_of_work(s.tenant_id) as uow:
        return uow.get(Attempt, s.attempt_id)


def entries(db: BoundDatabase, tenant_id: uuid.UUID, action: str) -> list[AuditEvent]:
    with db.unit_of_work(tenant_id) as uow:
        return uow.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )


def assert_only_humans_decided(uow: UnitOfWork) -> None:
    """Every attempt with an outcome has a current outcome decision by a
    user, saying the same, recorded in the audit log."""
    for attempt in uow.scalars(select(Attempt).where(Attempt.review_outcome.is_not(None))):
        review = reviews.load(uow, attempt)
        current = review.outcome.current
        assert current is not None and current.decision == attempt.review_outcome
        assert review.outcome.final == attempt.review_final
        entry = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "review.decided", AuditEvent.subject_id == str(current.id)
            )
        )
        assert entry is not None and entry.actor_kind == "user"
        assert entry.actor_id == str(current.reviewer_id)


# --- the human-decision rule --------------------------------------------------


def test_a_provisional_fail_stays_provisional_until_a_reviewer_decides(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, submit=False)
    t = datetime.now(UTC) + timedelta(seconds=20)
    answer = s.send(s.chain.message("devtools.open", "start", t, techniques=["shortcut"]))
    assert answer["status"] == "submitted"  # auto_submit ended it
    with db.unit_of_work(s.tenant_id) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt.integrity == "provisional_fail" and attempt.submit_reason == "proctoring"
        assert attempt.review_outcome is None and attempt.review_final is False
        # The policy deciding again, later, changes nothing either.
        assert pipeline.evaluate(uow, attempt, t + timedelta(hours=1)) == []
        assert attempt.review_outcome is None and attempt.review_final is False
        assert uow.scalars(select(ReviewDecision)) == []
        taken = {a.action for a in uow.scalars(select(ProctoringAction))}
        assert {"provisional_fail", "auto_submit", "flag", "warn"} <= taken
        rows, _ = review_queue.queue(uow, exam_id=None, limit=10, cursor=None)
        assert [(r.attempt.id, r.severity, r.undecided) for r in rows] == [
            (s.attempt_id, "critical", 3)
        ]
    with db.unit_of_work(s.tenant_id) as uow, pytest.raises(Forbidden):  # a job is no reviewer
        reviews.decide(uow, s.attempt_id, reviews.Decide("outcome", "violation_fail", "automatic"))

    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    decide_all_flags(db, s, reviewer)
    assert attempt_of(db, s).review_outcome is None  # flags decided, outcome not yet
    decide(db, s, reviewer, "outcome", "violation_fail", reason="copied the paper")
    attempt = attempt_of(db, s)
    assert attempt.review_outcome == "violation_fail" and attempt.review_final is True
    with db.unit_of_work(s.tenant_id) as uow:
        assert_only_humans_decided(uow)


def test_only_decide_sets_the_outcome_whatever_the_policy_does(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """Every kind mapped to provisional_fail or auto_submit: still no outcome."""
    kinds = ["tab.hidden", "focus.lost", "clipboard.copy", "clipboard.paste", "context_menu"]
    harsh = custom(
        *[
            rule(f"fail-{i}", k, "provisional_fail", severity="critical")
            for i, k in enumerate(kinds)
        ],
        rule("end", "devtools.open", "auto_submit", severity="critical"),
    )
    s = flagged(app, db, settings, harsh, submit=False)
    t = datetime.now(UTC)
    s.send(
        s.chain.message("focus.lost", "start", t),
        s.chain.message("clipboard.paste", "instant", t),
        s.chain.message("context_menu", "instant", t),
        s.chain.message("devtools.open", "start", t),
    )
    with db.unit_of_work(s.tenant_id) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt.status == "submitted" and attempt.integrity == "provisional_fail"
        assert (attempt.review_outcome, attempt.review_final) == (None, False)
        fails = uow.scalars(
            select(ProctoringAction).where(ProctoringAction.action == "provisional_fail")
        )
        assert len(fails) == 5
        assert_only_humans_decided(uow)


# --- decisions ------------------------------------------------------------------


def test_a_changed_decision_is_a_new_row_naming_the_old_one_each_audited(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings)
    alice = make_user(db, s.tenant_id, ["proctor_reviewer"])
    bob = make_user(db, s.tenant_id, ["tenant_admin"])
    tab = next(f for f in flags_of(db, s) if f.rule_id == "tab-flag")
    first = decide(db, s, alice, "flag", "confirmed", action_id=tab.id, reason="left the tab")
    with pytest.raises(Conflict, match="decided meanwhile"):  # Bob did not see Alice's
        decide(db, s, bob, "flag", "dismissed", action_id=tab.id)
    second = decide(
        db,
        s,
        bob,
        "flag",
        "dismissed",
        action_id=tab.id,
        supersedes=first.id,
        reason="system popup",
    )
    assert second.supersedes == first.id and second.reviewer_id == bob.id
    with pytest.raises(Conflict):  # changing the first again: it is no longer current
        decide(db, s, alice, "flag", "confirmed", action_id=tab.id, supersedes=first.id)

    recorded = entries(db, s.tenant_id, "review.decided")
    assert [e.subject_id for e in recorded] == [str(first.id), str(second.id)]
    assert recorded[0].actor_id == str(alice.id) and recorded[1].actor_id == str(bob.id)
    assert recorded[0].payload["supersedes"] is None
    assert recorded[1].payload["supersedes"] == str(first.id)
    assert recorded[1].payload["supersedes_entry"] == str(recorded[0].id)
    assert (
        recorded[1].payload["rule"] == "tab-flag"
        and "reason" not in recorded[1].payload  # staff's words: in the row, not the log
    )
    assert recorded[1].payload["attempt"] == str(s.attempt_id)

    with db.unit_of_work(s.tenant_id) as uow:
        review = reviews.load(uow, uow.get(Attempt, s.attempt_id))
        flag = next(f for f in review.flags if f.action.id == tab.id)
        assert [d.id for d in flag.chain] == [first.id, second.id]
        assert flag.decision is not None and flag.decision.decision == "dismissed"
        assert "tab-flag" in flag.explanation and "the exam tab was hidden" in flag.explanation
    for stmt in ("UPDATE review_decisions SET reason = 'x'", "DELETE FROM review_decisions"):
        with pytest.raises(DBAPIError), db.unit_of_work(s.tenant_id) as uow:
            uow.session.execute(text(stmt))


def test_what_a_decision_must_say(app: FastAPI, db: BoundDatabase, settings: Settings) -> None:
    s = flagged(app, db, settings, submit=False)
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    tab, fail = (
        next(f for f in flags_of(db, s) if f.rule_id == r) for r in ("tab-flag", "copy-fail")
    )
    with db.unit_of_work(s.tenant_id) as uow:
        warn = uow.scalar(select(ProctoringAction).where(ProctoringAction.action == "warn"))
        assert warn is not None
    refused = [
        (dict(scope="flag", decision="confirmed", action_id=tab.id, reason="  "), "reason"),
        (dict(scope="flag", decision="cleared", action_id=tab.id), "confirmed or dismissed"),
        (dict(scope="flag", decision="confirmed", action_id=warn.id), "flag of this attempt"),
        (dict(scope="flag", decision="confirmed", action_id=uuid.uuid4()), "flag of this attempt"),
        (dict(scope="nothing", decision="confirmed"), "scope"),
        (dict(scope="outcome", decision="confirmed"), "cleared, violation_fail"),
    ]
    for fields, said in refused:
        with pytest.raises(Invalid, match=said), as_user(db, s.tenant_id, reviewer) as uow:
            reviews.decide(uow, s.attempt_id, reviews.Decide(**{"reason": "x", **fields}))
    with pytest.raises(Conflict, match="still running"):
        decide(db, s, reviewer, "outcome", "cleared")
    s.submit()
    with pytest.raises(Conflict, match="2 undecided"):
        decide(db, s, reviewer, "outcome", "cleared")
    decide(db, s, reviewer, "flag", "dismissed", action_id=tab.id)
    decide(db, s, reviewer, "flag", "dismissed", action_id=fail.id)
    with pytest.raises(Invalid, match="at least one confirmed flag"):
        decide(db, s, reviewer, "outcome", "violation_invalidate")
    decide(db, s, reviewer, "outcome", "cleared", reason="false alarms")
    attempt = attempt_of(db, s)
    assert (attempt.review_outcome, attempt.review_final) == ("cleared", True)


def test_the_last_confirmed_flag_of_a_violation_cannot_be_dismissed_under_it(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings)
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    tab, fail = (
        next(f for f in flags_of(db, s) if f.rule_id == r) for r in ("tab-flag", "copy-fail")
    )
    confirmed = decide(db, s, reviewer, "flag", "confirmed", action_id=fail.id)
    decide(db, s, reviewer, "flag", "dismissed", action_id=tab.id)
    outcome = decide(db, s, reviewer, "outcome", "violation_invalidate")
    with pytest.raises(Conflict, match="record another outcome first"):
        decide(db, s, reviewer, "flag", "dismissed", action_id=fail.id, supersedes=confirmed.id)
    decide(db, s, reviewer, "outcome", "cleared", supersedes=outcome.id, reason="on reflection")
    decide(db, s, reviewer, "flag", "dismissed", action_id=fail.id, supersedes=confirmed.id)
    assert attempt_of(db, s).review_outcome == "cleared"


def test_high_stakes_needs_a_second_different_reviewer_to_fail(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, HIGH_STAKES)
    alice = make_user(db, s.tenant_id, ["proctor_reviewer"])
    bob = make_user(db, s.tenant_id, ["proctor_reviewer"])
    decide_all_flags(db, s, alice)
    first = decide(db, s, alice, "outcome", "violation_fail", reason="copied")
    attempt = attempt_of(db, s)
    assert (attempt.review_outcome, attempt.review_final) == ("violation_fail", False)
    again = decide(db, s, alice, "outcome", "violation_fail", supersedes=first.id, reason="sure")
    assert attempt_of(db, s).review_final is False  # the same reviewer twice is one reviewer
    with db.unit_of_work(s.tenant_id) as uow:
        assert review_queue.queue(uow, exam_id=None, limit=5, cursor=None)[0][0].awaiting_second
        review = reviews.load(uow, uow.get(Attempt, s.attempt_id))
        assert review.outcome.awaiting_second and review.outcome.reviewers == (alice.id,)

    concur = decide(db, s, bob, "outcome", "violation_fail", supersedes=again.id, reason="agree")
    attempt = attempt_of(db, s)
    assert (attempt.review_outcome, attempt.review_final) == ("violation_fail", True)
    last = entries(db, s.tenant_id, "review.decided")[-1]
    assert last.subject_id == str(concur.id)
    assert last.payload["concurs"] is True and last.payload["final"] is True
    assert last.payload["reviewers"] == [str(alice.id), str(bob.id)]
    assert last.payload["second_review_required"] is True
    with db.unit_of_work(s.tenant_id) as uow:
        assert review_queue.queue(uow, exam_id=None, limit=5, cursor=None)[0] == []
        assert_only_humans_decided(uow)


def test_high_stakes_a_disagreement_starts_over_and_cleared_is_final_alone(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, HIGH_STAKES)
    alice, bob, carol = (make_user(db, s.tenant_id, ["proctor_reviewer"]) for _ in range(3))
    decide_all_flags(db, s, alice)
    fail = decide(db, s, alice, "outcome", "violation_fail")
    other = decide(db, s, bob, "outcome", "violation_invalidate", supersedes=fail.id)
    assert attempt_of(db, s).review_final is False  # a different outcome: no concurrence
    agreed = decide(db, s, alice, "outcome", "violation_invalidate", supersedes=other.id)
    assert attempt_of(db, s).review_final is True  # Alice now concurs with Bob
    decide(db, s, carol, "outcome", "cleared", supersedes=agreed.id, reason="allowed aid")
    attempt = attempt_of(db, s)
    assert (attempt.review_outcome, attempt.review_final) == ("cleared", True)


def test_one_reviewer_is_enough_outside_high_stakes(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, POLICY | {"name": "strict"})
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    decide_all_flags(db, s, reviewer)
    decide(db, s, reviewer, "outcome", "violation_fail")
    assert attempt_of(db, s).review_final is True


# --- the queue ------------------------------------------------------------------


def _action(
    uow: UnitOfWork, attempt_id: uuid.UUID, severity: str, action: str, at: datetime
) -> ProctoringAction:
    row = ProctoringAction(
        tenant_id=uow.tenant,
        attempt_id=attempt_id,
        rule_id=f"r-{uuid.uuid4().hex[:6]}",
        kind="tab.hidden",
        severity=severity,
        action=action,
        episode_seq=1,
        related=[1],
        message="m",
        created_at=at,
    )
    uow.add(row)
    attempt = uow.get(Attempt, attempt_id)
    if action == "flag" and attempt.integrity == "clear":
        attempt.integrity = "flagged"
    if action == "provisional_fail":
        attempt.integrity = "provisional_fail"
    return row


def test_the_queue_puts_the_most_severe_first_then_the_longest_waiting(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam, other_exam = new_exam(db, tenant.id, POLICY), new_exam(db, tenant.id, POLICY)
    a, b, c, d, e, clean = (
        sit(app, db, settings, tenant.id, x) for x in (exam, exam, exam, other_exam, exam, exam)
    )
    t = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    with db.unit_of_work(tenant.id) as uow:
        _action(uow, a.attempt_id, "medium", "flag", t)
        _action(uow, b.attempt_id, "critical", "provisional_fail", t + timedelta(hours=2))
        _action(uow, b.attempt_id, "medium", "flag", t + timedelta(hours=3))
        _action(uow, c.attempt_id, "medium", "flag", t + timedelta(hours=1))
        _action(uow, d.attempt_id, "high", "flag", t + timedelta(hours=5))
        _action(uow, e.attempt_id, "high", "auto_submit", t + timedelta(hours=4))  # stays clear
        _action(uow, clean.attempt_id, "low", "warn", t)
        object_id = evidence_service.store(
            uow,
            app.state.services.evidence,
            subject_type="attempt",
            subject_id=str(c.attempt_id),
            kind_name="snapshot",
            data=[jpeg(2000)],
        ).id
        uow.add(
            Snapshot(
                tenant_id=tenant.id,
                attempt_id=c.attempt_id,
                object_id=object_id,
                taken_at=t,
                reason="periodic",
                client_faces=1,
                server_faces=2,
                server_status="mismatch",
            )
        )
        uow.flush()
        everything, _ = review_queue.queue(uow, exam_id=None, limit=50, cursor=None)
        assert [r.attempt.id for r in everything] == [
            b.attempt_id,  # critical
            e.attempt_id,  # high, 4 h
            d.attempt_id,  # high, 5 h
            a.attempt_id,  # medium, oldest
            c.attempt_id,
        ]
        first = everything[0]
        assert first.by_severity == {"critical": 1, "medium": 1} and first.flags == 2
        assert (
            first.since == t + timedelta(hours=2) and first.attempt.integrity == "provisional_fail"
        )
        assert everything[-1].mismatches == 1 and everything[1].attempt.integrity == "clear"

        only, _ = review_queue.queue(uow, exam_id=other_exam, limit=50, cursor=None)
        assert [r.attempt.id for r in only] == [d.attempt_id]
        page1, cursor = review_queue.queue(uow, exam_id=None, limit=2, cursor=None)
        page2, cursor2 = review_queue.queue(uow, exam_id=None, limit=2, cursor=cursor)
        page3, cursor3 = review_queue.queue(uow, exam_id=None, limit=2, cursor=cursor2)
        assert [r.attempt.id for r in page1 + page2 + page3] == [r.attempt.id for r in everything]
        assert cursor3 is None
        with pytest.raises(Invalid):
            review_queue.queue(uow, exam_id=None, limit=2, cursor="bm90LWEtbGlzdA")


def test_a_flag_raised_after_a_final_outcome_brings_the_attempt_back(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings)
    reviewer = make_user(db, s.tenant_id, ["proctor_reviewer"])
    decide_all_flags(db, s, reviewer, "dismissed")
    decide(db, s, reviewer, "outcome", "cleared")
    with db.unit_of_work(s.tenant_id) as uow:
        assert review_queue.queue(uow, exam_id=None, limit=5, cursor=None)[0] == []
        late = _action(uow, s.attempt_id, "high", "flag", datetime.now(UTC))  # e.g. a re-check
        uow.flush()
        rows, _ = review_queue.queue(uow, exam_id=None, limit=5, cursor=None)
        assert [(r.attempt.id, r.undecided) for r in rows] == [(s.attempt_id, 1)]
    decide(db, s, reviewer, "flag", "confirmed", action_id=late.id)
    with db.unit_of_work(s.tenant_id) as uow:
        assert review_queue.queue(uow, exam_id=None, limit=5, cursor=None)[0] == []


# --- the integrity summary ------------------------------------------------------


def test_the_integrity_summary_measures_focus_faces_and_the_recheck(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    s = sit(app, db, settings, tenant.id, new_exam(db, tenant.id, POLICY))
    t0 = datetime.now(UTC).replace(microsecond=0)
    c = s.chain

    def span(kind: str, a: int, b: int, **details: Any) -> list[dict[str, Any]]:
        start = c.message(kind, "start", t0 + timedelta(seconds=a), **details)
        return [start, c.message(kind, "end", t0 + timedelta(seconds=b), ends=start["seq"])]

    sent = [
        *span("focus.lost", 10, 30),
        *span("tab.hidden", 20, 40),  # overlaps: 30 s out of focus in all
        *span("face.none", 50, 60),
        *span("face.multiple", 55, 65),  # 15 s without exactly one face
        *span("detector.failed", 80, 90, detector="face", reason="dark"),  # not watched
        *span("detector.failed", 0, 100, detector="audio", reason="blocked"),  # irrelevant
    ]
    c.message("clipboard.copy", "instant", t0)  # never sent: a gap in the stream
    sent.append(c.message("clipboard.copy", "instant", t0 + timedelta(seconds=70)))
    s.send(*sent)
    s.submit()
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        attempt.started_at, attempt.submitted_at = t0, t0 + timedelta(seconds=100)
        for faces, server, status in (
            (1, 1, "agrees"),
            (1, 2, "mismatch"),
            (1, None, "unreadable"),
        ):
            obj = evidence_service.store(
                uow,
                app.state.services.evidence,
                subject_type="attempt",
                subject_id=str(s.attempt_id),
                kind_name="snapshot",
                data=[jpeg(2000)],
            )
            uow.add(
                Snapshot(
                    tenant_id=tenant.id,
                    attempt_id=s.attempt_id,
                    object_id=obj.id,
                    taken_at=t0,
                    reason="periodic",
                    client_faces=faces,
                    server_faces=server,
                    server_status=status,
                )
            )
        uow.flush()
        got = summary.summarize(uow, attempt)
    assert got.duration_seconds == 100 and got.out_of_focus_seconds == 30
    assert got.face_observed_seconds == 90
    assert got.one_face_share == pytest.approx(75 / 90)
    assert got.counts["tab.hidden"] == {"medium": 1} and got.counts["clipboard.copy"] == {
        "critical": 1
    }
    assert got.counts["face.none"] == {"info": 1} and got.events == 7
    assert got.recheck_disagreements == 1
    assert got.snapshots.total == 3 and got.snapshots.checked == 2 and got.snapshots.one_face == 1
    assert got.stream_gaps == 1 and got.stream_unlinked == 1
    assert got.integrity == "provisional_fail" and got.outcome is None
    assert [f.rule_id for f in got.flags] == ["tab-flag", "copy-fail"]
    assert got.undecided_flags == 2 and all(f.decision is None for f in got.flags)


def test_without_the_face_detector_no_share_is_claimed(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    blind = POLICY | {"detectors": POLICY["detectors"] | {"face": False, "focus": False}}
    s = flagged(app, db, settings, blind)
    with db.unit_of_work(s.tenant_id) as uow:
        got = summary.summarize(uow, uow.get(Attempt, s.attempt_id))
    assert got.one_face_share is None and got.face_observed_seconds is None
    assert got.out_of_focus_seconds is None


# --- over HTTP ------------------------------------------------------------------


def test_the_review_api_from_queue_to_a_final_high_stakes_outcome(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    s = flagged(app, db, settings, HIGH_STAKES)
    alice = bearer(app, db, make_user(db, s.tenant_id, ["proctor_reviewer"]))
    bob = bearer(app, db, make_user(db, s.tenant_id, ["tenant_admin"]))
    queue = client.get("/api/v1/reviews/queue", headers=alice).json()
    assert [i["id"] for i in queue["items"]] == [str(s.attempt_id)] and queue["next"] is None
    item = queue["items"][0]
    assert item["provisional_fail"] is True and item["severity"] == "critical"
    assert (
        item["flags_by_severity"] == {"critical": 1, "medium": 1} and item["undecided_flags"] == 2
    )
    filtered = client.get(f"/api/v1/reviews/queue?exam_id={uuid.uuid4()}", headers=alice)
    assert filtered.json()["items"] == []

    detail = client.get(f"/api/v1/reviews/{s.attempt_id}", headers=alice).json()
    assert detail["policy"] == "high_stakes" and detail["outcome"]["second_review_required"]
    flags = {f["rule_id"]: f for f in detail["flags"]}
    assert set(flags) == {"tab-flag", "copy-fail"}
    assert flags["copy-fail"]["explanation"].startswith('Rule "copy-fail" (provisional_fail')

    url = f"/api/v1/reviews/{s.attempt_id}/decisions"
    missing = client.post(url, headers=alice, json={"scope": "outcome", "decision": "cleared"})
    assert missing.status_code == 422 and "reason" in missing.json()["detail"]
    for f in flags.values():
        body = {
            "scope": "flag",
            "action_id": f["action_id"],
            "decision": "confirmed",
            "reason": "seen",
        }
        made = client.post(url, headers=alice, json=body)
        assert made.status_code == 201, made.text
        assert made.json()["supersedes"] is None and made.json()["reviewer"].endswith("@staff.test")
    body = {"scope": "outcome", "decision": "violation_fail", "reason": "copied the paper"}
    first = client.post(url, headers=alice, json=body).json()
    stale = client.post(url, headers=bob, json=body)
    assert stale.status_code == 409 and stale.json()["current"] == first["id"]
    summary_now = client.get(f"/api/v1/attempts/{s.attempt_id}/integrity", headers=alice).json()
    assert summary_now["outcome"]["awaiting_second_review"] is True
    assert (
        summary_now["review_final"] is False and summary_now["review_outcome"] == "violation_fail"
    )
    second = client.post(url, headers=bob, json=body | {"supersedes": first["id"]})
    assert second.status_code == 201 and second.json()["supersedes"] == first["id"]

    grader = bearer(app, db, make_user(db, s.tenant_id, ["grader"]))
    final = client.get(f"/api/v1/attempts/{s.attempt_id}/integrity", headers=grader).json()
    assert final["review_final"] is True and final["outcome"]["final"] is True
    assert len(final["outcome"]["reviewers"]) == 2
    assert all(f["decision"] == "confirmed" for f in final["flags"])
    assert client.get("/api/v1/reviews/queue", headers=grader).status_code == 403
    assert client.get("/api/v1/reviews/queue", headers=alice).json()["items"] == []
    assert len(entries(db, s.tenant_id, "review.decided")) == 4


def test_an_attempt_not_started_has_an_empty_summary(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    from tests.delivery.test_attempts import browser, start

    tenant = make_tenant(db, settings)
    made = make_invitation(db, tenant.id, kit_for(settings), new_exam(db, tenant.id, POLICY))
    assert start(browser(app), token_of(made)).status_code == 303  # consented, clock not started
    with db.unit_of_work(tenant.id) as uow:
        attempt = uow.scalar(select(Attempt))
        assert attempt is not None and attempt.status == "ready"
    headers = bearer(app, db, make_user(db, tenant.id, ["auditor"]))
    got = client.get(f"/api/v1/attempts/{attempt.id}/integrity", headers=headers).json()
    assert got["started_at"] is None and got["duration_seconds"] == 0 and got["events"] == 0
    assert got["one_face_share"] is None and got["out_of_focus_seconds"] == 0
    assert got["flags"] == [] and got["outcome"] is None and got["review_final"] is False
