"""The audit log holds hashes and ids, not personal data: after realistic
flows run through the services (a candidate invited with a distinctive
name, e-mail and external reference, the invitation resent, an attempt
started, answered, flagged by the proctoring policy, submitted, reviewed
and its result released, a legal hold on the candidate, a new retention
policy), no entry's payload, stored bytes, subject or actor names them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.delivery import attempts, invitations
from invigil.delivery.demo import demo_answers
from invigil.delivery.invitations import InviteRequest
from invigil.delivery.landing import shown_to
from invigil.delivery.models import Invitation
from invigil.proctoring import pipeline
from invigil.results import release
from invigil.retention import holds, policy
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.proctoring.test_pipeline import Chain
from tests.results.helpers import FLAGGING, make_release_exam, review
from tests.retention.factories import document

NAME = "Philippa Quoxworthy-Zandt"
EMAIL = "philippa.quoxworthy@zandt-example.org"
EXTERNAL_REF = "HR-REF-QX-77123"


def test_no_audit_entry_names_the_candidate(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_release_exam(db, tenant, proctoring_policy=FLAGGING, results_release="manual")
    kit = kit_for(settings, smtp=True, resendable=True)  # the link is mailed, and again
    reviewer = make_user(db, tenant, ["proctor_reviewer"]).id
    with db.unit_of_work(tenant) as uow:
        made = invitations.invite(
            uow, kit,
            InviteRequest(name=NAME, email=EMAIL, exam=str(exam), external_ref=EXTERNAL_REF),
        )  # fmt: skip
        # The same candidate again, found by e-mail, and the link sent once more.
        invitations.invite(uow, kit, InviteRequest(name=NAME, email=EMAIL.upper(), exam=str(exam)))
    with db.unit_of_work(tenant) as uow:
        later = datetime.now(UTC) + invitations.RESEND_GAP + timedelta(seconds=5)
        invitations.resend(uow, kit, made.invitation.id, now=later)

    now = datetime.now(UTC)
    with db.unit_of_work(tenant, Actor("candidate", str(made.candidate.id))) as uow:
        inv = uow.get(Invitation, made.invitation.id)
        version = attempts.version_of(uow, inv.exam_id, inv.exam_version)
        shown, retention = shown_to(uow, version, "en")
        attempt = attempts.start(
            uow, kit.key, inv, version, consent_text=shown.text, consent_language="en",
            shown_sha256=shown.sha256, shown_language="en",
            browser=attempts.Browser(address="203.0.113.9", user_agent="Firefox"), now=now,
            retention_version=retention,
        ).attempt  # fmt: skip
        attempt.face_seen_at = now
        attempts.begin(uow, attempt, version, inv, now=now)
        attempts.save(uow, attempt, demo_answers(uow, attempt, 1.0), now=now)
        chain = Chain(str(attempt.id))
        sent = [
            chain.message("tab.hidden", "start", now),
            chain.message("tab.hidden", "end", now + timedelta(seconds=5), ends=1),
        ]
        pipeline.ingest(uow, attempt, [pipeline.Message(**m) for m in sent], now)
        attempts.submit(uow, attempt, "candidate", now=now + timedelta(seconds=30))
        attempt_id = attempt.id
    review(db, tenant, reviewer, attempt_id, "confirmed", "cleared")
    with db.unit_of_work(tenant) as uow:
        release.release_one(uow, attempt_id)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        holds.place(uow, "candidate", made.candidate.id, "Employment claim of the candidate")
        policy.set_policy(uow, document(contest_window_days=14), reason="DPO review")

    with db.unit_of_work(tenant) as uow:
        entries = list(uow.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
    actions = {e.action for e in entries}
    expected = {
        "candidate.created", "invitation.created", "guest_link.resent", "consent.given",
        "attempt.created", "attempt.started", "attempt.submitted", "retention.hold_placed",
        "retention.policy_set",
    }  # fmt: skip
    assert expected <= actions, expected - actions
    assert any(a.startswith("result") and "release" in a for a in actions), actions
    assert any(a.startswith("proctoring") or a.startswith("review") for a in actions), actions

    # Each value, and its distinctive parts (a name, the e-mail's local part and domain).
    personal = {NAME.lower(), EMAIL.lower(), EXTERNAL_REF.lower(), "quoxworthy", "philippa",
                "zandt-example", "qx-77123"}  # fmt: skip
    found: list[tuple[str, str, str]] = []
    for e in entries:
        for where, value in (
            ("payload", str(e.payload)), ("entry", e.entry), ("subject_id", e.subject_id),
            ("actor_id", e.actor_id),
        ):  # fmt: skip
            lowered = value.lower()
            found += [(e.action, where, p) for p in personal if p in lowered]
    assert found == [], found
