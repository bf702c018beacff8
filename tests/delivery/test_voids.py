"""Voiding an attempt: the record written once, the refund of its start as a
reversal, a running attempt ended through the submission path and its
player refused, a retake on the same link, and `audit verify` naming a
tampered void."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts, voids
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, AttemptResult, AttemptVoid, Invitation
from invigil.errors import Invalid
from invigil.ledger import prices
from invigil.ledger import service as ledger
from invigil.ledger.verify import verify as ledger_verify
from invigil.proctoring.models import ProctoringEvent
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, make_invitation, published_exam

PRICES: dict[str, Any] = {
    "invitation": {"unproctored": 0, "webcam": 1, "screen": 2},
    "attempt": {"unproctored": 4, "webcam": 3, "screen": 5},
    "evidence_gb_month": 2,
    "ai_per_1k_tokens": {"*": 1},
}


def _uow(db: Database, tenant: uuid.UUID, who: str = "test"):  # type: ignore[no-untyped-def]
    return db.unit_of_work(tenant, Actor.operator(who))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("void-keys"))


@dataclass
class Sitting:
    tenant: uuid.UUID
    invitation: Invitation
    attempt_id: uuid.UUID
    key: Any


def _tenant(db: Database, settings: Settings, *, metered: bool, credits: int = 100) -> uuid.UUID:
    tenant = make_tenant(db, settings).id
    if metered:
        now = datetime.now(UTC)
        with _uow(db, tenant) as uow:
            prices.set_price_list(uow, PRICES, reason="the standard plan", now=now)
            ledger.credit(uow, credits, f"INV-{uuid.uuid4().hex[:8]}", now=now)
    return tenant


def _exam(db: Database, tenant: uuid.UUID, allowed: int = 1) -> uuid.UUID:
    return published_exam(
        db, tenant, settings={"proctoring_preset": "practice", "attempts_allowed": allowed}
    )


def _start(db: Database, settings: Settings, tenant: uuid.UUID, invitation: Invitation) -> Attempt:
    kit = kit_for(settings)
    with _uow(db, tenant) as uow:
        version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
        words = consent_text(version)
        started = attempts.start(
            uow, kit.key, invitation, version, consent_text=words, consent_language="en",
            shown_sha256=attempts.text_sha256(words), shown_language="en",
            browser=attempts.Browser(),
        )  # fmt: skip
        started.attempt.face_seen_at = datetime.now(UTC)
        attempts.begin(uow, started.attempt, version, invitation)
        return started.attempt


def _sit(db: Database, settings: Settings, *, metered: bool = True, allowed: int = 1) -> Sitting:
    tenant = _tenant(db, settings, metered=metered)
    made = make_invitation(db, tenant, kit_for(settings), exam_id=_exam(db, tenant, allowed))
    attempt = _start(db, settings, tenant, made.invitation)
    return Sitting(tenant, made.invitation, attempt.id, kit_for(settings).key)


def _submit(db: Database, s: Sitting) -> None:
    with _uow(db, s.tenant) as uow:
        attempts.submit(uow, uow.get(Attempt, s.attempt_id), "candidate")


def _balance(db: Database, tenant: uuid.UUID) -> dict[str, int]:
    with _uow(db, tenant) as uow:
        return ledger.balances(uow)


@pytest.mark.parametrize("reason", voids.REASONS)
def test_a_submitted_attempt_is_voided_and_its_start_refunded(
    database: Database, settings: Settings, reason: str
) -> None:
    s = _sit(database, settings)
    _submit(database, s)
    before = _balance(database, s.tenant)
    assert before[ledger.CREDITS] == 100 - 4  # the start was charged (unproctored: 4)
    with _uow(database, s.tenant, "admin") as uow:
        done = voids.void(uow, s.attempt_id, reason, "the webcam froze")
    row = done.void
    assert (row.reason, row.status_before, row.voided_by) == (reason, "submitted", "operator:admin")
    assert done.refund is not None and row.refund_transfer_id == done.refund.id
    assert done.refund.key == f"refund:attempt:{s.attempt_id}"
    assert reason.replace("_", " ") in done.refund.reason
    charge_key = f"charge:attempt:{s.attempt_id}"
    with _uow(database, s.tenant) as uow:
        charge = ledger.by_key(uow, charge_key)
        assert charge is not None and done.refund.reverses_id == charge.id
        assert {(leg.account, -leg.amount) for leg in charge.legs} == {
            (leg.account, leg.amount) for leg in done.refund.legs
        }
        assert ledger_verify(uow).ok
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == "attempt.voided"))
        assert entry is not None and entry.subject_id == str(s.attempt_id)
        assert entry.payload["anchor"] == {"kind": "attempt_void", "sha256": row.sha256}
        assert entry.payload["refunded"] == 4 and entry.payload["reason"] == reason
        # the attempt itself is as it was: submitted by the candidate
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt is not None and attempt.submit_reason == "candidate"
    after = _balance(database, s.tenant)
    assert after[ledger.CREDITS] == 100 and after[ledger.CONSUMED] == 0


def test_a_running_attempt_is_submitted_by_its_void_and_the_player_refused(
    database: Database, settings: Settings, keys: Keys
) -> None:
    s = _sit(database, settings)
    with _uow(database, s.tenant) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt is not None
        attempts.save(uow, attempt, [attempts.Item(index=0, response=None, seq=1)])
    with _uow(database, s.tenant) as uow:
        done = voids.void(uow, s.attempt_id, "technical_failure", "power cut in the test centre")
    assert done.void.status_before == "in_progress"
    with _uow(database, s.tenant) as uow:
        attempt = uow.get(Attempt, s.attempt_id)
        assert attempt is not None
        assert (attempt.status, attempt.submit_reason) == ("submitted", "voided")
        # scored and sealed as any submission: a result and the answer sheet anchored
        assert uow.scalar(select(func.count()).select_from(AttemptResult)) == 1
        actions = list(uow.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert actions.index("attempt.submitted") < actions.index("attempt.voided")
        with pytest.raises(attempts.AttemptVoided) as refused:
            attempts.save(uow, attempt, [attempts.Item(index=0, response=None, seq=2)])
        assert refused.value.status == 409
        assert refused.value.problem()["type"].endswith(":attempt-closed")  # the player stops
        assert "voided" in refused.value.detail
        with pytest.raises(attempts.AttemptVoided):
            attempts.heartbeat(uow, attempt, 0)
        assert ledger_verify(uow).ok
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert report.ok, (report.problems, report.records)
    assert report.records is not None and report.records.anchored >= 3


def test_voiding_twice_is_a_conflict_and_the_row_is_written_once(
    database: Database, settings: Settings
) -> None:
    s = _sit(database, settings)
    with _uow(database, s.tenant) as uow:
        voids.void(uow, s.attempt_id, "duplicate")
    with _uow(database, s.tenant) as uow, pytest.raises(voids.AlreadyVoided) as exc:
        voids.void(uow, s.attempt_id, "technical_failure")
    assert exc.value.status == 409
    with _uow(database, s.tenant) as uow:
        assert uow.scalar(select(func.count()).select_from(AttemptVoid)) == 1
        assert len(ledger.history(uow, limit=50, kind="reversal").items) == 1
        with pytest.raises(DBAPIError, match="permission denied"):
            uow.session.execute(text("UPDATE attempt_voids SET note = 'x'"))
    with _uow(database, s.tenant) as uow, pytest.raises(DBAPIError, match="permission denied"):
        uow.session.execute(text("DELETE FROM attempt_voids"))


def test_bad_reasons_and_notes_are_named_and_change_nothing(
    database: Database, settings: Settings
) -> None:
    s = _sit(database, settings)
    cases = [("broken", "", "reason"), ("other", "   ", "note"), ("duplicate", "x" * 1001, "note")]
    for reason, note, field in cases:
        with _uow(database, s.tenant) as uow, pytest.raises(Invalid) as exc:
            voids.void(uow, s.attempt_id, reason, note)
        assert exc.value.extensions["field"] == field
    with _uow(database, s.tenant) as uow:
        assert voids.of(uow, s.attempt_id) is None
        assert uow.get(Attempt, s.attempt_id).status == "in_progress"  # type: ignore[union-attr]
        with pytest.raises(voids.NotBegun):  # not found is 404; not begun 409
            ready = _ready(database, settings, s.tenant)
            voids.void(uow, ready, "duplicate")
        with pytest.raises(Exception) as missing:
            voids.void(uow, uuid.uuid4(), "duplicate")
        assert getattr(missing.value, "status", None) == 404


def _ready(database: Database, settings: Settings, tenant: uuid.UUID) -> uuid.UUID:
    """An attempt consented to, its clock not started."""
    kit = kit_for(settings)
    made = make_invitation(database, tenant, kit, exam_id=_exam(database, tenant))
    with _uow(database, tenant) as uow:
        version = attempts.version_of(uow, made.invitation.exam_id, made.invitation.exam_version)
        words = consent_text(version)
        return attempts.start(
            uow, kit.key, made.invitation, version, consent_text=words, consent_language="en",
            shown_sha256=attempts.text_sha256(words), shown_language="en",
            browser=attempts.Browser(),
        ).attempt.id  # fmt: skip


def test_an_unmetered_tenant_voids_without_a_transfer(
    database: Database, settings: Settings
) -> None:
    s = _sit(database, settings, metered=False)
    with _uow(database, s.tenant) as uow:
        done = voids.void(uow, s.attempt_id, "technical_failure")
    assert done.refund is None and done.void.refund_transfer_id is None
    with _uow(database, s.tenant) as uow:
        assert ledger.history(uow, limit=50).items == []
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == "attempt.voided"))
        assert entry is not None and entry.payload["refunded"] == 0
        assert ledger_verify(uow).ok


def test_a_voided_attempt_leaves_room_for_a_retake_on_the_same_link(
    database: Database, settings: Settings
) -> None:
    s = _sit(database, settings, allowed=1)
    _submit(database, s)
    kit = kit_for(settings)
    with _uow(database, s.tenant) as uow:
        version = attempts.version_of(uow, s.invitation.exam_id, s.invitation.exam_version)
        words = consent_text(version)
        with pytest.raises(attempts.NoAttemptsLeft):  # without a void: used up
            attempts.start(
                uow, kit.key, s.invitation, version, consent_text=words, consent_language="en",
                shown_sha256=attempts.text_sha256(words), shown_language="en",
                browser=attempts.Browser(),
            )  # fmt: skip
    with _uow(database, s.tenant) as uow:
        voids.void(uow, s.attempt_id, "technical_failure", "the browser crashed")
    retake = _start(database, settings, s.tenant, s.invitation)
    assert retake.number == 2 and retake.id != s.attempt_id
    with _uow(database, s.tenant) as uow:
        assert attempts.counted(uow, s.invitation.id) == 1
        running = uow.get(Attempt, retake.id)
        assert running is not None and running.status == "in_progress"
        # the retake's start is charged anew; the voided one's refunded
        assert ledger.by_key(uow, f"charge:attempt:{retake.id}") is not None
        assert ledger.balances(uow)[ledger.CREDITS] == 100 - 4
        assert ledger_verify(uow).ok
    _submit(database, Sitting(s.tenant, s.invitation, retake.id, s.key))
    with _uow(database, s.tenant) as uow:  # and then the one allowed attempt is used
        version = attempts.version_of(uow, s.invitation.exam_id, s.invitation.exam_version)
        words = consent_text(version)
        with pytest.raises(attempts.NoAttemptsLeft):
            attempts.start(
                uow, kit.key, s.invitation, version, consent_text=words, consent_language="en",
                shown_sha256=attempts.text_sha256(words), shown_language="en",
                browser=attempts.Browser(),
            )  # fmt: skip


def test_the_evidence_and_trail_of_a_voided_attempt_are_kept(
    database: Database, settings: Settings
) -> None:
    s = _sit(database, settings)
    with _uow(database, s.tenant) as uow:
        before = list(
            uow.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.subject_id == str(s.attempt_id))
                .order_by(AuditEvent.seq)
            )
        )
        events = uow.scalar(select(func.count()).select_from(ProctoringEvent))
    with _uow(database, s.tenant) as uow:
        voids.void(uow, s.attempt_id, "duplicate")
    with _uow(database, s.tenant) as uow:
        after = list(
            uow.scalars(
                select(AuditEvent.id)
                .where(AuditEvent.subject_id == str(s.attempt_id))
                .order_by(AuditEvent.seq)
            )
        )
        assert after[: len(before)] == before and len(after) > len(before)
        assert uow.scalar(select(func.count()).select_from(ProctoringEvent)) >= (events or 0)
        assert uow.get(Attempt, s.attempt_id) is not None


@pytest.fixture
def rogue(urls: DatabaseUrls) -> Iterator[Any]:
    """The owner gone rogue: triggers off for its session, committed."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    yield engine
    engine.dispose()


def test_audit_verify_names_a_tampered_void(
    database: Database, settings: Settings, keys: Keys, rogue: Any
) -> None:
    s = _sit(database, settings)
    with _uow(database, s.tenant) as uow:
        voids.void(uow, s.attempt_id, "technical_failure", "camera failed")
    with _uow(database, s.tenant) as uow:
        assert audit_service.verify_tenant(uow, keys.audit, _sources()).ok
    with rogue.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(
            text("UPDATE attempt_voids SET reason = 'duplicate' WHERE tenant_id = :t"),
            {"t": s.tenant},
        )
    with _uow(database, s.tenant) as uow:
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
    assert not report.ok and report.records is not None
    bad = report.records.first_bad
    assert bad is not None
    assert (bad["kind"], bad["id"]) == ("attempt_void", str(s.attempt_id))
