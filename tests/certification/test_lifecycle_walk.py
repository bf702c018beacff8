"""The whole life of a certificate across the domain, on a controlled clock
(no sleeping): a candidate's final passing result -> the evaluation job
issues the certificate and mails it (PDF and signed credential) -> the daily
pass reminds, then invites to the recertification exam through the guest
link -> the holder passes that exam on the invitation -> the job renews the
certificate from the old expiry (and mails the new one) -> the old one takes
no further step, the new one's reminders start -> the public page and the
status list follow a revocation -> `audit verify` holds every record."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from invigil.audit.anchored import verify_records
from invigil.certification import (
    credentials,
    jobs,
    lifecycle,
    recertification,
    status_lists,
    verify,
)
from invigil.certification.models import Certificate
from invigil.certification.records import SOURCES
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt, Invitation, OutboxMail
from invigil.settings import Settings
from invigil.verifier.credential import status_bit
from invigil.verifier.credential import verify as verify_credential
from tests.certification.factories import NOW, holder, program
from tests.certification.sittings import result, sit_as
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, published_exam
from tests.results.cohort import agree

DAY = timedelta(days=1)


def _certificates(db: Database, tenant: uuid.UUID) -> list[Certificate]:
    with db.unit_of_work(tenant) as uow:
        found = list(uow.scalars(select(Certificate).order_by(Certificate.status_index)))
        for c in found:
            uow.session.expunge(c)
        return found


def _mails_to(db: Database, tenant: uuid.UUID, address: str) -> list[OutboxMail]:
    with db.unit_of_work(tenant) as uow:
        found = list(
            uow.scalars(
                select(OutboxMail)
                .where(OutboxMail.to_address == address)
                .order_by(OutboxMail.created_at, OutboxMail.id)
            )
        )
        for m in found:
            uow.session.expunge(m)
        return found


def _sit_invitation(db: Database, tenant: uuid.UUID, invitation_id: uuid.UUID,
                    percent: str, at: object) -> uuid.UUID:  # fmt: skip
    """The holder takes the recertification exam on the invitation the pass sent."""
    with db.unit_of_work(tenant) as uow:
        inv = uow.get(Invitation, invitation_id)
        attempt = Attempt(
            id=uuid.uuid4(), tenant_id=tenant, invitation_id=inv.id, candidate_id=inv.candidate_id,
            exam_id=inv.exam_id, exam_version=inv.exam_version, number=1, seed=1, paper=[],
            status="submitted", grace_seconds=30, started_at=at, submitted_at=at,
            submit_reason="candidate", integrity="clear",
        )  # fmt: skip
        uow.add(attempt)
        uow.flush()
        agree(uow, tenant, inv.id, "given", attempt.id)
        result(db, tenant, attempt.id, percent, uow=uow)
        return attempt.id


def test_issue_remind_invite_renew_revoke(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    kit = kit_for(settings)
    box = kit.box
    first_exam = published_exam(db, tenant)
    recert_exam = published_exam(db, tenant)
    _, _version = program(
        db, tenant, exam_ids=[first_exam], name="Gas safety", min_percent=70,
        validity_months=12, recert_window_days=60, grace_days=30, reminder_days=[30],
        recert_exam_id=str(recert_exam), renew_from="expiry",
    )  # fmt: skip
    who = holder(db, tenant, "Rosa Franklin")
    with db.unit_of_work(tenant) as uow:
        from invigil.delivery.models import Candidate

        email = uow.get(Candidate, who).email

    # A failing result issues nothing; the passing retake is final and issues once.
    sit_as(db, tenant, first_exam, who, "55.00", passed=False)
    assert jobs.run_evaluation(db, str(tenant), str(who), now=NOW) == 0
    sit_as(db, tenant, first_exam, who, "82.00", number=2)
    assert jobs.run_evaluation(db, str(tenant), str(who), now=NOW) == 1
    assert jobs.run_evaluation(db, str(tenant), str(who), now=NOW) == 0  # never twice
    [first] = _certificates(db, tenant)
    assert first.basis[0]["percent"] == "82.00" and first.expires_at is not None
    expires = first.expires_at
    [issued_mail] = _mails_to(db, tenant, email)
    assert [a["kind"] for a in issued_mail.attachments] == ["certificate_pdf",
                                                            "certificate_credential"]  # fmt: skip

    # The daily pass: the reminder, then the invitation to the recertification exam.
    assert (
        recertification.daily_pass(db, tenant, kit, now=expires - 61 * DAY).steps["reminder"] == 0
    )
    done = recertification.daily_pass(db, tenant, kit, now=expires - 60 * DAY)
    assert done.steps["invitation"] == 1
    with db.unit_of_work(tenant) as uow:
        [invitation] = uow.scalars(select(Invitation).where(Invitation.exam_id == recert_exam))
        invitation_id = invitation.id
    assert (
        recertification.daily_pass(db, tenant, kit, now=expires - 30 * DAY).steps["reminder"] == 1
    )

    # The holder passes the recertification exam ten days before expiry: renewed from the old expiry.
    renewed_at = expires - 10 * DAY
    _sit_invitation(db, tenant, invitation_id, "90.00", renewed_at)
    assert jobs.run_evaluation(db, str(tenant), str(who), now=renewed_at) == 1
    old, new = _certificates(db, tenant)
    assert old.id == first.id and new.renews_id == old.id
    assert new.expires_at == lifecycle.add_months(expires, 12)
    assert {b["exam_id"] for b in new.basis} == {str(recert_exam)}
    assert (
        len(_mails_to(db, tenant, email)) == 1 + 1 + 1 + 1
    )  # issue, invitation, reminder, renewal

    # The old certificate takes no further step; the new one's reminder comes in its time.
    for at in (expires + DAY, expires + 45 * DAY):
        steps = recertification.daily_pass(db, tenant, kit, now=at).steps
        assert sum(steps.values()) == 0, steps
    assert new.expires_at is not None
    later = recertification.daily_pass(db, tenant, kit, now=new.expires_at - 30 * DAY)
    assert later.steps["reminder"] == 1

    # Revoked: the public page and the revocation list say so; the credential still verifies
    # (it is genuine) and its status entry points at the bit that is now set.
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, new.id, "revoked", "fraud found", now=renewed_at + DAY)
        token = credentials.signed(uow, box, settings, uow.get(Certificate, new.id))
        keys = credentials.issuer_jwk(uow, box)
        entry = verify_credential(token, keys)["credentialStatus"]
        signed_list = status_lists.signed_list(uow, box, settings, "revocation", 0,
                                               now=renewed_at + DAY)  # fmt: skip
        listed = verify_credential(signed_list, keys)
    assert entry["statusPurpose"] == "revocation"
    assert int(entry["statusListIndex"]) == new.status_index
    assert status_bit(listed["credentialSubject"]["encodedList"], new.status_index)
    assert not status_bit(listed["credentialSubject"]["encodedList"], old.status_index)
    shown = verify.lookup(db, new.id, now=renewed_at + 2 * DAY)
    assert shown.status == "revoked" and shown.holder == "Rosa Franklin"

    with db.unit_of_work(tenant, Actor.operator()) as uow:
        report = verify_records(uow, SOURCES)
    assert report.ok and report.records == report.anchored
