"""The purge on a controlled clock: what is over goes (evidence crypto-shredded,
events anonymised, answers deleted, identity anonymised), with a signed
receipt per batch; what is not over, what a hold covers and other tenants
stay; a second run purges nothing new; a crash between the commit and the
store deletes is finished by the next run; a person is erased on request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from invigil.audit import service as audit_service
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Candidate
from invigil.errors import Gone, Invalid, NotFound
from invigil.evidence import service
from invigil.evidence.models import DataKey, EvidenceObject
from invigil.evidence.service import Evidence
from invigil.retention import holds, purge, receipts, verify
from invigil.retention.models import ObjectDeletion, Receipt
from invigil.security.keys import KeyRing, Keys
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.evidence.factories import make_evidence
from tests.retention.factories import Sat, count, exam, sit


@pytest.fixture
def ring(tmp_path: Path) -> Iterator[KeyRing]:
    keys = Keys(tmp_path / "keys")
    saved = dict(receipts._ring)
    receipts.use_ring(keys.audit)
    yield keys.audit
    receipts._ring.clear()
    receipts._ring.update(saved)


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    return make_evidence(tmp_path)


def _stored(evidence: Evidence, db: Database, sat: Sat) -> list[bool]:
    with db.unit_of_work(sat.tenant) as uow:
        objects = [uow.get(EvidenceObject, o) for o in sat.objects]
    return [evidence.stores.for_region(o.region).exists(o.store_key) for o in objects]


def _verify(db: Database, tenant: uuid.UUID, ring: KeyRing) -> Any:
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        return audit_service.verify_tenant(uow, ring, _sources())


def test_expired_evidence_is_shredded_with_a_signed_receipt_and_the_rest_stays(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    other = make_tenant(db, settings).id
    expired = sit(db, settings, tenant, evidence)  # standard: 90 days
    recent = sit(db, settings, tenant, evidence, exam_id=exam(db, tenant, "high_stakes"))
    held = sit(db, settings, tenant, evidence)
    elsewhere = sit(db, settings, other, evidence)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        holds.place(uow, "candidate", held.candidate, "litigation")
    now = expired.submitted_at + timedelta(days=91)

    run = purge.run_tenant(db, tenant, evidence, now=now)

    assert run.subjects == {"evidence": 1} and len(run.receipts) == 1 and run.problems == []
    assert run.objects_deleted == 1
    assert _stored(evidence, db, expired) == [False]
    assert _stored(evidence, db, recent) == [True]
    assert _stored(evidence, db, held) == [True]
    assert _stored(evidence, db, elsewhere) == [True]
    with db.unit_of_work(tenant) as uow:
        key = uow.scalar(select(DataKey).where(DataKey.subject_id == str(expired.candidate)))
        assert key is not None and key.wrapped_key is None and key.destroyed_at is not None
        with pytest.raises(Gone):
            service.read_all(uow, evidence, expired.objects[0])
        assert service.read_all(uow, evidence, recent.objects[0])[:3] == b"\xff\xd8\xff"
        row = uow.get(Receipt, run.receipts[0])
        view = receipts.view(row, ring)
        assert view.signature_ok and view.hash_ok
        assert view.data_class == "evidence" and view.trigger == "policy"
        assert view.policy_version == 0 and view.subjects == 1 and view.keys_destroyed == 1
        assert row.objects_deleted == [str(expired.objects[0])]
        assert row.subjects == [{"type": "attempt", "id": str(expired.attempt)}]
        # The document is what was signed: one changed byte and it no longer verifies.
        document = receipts.receipt_document(row)
        assert receipts.signature_ok(document, row.key_id, row.signature, ring)
        assert not receipts.signature_ok(
            {**document, "reason": "x"}, row.key_id, row.signature, ring
        )
    with db.unit_of_work(other) as uow:
        assert service.read_all(uow, evidence, elsewhere.objects[0])[:3] == b"\xff\xd8\xff"
    report = _verify(db, tenant, ring)
    assert report.ok, (report.problems, report.records.problems)
    assert report.records.anchored >= 1  # the receipt itself, recomputed and signature-checked

    again = purge.run_tenant(db, tenant, evidence, now=now)
    assert again.receipts == [] and again.objects_deleted == 0


def test_events_anonymised_answers_deleted_and_audit_verify_names_the_receipts(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    year = sat.submitted_at + timedelta(days=366)
    assert purge.run_tenant(db, tenant, evidence, now=year).subjects == {
        "evidence": 1,
        "proctoring_events": 1,
        "invitations_mail": 1,
    }
    events = "SELECT count(*) FROM proctoring_events WHERE attempt_id = :a"
    assert count(db, tenant, events, a=sat.attempt) == 1
    bare = events + " AND details = '{}'::jsonb AND coalesce(body, '') = ''"
    assert count(db, tenant, bare, a=sat.attempt) == 1
    assert count(db, tenant, "SELECT count(*) FROM attempt_answers WHERE attempt_id = :a",
                 a=sat.attempt) == 1  # fmt: skip
    report = _verify(db, tenant, ring)
    assert report.ok, report.records.problems
    assert sum(report.records.purged.values()) == 1
    assert any("policy version 0, receipt" in label for label in report.records.purged)

    later = sat.submitted_at + timedelta(days=731)
    done = purge.run_tenant(db, tenant, evidence, now=later)
    assert done.subjects == {"answers": 1, "candidate_identity": 1}
    assert count(db, tenant, "SELECT count(*) FROM attempt_answers WHERE attempt_id = :a",
                 a=sat.attempt) == 0  # fmt: skip
    responses = (
        "SELECT count(*) FROM attempt_results WHERE attempt_id = :a "
        "AND document @? '$.questions[*].response'"
    )
    assert count(db, tenant, responses, a=sat.attempt) == 0
    assert count(db, tenant, "SELECT count(*) FROM attempt_results WHERE attempt_id = :a",
                 a=sat.attempt) >= 1  # scores stay  # fmt: skip
    report = _verify(db, tenant, ring)
    assert report.ok, report.records.problems
    # events, the answer sheet, the result and the consent: each named by its receipt
    assert sum(report.records.purged.values()) >= 4
    with db.unit_of_work(tenant) as uow:
        assert verify.check(uow, evidence).ok


def test_anonymised_identity_is_no_longer_findable(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    purge.run_tenant(db, tenant, evidence, now=sat.submitted_at + timedelta(days=731))
    with db.unit_of_work(tenant) as uow:
        person = uow.get(Candidate, sat.candidate)
        assert person.email == purge.erased_email(sat.candidate)
        assert person.name == purge.ERASED_NAME and person.external_ref == ""
        assert uow.scalar(select(Candidate).where(Candidate.email.ilike(sat.email))) is None
    consents = (
        "SELECT count(*) FROM consents c JOIN invitations i ON i.id = c.invitation_id "
        "WHERE i.candidate_id = :c AND (c.address <> '' OR c.user_agent <> '')"
    )
    assert count(db, tenant, consents, c=sat.candidate) == 0
    mail = (
        "SELECT count(*) FROM mail_outbox m JOIN invitations i ON i.id = m.invitation_id "
        "WHERE i.candidate_id = :c"
    )
    assert count(db, tenant, mail, c=sat.candidate) == 0
    assert count(db, tenant, "SELECT count(*) FROM guest_links g JOIN invitations i "
                 "ON i.id = g.invitation_id WHERE i.candidate_id = :c "
                 "AND (g.ended_at IS NULL OR g.token_sealed IS NOT NULL)",
                 c=sat.candidate) == 0  # fmt: skip


def test_one_expired_attempt_keeps_the_candidates_key_until_the_last_goes(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    first = sit(db, settings, tenant, evidence)
    email = first.email
    second = sit(db, settings, tenant, evidence, email=email, exam_id=exam(db, tenant, "strict"))
    assert second.candidate == first.candidate
    purge.run_tenant(db, tenant, evidence, now=first.submitted_at + timedelta(days=91))
    assert _stored(evidence, db, first) == [False] and _stored(evidence, db, second) == [True]
    with db.unit_of_work(tenant) as uow:
        assert service.read_all(uow, evidence, second.objects[0])[:3] == b"\xff\xd8\xff"
        with pytest.raises(Gone, match=r"deleted on .* under the retention policy"):
            service.read_all(uow, evidence, first.objects[0])  # its key lives on, its bytes not
    later = first.submitted_at + timedelta(days=181)
    run = purge.run_tenant(db, tenant, evidence, now=later, classes=["evidence"])
    assert run.subjects == {"evidence": 1}
    with db.unit_of_work(tenant) as uow:
        row = uow.get(Receipt, run.receipts[0])
        assert len(row.keys_destroyed) == 1
        with pytest.raises(Gone):
            service.read_all(uow, evidence, second.objects[0])


def test_batches_are_bounded(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    exam_id = exam(db, tenant)
    sats = [sit(db, settings, tenant, evidence, exam_id=exam_id) for _ in range(3)]
    now = max(s.submitted_at for s in sats) + timedelta(days=91)
    run = purge.run_tenant(db, tenant, evidence, now=now, batch=2, classes=["evidence"])
    assert len(run.receipts) == 2 and run.subjects == {"evidence": 3}
    with db.unit_of_work(tenant) as uow:
        sizes = sorted(len(uow.get(Receipt, r).subjects) for r in run.receipts)
    assert sizes == [1, 2]
    with pytest.raises(Invalid):
        purge.run_tenant(db, tenant, evidence, now=now, batch=0)


def test_a_crash_after_the_commit_is_finished_by_the_next_run(
    db: Database,
    settings: Settings,
    evidence: Evidence,
    ring: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence, objects=2)
    now = sat.submitted_at + timedelta(days=91)
    real = purge.delete_pending
    calls = []

    def crash(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        if len(calls) > 1:  # the first call finds a clean slate; then the process dies
            raise SystemExit("killed after the commit, before the store deletes")
        return real(*args, **kwargs)

    monkeypatch.setattr(purge, "delete_pending", crash)
    with pytest.raises(SystemExit):
        purge.run_tenant(db, tenant, evidence, now=now)
    monkeypatch.setattr(purge, "delete_pending", real)
    # The receipt and the destroyed key committed; the bytes are still there, pending.
    assert _stored(evidence, db, sat) == [True, True]
    with db.unit_of_work(tenant) as uow:
        pending = uow.scalars(select(ObjectDeletion).where(ObjectDeletion.deleted_at.is_(None)))
        assert sorted(p.object_id for p in pending) == sorted(sat.objects)
        assert not verify.check(uow, evidence).ok
        with pytest.raises(Gone):
            service.read_all(uow, evidence, sat.objects[0])
    # One object was deleted before the crash: a missing object is fine.
    with db.unit_of_work(tenant) as uow:
        first = uow.get(EvidenceObject, sat.objects[0])
        evidence.stores.for_region(first.region).delete(first.store_key)
    resumed = purge.run_tenant(db, tenant, evidence, now=now)
    assert resumed.receipts == [] and resumed.objects_deleted == 2 and resumed.problems == []
    assert _stored(evidence, db, sat) == [False, False]
    assert _verify(db, tenant, ring).ok


def test_erase_person_purges_every_class_now_with_one_receipt_each(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    bystander = sit(db, settings, tenant, evidence)
    request = uuid.uuid4()
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        with pytest.raises(Invalid):
            purge.erase_person(uow, evidence, sat.candidate, reason=" ")
        with pytest.raises(NotFound):
            purge.erase_person(uow, evidence, uuid.uuid4(), reason="request")
        erased = purge.erase_person(
            uow, evidence, sat.candidate, reason="data subject request", request_id=request
        )
    assert erased.kept == [] and len(erased.receipts) == len(purge.ORDER)
    with db.unit_of_work(tenant) as uow:
        rows = [uow.get(Receipt, r) for r in erased.receipts]
        assert {r.data_class for r in rows} == set(purge.ORDER)
        assert {(r.trigger, r.reason, r.request_id) for r in rows} == {
            ("erasure", "data subject request", request)
        }
        assert all(receipts.view(r, ring).signature_ok for r in rows)
        assert uow.get(Candidate, sat.candidate).email == purge.erased_email(sat.candidate)
        assert uow.get(Candidate, bystander.candidate).email == bystander.email
    purge.delete_pending(db, tenant, evidence)  # the job the erasure queued
    assert _stored(evidence, db, sat) == [False] and _stored(evidence, db, bystander) == [True]
    kept = (
        "SELECT count(*) FROM proctoring_events WHERE attempt_id = :a "
        "AND (details <> '{}'::jsonb OR coalesce(body, '') <> '')"
    )
    assert count(db, tenant, kept, a=sat.attempt) == 0  # the policy's action: anonymised
    report = _verify(db, tenant, ring)
    assert report.ok and report.records.purged
    assert all(label.startswith("an erasure request, policy version 0, receipt ")
               for label in report.records.purged)  # fmt: skip
    with db.unit_of_work(tenant) as uow:
        assert verify.check(uow, evidence).ok
    # Nothing is left to purge for the person, under any class.
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        again = purge.erase_person(uow, evidence, sat.candidate, reason="again")
    assert again.receipts == []


def test_erase_person_keeps_what_a_hold_covers(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    held_exam = exam(db, tenant)
    sat = sit(db, settings, tenant, evidence, exam_id=held_exam)
    free = sit(db, settings, tenant, evidence, email=sat.email)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        hold = holds.place(uow, "exam", held_exam, "appeal pending")
        erased = purge.erase_person(uow, evidence, sat.candidate, reason="request")
    assert erased.kept == [str(hold.id)]
    with db.unit_of_work(tenant) as uow:
        classes = {uow.get(Receipt, r).data_class for r in erased.receipts}
        assert classes == set(purge.ATTEMPT_CLASSES)  # identity and mail kept for the held exam
        for r in erased.receipts:
            assert {"type": "attempt", "id": str(sat.attempt)} not in uow.get(Receipt, r).subjects
        assert uow.get(Candidate, sat.candidate).email == sat.email
    purge.delete_pending(db, tenant, evidence)
    assert _stored(evidence, db, sat) == [True] and _stored(evidence, db, free) == [False]
    with db.unit_of_work(tenant) as uow:
        assert service.read_all(uow, evidence, sat.objects[0])[:3] == b"\xff\xd8\xff"
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        whole = holds.place(uow, "candidate", sat.candidate, "litigation")
        everything = purge.erase_person(uow, evidence, sat.candidate, reason="request")
    assert everything.receipts == [] and set(everything.kept) == {str(hold.id), str(whole.id)}


def test_the_schedule_counts_overdue_soon_and_held(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    held = sit(db, settings, tenant, evidence)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        holds.place(uow, "candidate", held.candidate, "litigation")
        due = {d.data_class: d for d in purge.schedule(uow, now=sat.submitted_at)}
        assert (due["evidence"].overdue, due["evidence"].next_30_days) == (0, 0)
        late = {
            d.data_class: d for d in purge.schedule(uow, now=sat.submitted_at + timedelta(days=70))
        }
        assert (late["evidence"].next_30_days, late["evidence"].held) == (1, 1)
        over = {
            d.data_class: d for d in purge.schedule(uow, now=sat.submitted_at + timedelta(days=95))
        }
        assert (over["evidence"].overdue, over["evidence"].held) == (1, 1)
        assert over["results"].kept == 2  # results: kept for the tenant's lifetime


def test_app_role_cannot_change_append_only_rows_outside_the_purge(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    for sql in (
        "UPDATE proctoring_events SET details = '{}'::jsonb WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "UPDATE consents SET address = '' WHERE attempt_id = :a",
        "SELECT set_config('invigil.retention_purge', 'on', true); "
        "DELETE FROM attempt_answers WHERE attempt_id = :a",
    ):
        with pytest.raises(DBAPIError), db.unit_of_work(tenant) as uow:
            for stmt in sql.split("; "):
                uow.session.execute(text(stmt), {"a": sat.attempt})


def test_verification_names_what_came_back(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    from sqlalchemy import text

    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    run = purge.run_tenant(db, tenant, evidence, now=sat.submitted_at + timedelta(days=731))
    assert run.problems == [] and len(run.receipts) == 5  # results: kept for life
    with db.unit_of_work(tenant) as uow:
        key_id = uow.get(Receipt, run.receipts[0]).keys_destroyed[0]
        uow.session.execute(
            text("UPDATE evidence_data_keys SET wrapped_key = 'x', destroyed_at = NULL "
                 "WHERE id = :k"), {"k": key_id},
        )  # fmt: skip
        uow.session.execute(
            text("UPDATE candidates SET email = :e WHERE id = :c"),
            {"e": sat.email, "c": sat.candidate},
        )
        problems = verify.check(uow, evidence).problems
        assert any(f"data key {key_id}" in p for p in problems), problems
        assert any(f"candidate {sat.candidate} still has" in p for p in problems), problems
        # after a run, only that run's receipts are checked
        assert verify.check(uow, evidence, []).problems == []


def test_mail_sent_after_the_purge_is_not_a_leftover(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    """The candidate gets new mail after their mail was purged (a result
    mailed later): not something the purge left behind; mail dated before
    the receipt still is."""
    from sqlalchemy import text

    tenant = make_tenant(db, settings).id
    sat = sit(db, settings, tenant, evidence)
    run = purge.run_tenant(db, tenant, evidence, now=sat.submitted_at + timedelta(days=200))
    assert "invitations_mail" in run.subjects and run.problems == []
    insert = text(
        "INSERT INTO mail_outbox (tenant_id, id, created_at, invitation_id, to_address, subject, "
        "body, locale) SELECT i.tenant_id, gen_random_uuid(), :at, i.id, 'x@example.test', "
        "'Your result', 'b', 'en' FROM invitations i WHERE i.candidate_id = :c"
    )
    with db.unit_of_work(tenant) as uow:
        receipt = uow.scalar(select(Receipt).where(Receipt.data_class == "invitations_mail"))
        assert receipt is not None
        uow.session.execute(insert, {"at": receipt.purged_at + timedelta(seconds=5),
                                     "c": sat.candidate})  # fmt: skip
        assert verify.check(uow, evidence).problems == []
        uow.session.execute(insert, {"at": receipt.purged_at - timedelta(seconds=5),
                                     "c": sat.candidate})  # fmt: skip
        problems = verify.check(uow, evidence).problems
        assert any(f"mail to candidate {sat.candidate} is still" in p for p in problems), problems


def test_the_daily_job_purges_every_tenant_and_one_failure_stops_none(
    db: Database,
    settings: Settings,
    evidence: Evidence,
    ring: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from invigil.retention import jobs

    first, second = make_tenant(db, settings).id, make_tenant(db, settings).id
    sats = [sit(db, settings, t, evidence) for t in (first, second)]
    real = purge.run_tenant
    seen: list[uuid.UUID] = []

    def run_tenant(db_: Database, tenant_id: uuid.UUID, *args: Any, **kwargs: Any) -> Any:
        seen.append(tenant_id)
        if tenant_id == first:
            raise RuntimeError("this tenant's store is down")
        if tenant_id != second:
            return purge.Run()  # the other tests' tenants: not this test's business
        return real(
            db_, tenant_id, *args, **kwargs | {"now": sats[1].submitted_at + timedelta(days=91)}
        )

    monkeypatch.setattr(purge, "run_tenant", run_tenant)

    class Services:
        keys = type("K", (), {"audit": ring})()

    Services.evidence = evidence  # type: ignore[attr-defined]
    jobs._purge_all(db, Services())
    assert first in seen and second in seen
    assert _stored(evidence, db, sats[0]) == [True] and _stored(evidence, db, sats[1]) == [False]


def test_a_delete_policy_deletes_the_results_and_audit_verify_names_them(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing
) -> None:
    from invigil.results import attempt_result, release
    from invigil.retention import policy

    tenant = make_tenant(db, settings).id
    doc = policy.DEFAULT.as_json()
    doc["classes"]["results"] = {"keep_days": 30, "from": "candidate_last_active", "then": "delete"}
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        policy.set_policy(uow, doc, reason="results go after a month")
    sat = sit(db, settings, tenant, evidence)
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        release.release_one(uow, sat.attempt)
    other = make_tenant(db, settings).id  # the defaults: results kept
    kept = sit(db, settings, other, evidence)
    with db.unit_of_work(other, Actor.operator("test")) as uow:
        release.release_one(uow, kept.attempt)
    tables = ("attempt_results", "result_releases", "result_links", "result_cells")
    before = {t: count(db, tenant, f"SELECT count(*) FROM {t} WHERE attempt_id = :a",
                       a=sat.attempt) for t in tables}  # fmt: skip
    assert before["attempt_results"] >= 1 and before["result_releases"] == 1, before

    month = sat.submitted_at + timedelta(days=31)
    done = purge.run_tenant(db, tenant, evidence, now=month)
    assert done.subjects.get("results") == 1, done.subjects
    for t in tables:
        assert count(db, tenant, f"SELECT count(*) FROM {t} WHERE attempt_id = :a",
                     a=sat.attempt) == 0, t  # fmt: skip
    assert count(db, tenant, "SELECT count(*) FROM attempts WHERE id = :a "
                 "AND results_deleted_at IS NOT NULL", a=sat.attempt) == 1  # fmt: skip
    with db.unit_of_work(tenant) as uow:
        receipt = uow.scalar(select(Receipt).where(Receipt.data_class == "results"))
        assert receipt is not None and receipt.counts["action"] == "delete"
        assert receipt.counts["rows"]["attempt_results"] == before["attempt_results"]
        assert receipt.counts["rows"]["result_releases"] == 1
        with pytest.raises(Gone, match="deleted under the retention policy"):
            attempt_result.build(uow, sat.attempt, with_identity=True)
        assert verify.check(uow, evidence).ok
    report = _verify(db, tenant, ring)
    assert report.ok, report.records.problems
    named = " ".join(report.records.purged_records)
    assert "result " in named and "release " in named, report.records.purged_records
    # the other organisation's result, under the defaults, is untouched
    for t in ("attempt_results", "result_releases"):
        assert count(db, other, f"SELECT count(*) FROM {t} WHERE attempt_id = :a",
                     a=kept.attempt) >= 1  # fmt: skip
    # a second run finds nothing more to do
    assert purge.run_tenant(db, tenant, evidence, now=month).subjects.get("results") is None


def test_the_check_names_a_result_a_delete_policy_left(
    db: Database, settings: Settings, evidence: Evidence, ring: KeyRing,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from invigil.retention import policy

    tenant = make_tenant(db, settings).id
    doc = policy.DEFAULT.as_json()
    doc["classes"]["results"] = {"keep_days": 30, "from": "candidate_last_active", "then": "delete"}
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        policy.set_policy(uow, doc, reason="results go after a month")
    sat = sit(db, settings, tenant, evidence)
    monkeypatch.setattr(purge, "_results", lambda *args, **kwargs: None)  # a purge that forgot
    run = purge.run_tenant(db, tenant, evidence, now=sat.submitted_at + timedelta(days=31))
    assert run.subjects.get("results") == 1
    assert any(f"a result of attempt {sat.attempt} is still stored" in p for p in run.problems)
