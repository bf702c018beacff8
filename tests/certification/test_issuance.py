"""Issuance from final results: automatic and idempotent, after an approver,
renewal only inside the recertification window, prerequisites, archived
programs, and never twice on the same results."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from invigil.certification import announce, issuance
from invigil.certification.models import Certificate, PendingIssue
from invigil.db.engine import Database
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid
from invigil.settings import Settings
from tests.certification.factories import NOW, holder, program
from tests.certification.sittings import result, sit_as
from tests.conftest import make_tenant, make_user
from tests.results.cohort import make_exam4


@pytest.fixture
def heard() -> Iterator[list[str]]:
    """The numbers announce.issued was called with."""
    numbers: list[str] = []

    def hook(uow: UnitOfWork, cert: Certificate) -> None:
        numbers.append(cert.number)

    announce.register(hook)
    yield numbers
    announce.ISSUED.remove(hook)


def run(db: Database, tenant: uuid.UUID, who: uuid.UUID, now: Any = NOW,
        **kw: Any) -> list[issuance.Outcome]:  # fmt: skip
    with db.unit_of_work(tenant) as uow:
        return issuance.evaluate(uow, who, now=now, **kw)


def certs(db: Database, tenant: uuid.UUID, who: uuid.UUID) -> list[Certificate]:
    with db.unit_of_work(tenant) as uow:
        rows = list(uow.session.scalars(
            select(Certificate).where(Certificate.holder_id == who)
            .order_by(Certificate.status_index)))  # fmt: skip
        uow.session.expunge_all()
        return rows


def test_all_exams_final_and_passed_issue_once(
    db: Database, settings: Settings, heard: list[str]
) -> None:
    tenant = make_tenant(db, settings).id
    a, b = make_exam4(db, tenant).id, make_exam4(db, tenant).id
    pid, vid = program(db, tenant, exam_ids=[a, b], min_percent=70, validity_months=12)
    who = holder(db, tenant)
    first = sit_as(db, tenant, a, who, "85.00")
    assert run(db, tenant, who) == []  # exam b never begun
    second = sit_as(db, tenant, b, who, "72.50")
    (done,) = run(db, tenant, who)
    assert done.kind == "issued" and done.program_id == pid
    assert run(db, tenant, who) == []  # idempotent
    (cert,) = certs(db, tenant, who)
    assert cert.program_version_id == vid and heard == [cert.number]
    assert [(b["attempt_id"], b["percent"], b["integrity"], b["revision"]) for b in cert.basis] == [
        (str(first), "85.00", "clear", 1), (str(second), "72.50", "clear", 1)]  # fmt: skip
    assert all(len(b["document_sha256"]) == 64 for b in cert.basis)


@pytest.mark.parametrize(
    ("kw", "why"),
    [
        ({"pending": True}, "grading"),
        ({"integrity": "flagged"}, "review"),
        ({"integrity": "flagged", "outcome": "violation_fail"}, "review not final"),
        ({"integrity": "flagged", "outcome": "violation_fail", "final": True}, "upheld"),
        ({"passed": False}, "failed"),
        ({"percent": "69.99"}, "below the minimum"),
        ({"submitted": False}, "still running"),
    ],
)
def test_nothing_issues_before_a_final_passing_result(
    db: Database, settings: Settings, kw: dict[str, Any], why: str
) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], min_percent=70)
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who, **({"percent": "90.00"} | kw))
    assert run(db, tenant, who) == [], why


def test_a_regrade_that_makes_the_result_final_issues(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam])
    who = holder(db, tenant)
    attempt = sit_as(db, tenant, exam, who, "40.00", pending=True)
    assert run(db, tenant, who) == []
    result(db, tenant, attempt, "88.00", revision=2)
    (done,) = run(db, tenant, who)
    assert done.certificate is not None and done.certificate.basis[0]["revision"] == 2


def test_integrity_clear_or_cleared(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    strict, _ = program(db, tenant, exam_ids=[exam], integrity="clear", name="Strict")
    lenient, _ = program(db, tenant, exam_ids=[exam], integrity="clear_or_cleared", name="Lenient")
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who, integrity="flagged", outcome="cleared", final=True)
    assert [d.program_id for d in run(db, tenant, who)] == [lenient]
    with db.unit_of_work(tenant) as uow:
        version = issuance.programs.current_version(uow, strict)
        checks = issuance.explain(uow, version, who, NOW).checks
    assert [c.reason for c in checks] == ["integrity_not_clear"]


def test_a_retake_counts_not_an_earlier_pass(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam])
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who, "90.00", number=1)
    sit_as(db, tenant, exam, who, "10.00", passed=False, number=2)
    assert run(db, tenant, who) == []


def test_any_mode_rests_on_the_met_exams(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    a, b = make_exam4(db, tenant).id, make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[a, b], mode="any")
    who = holder(db, tenant)
    sit_as(db, tenant, a, who, "20.00", passed=False)
    passed = sit_as(db, tenant, b, who, "75.00")
    (done,) = run(db, tenant, who)
    assert done.certificate is not None
    assert [x["attempt_id"] for x in done.certificate.basis] == [str(passed)]


def test_prerequisites_issued_in_the_same_evaluation_count(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    base, _ = program(db, tenant, exam_ids=[exam], name="Z base")
    advanced, _ = program(db, tenant, exam_ids=[exam], prerequisites=[str(base)], name="A adv")
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    assert {d.program_id for d in run(db, tenant, who)} == {base, advanced}


def test_archived_programs_issue_nothing(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    pid, _ = program(db, tenant, exam_ids=[exam])
    with db.unit_of_work(tenant) as uow:
        issuance.archive(uow, pid)
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    assert run(db, tenant, who) == []
    with db.unit_of_work(tenant) as uow:
        issuance.archive(uow, pid, archived=False)
    assert len(run(db, tenant, who)) == 1


def test_a_revoked_certificate_is_not_issued_again_on_the_same_results(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam])
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (done,) = run(db, tenant, who)
    assert done.certificate is not None
    with db.unit_of_work(tenant) as uow:
        issuance.lifecycle.change_state(uow, done.certificate.id, "revoked", "fraud", now=NOW)
    assert run(db, tenant, who, now=NOW + timedelta(days=1)) == []
    sit_as(db, tenant, exam, who, number=2)  # a new pass: a new certificate
    (again,) = run(db, tenant, who, now=NOW + timedelta(days=2))
    assert again.certificate is not None and again.certificate.renews_id is None


def test_a_new_pass_renews_only_inside_the_window(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], validity_months=12, recert_window_days=60)
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (done,) = run(db, tenant, who)
    old = done.certificate
    assert old is not None and old.expires_at is not None
    sit_as(db, tenant, exam, who, number=2)
    opens = old.expires_at - timedelta(days=60)
    assert run(db, tenant, who, now=opens - timedelta(minutes=1)) == []
    (renewal,) = run(db, tenant, who, now=opens)
    assert renewal.certificate is not None and renewal.certificate.renews_id == old.id
    assert renewal.certificate.expires_at == issuance.lifecycle.add_months(old.expires_at, 12)
    assert run(db, tenant, who, now=opens + timedelta(days=1)) == []


def test_a_suspended_certificate_is_not_renewed_around_its_suspension(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], validity_months=1, recert_window_days=60)
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (done,) = run(db, tenant, who)
    assert done.certificate is not None
    with db.unit_of_work(tenant) as uow:
        issuance.lifecycle.change_state(uow, done.certificate.id, "suspended", "audit", now=NOW)
    sit_as(db, tenant, exam, who, number=2)
    assert run(db, tenant, who, now=NOW + timedelta(days=1)) == []


def test_approval_queues_once_then_issues_with_the_approver(
    db: Database, settings: Settings, heard: list[str]
) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], approval=True)
    approver = make_user(db, tenant, ["certification_manager"]).id
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (done,) = run(db, tenant, who)
    assert done.kind == "pending" and done.pending is not None and heard == []
    assert run(db, tenant, who) == []  # one open request
    with db.unit_of_work(tenant) as uow:
        cert = issuance.approve(uow, done.pending.id, approver, NOW + timedelta(hours=1))
        assert cert.approved_by == approver and heard == [cert.number]
    with db.unit_of_work(tenant) as uow, pytest.raises(Conflict):
        issuance.approve(uow, done.pending.id, approver, NOW)
    with db.unit_of_work(tenant) as uow:
        row = uow.session.get(PendingIssue, (tenant, done.pending.id))
        assert row is not None and (row.status, row.certificate_id) == ("approved", cert.id)
    assert run(db, tenant, who) == []


def test_a_rejection_stands_for_those_results(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], approval=True)
    approver = make_user(db, tenant, ["certification_manager"]).id
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (done,) = run(db, tenant, who)
    assert done.pending is not None
    with db.unit_of_work(tenant) as uow, pytest.raises(Invalid):
        issuance.reject(uow, done.pending.id, approver, "  ", NOW)
    with db.unit_of_work(tenant) as uow:
        issuance.reject(uow, done.pending.id, approver, "identity not confirmed", NOW)
    assert run(db, tenant, who) == []
    assert certs(db, tenant, who) == []


def test_approval_rechecks_the_results(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], approval=True)
    approver = make_user(db, tenant, ["certification_manager"]).id
    who = holder(db, tenant)
    attempt = sit_as(db, tenant, exam, who)
    (done,) = run(db, tenant, who)
    assert done.pending is not None
    result(db, tenant, attempt, "30.00", passed=False, revision=2)  # regraded to a fail
    with db.unit_of_work(tenant) as uow, pytest.raises(Conflict, match="not_passed"):
        issuance.approve(uow, done.pending.id, approver, NOW)


def test_evaluation_is_audited(db: Database, settings: Settings) -> None:
    from invigil.audit.models import AuditEvent

    tenant = make_tenant(db, settings).id
    exam = make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], approval=True)
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    run(db, tenant, who)
    with db.unit_of_work(tenant) as uow:
        n = uow.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "certification.approval_requested"))  # fmt: skip
    assert n == 1


def test_passing_the_recertification_exam_renews_inside_the_window(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam, recert = make_exam4(db, tenant).id, make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], recert_exam_id=str(recert), min_percent=70,
            validity_months=12, recert_window_days=60)  # fmt: skip
    newcomer = holder(db, tenant)
    sit_as(db, tenant, recert, newcomer)  # no certificate to renew: the route is closed
    assert run(db, tenant, newcomer) == []

    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (first,) = run(db, tenant, who)
    old = first.certificate
    assert old is not None and old.expires_at is not None
    opens = old.expires_at - timedelta(days=60)
    sit_as(db, tenant, recert, who, "65.00")  # below the program's minimum
    assert run(db, tenant, who, now=opens) == []
    passed = sit_as(db, tenant, recert, who, "90.00", number=2)
    assert run(db, tenant, who, now=opens - timedelta(days=1)) == []  # window not open
    (renewal,) = run(db, tenant, who, now=opens)
    assert renewal.certificate is not None and renewal.certificate.renews_id == old.id
    assert [b["attempt_id"] for b in renewal.certificate.basis] == [str(passed)]
    assert run(db, tenant, who, now=opens + timedelta(days=2)) == []


def test_a_renewal_within_the_grace_period_through_the_recertification_exam(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam, recert = make_exam4(db, tenant).id, make_exam4(db, tenant).id
    program(db, tenant, exam_ids=[exam], recert_exam_id=str(recert), validity_months=12,
            grace_days=30)  # fmt: skip
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    (first,) = run(db, tenant, who)
    old = first.certificate
    assert old is not None and old.expires_at is not None
    with db.unit_of_work(tenant) as uow:
        issuance.lifecycle.change_state(uow, old.id, "expired", "expired", now=old.expires_at)
    sit_as(db, tenant, recert, who)
    assert run(db, tenant, who, now=old.expires_at + timedelta(days=31)) == []  # grace over
    (renewal,) = run(db, tenant, who, now=old.expires_at + timedelta(days=10))
    assert renewal.certificate is not None and renewal.certificate.renews_id == old.id


def test_an_expired_prerequisite_is_not_held(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    exam, other = make_exam4(db, tenant).id, make_exam4(db, tenant).id
    base, _ = program(db, tenant, exam_ids=[exam], validity_months=1, name="Base")
    program(db, tenant, exam_ids=[other], prerequisites=[str(base)], name="Next")
    who = holder(db, tenant)
    sit_as(db, tenant, exam, who)
    assert len(run(db, tenant, who)) == 1
    sit_as(db, tenant, other, who)
    later = NOW + timedelta(days=40)  # past the base's expiry, not yet marked expired
    assert run(db, tenant, who, now=later) == []
