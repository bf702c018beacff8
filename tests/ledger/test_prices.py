"""Price lists and the charges of business events: versioned, written once,
charged in the event's own transaction, refused whole when short, and
recomputed by `ledger verify`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts, bulk
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, Invitation, OutboxMail
from invigil.errors import Invalid, PaymentRequired
from invigil.ledger import prices, service
from invigil.ledger.verify import verify
from invigil.proctoring import disclosure
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, make_invitation, published_exam

PRICES: dict[str, Any] = {
    "invitation": {"unproctored": 0, "webcam": 1, "screen": 2},
    "attempt": {"unproctored": 1, "webcam": 3, "screen": 5},
    "evidence_gb_month": 2,
    "ai_per_1k_tokens": {"*": 1, "big-model": 4},
}


def _uow(db: Database, tenant: uuid.UUID):  # type: ignore[no-untyped-def]
    return db.unit_of_work(tenant, Actor.operator("test"))


def _priced(db: Database, settings: Settings, credits: int) -> uuid.UUID:
    tenant = make_tenant(db, settings).id
    now = datetime.now(UTC)
    with _uow(db, tenant) as uow:
        prices.set_price_list(uow, PRICES, reason="the standard plan", now=now)
        if credits:
            service.credit(uow, credits, f"INV-{uuid.uuid4().hex[:8]}", now=now)
    return tenant


def _charges(db: Database, tenant: uuid.UUID) -> list[service.Transferred]:
    with _uow(db, tenant) as uow:
        return service.history(uow, limit=500, kind="charge").items


def test_a_price_list_names_its_first_bad_field() -> None:
    with pytest.raises(Invalid) as exc:
        prices.parse({**PRICES, "attempt": {"unproctored": 1, "webcam": 3}})
    assert exc.value.extensions["field"] == "attempt.screen"
    with pytest.raises(Invalid, match=r"invitation\.webcam"):
        prices.parse({**PRICES, "invitation": {"unproctored": 0, "webcam": -1, "screen": 2}})
    with pytest.raises(Invalid, match="tax"):
        prices.parse({**PRICES, "tax": 5})
    with pytest.raises(Invalid, match=r"invitation\.webcam"):
        prices.parse({**PRICES, "invitation": {"unproctored": 0, "webcam": 1.5, "screen": 2}})
    with pytest.raises(Invalid, match="ai_per_1k_tokens"):
        prices.parse({**PRICES, "ai_per_1k_tokens": {}})
    with pytest.raises(Invalid):
        prices.parse([1, 2])
    assert prices.parse(PRICES).ai_rate("big-model") == 4
    assert prices.parse(PRICES).ai_rate("other") == 1
    assert prices.ai_cost(4, 1) == 1 and prices.ai_cost(4, 250) == 1 and prices.ai_cost(4, 251) == 2


def test_levels_follow_what_the_policy_captures() -> None:
    assert disclosure.billing_level(()) == "unproctored"
    assert disclosure.billing_level(("focus", "clipboard")) == "unproctored"
    assert disclosure.billing_level(("camera", "focus")) == "webcam"
    assert disclosure.billing_level(("id_photo",)) == "webcam"
    assert disclosure.billing_level(("camera", "microphone", "screen")) == "screen"


def test_versions_are_written_once_and_never_backdated(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    now = datetime.now(UTC)
    with _uow(database, tenant) as uow:
        assert prices.in_force(uow, now) is None
        first = prices.set_price_list(uow, PRICES, reason="launch", now=now)
        later = now + timedelta(days=30)
        second = prices.set_price_list(
            uow, {**PRICES, "evidence_gb_month": 3}, reason="storage costs", now=now,
            effective_from=later,
        )  # fmt: skip
        with pytest.raises(Invalid) as exc:
            prices.set_price_list(
                uow, PRICES, reason="retro", now=now, effective_from=now - timedelta(days=1)
            )
        assert exc.value.extensions["field"] == "effective_from"
    assert (first.version, second.version) == (1, 2)
    with _uow(database, tenant) as uow:
        assert prices.in_force(uow, now + timedelta(seconds=1)).version == 1  # type: ignore[union-attr]
        assert prices.in_force(uow, later).version == 2  # type: ignore[union-attr]
        assert [v.version for v in prices.versions(uow)] == [2, 1]
        with pytest.raises(DBAPIError, match="permission denied"):
            uow.session.execute(text("UPDATE ledger_price_lists SET reason = 'x'"))
    with _uow(database, tenant) as uow:
        assert verify(uow).ok


def test_an_unmetered_tenant_is_charged_nothing(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    made = make_invitation(database, tenant, kit_for(settings))
    assert made.invitation.id and _charges(database, tenant) == []


def _start(db: Database, settings: Settings, tenant: uuid.UUID, exam: uuid.UUID) -> Any:
    kit = kit_for(settings)
    made = make_invitation(db, tenant, kit, exam_id=exam)
    with _uow(db, tenant) as uow:
        version = attempts.version_of(uow, made.invitation.exam_id, made.invitation.exam_version)
        words = consent_text(version)
        started = attempts.start(
            uow, kit.key, made.invitation, version, consent_text=words, consent_language="en",
            shown_sha256=attempts.text_sha256(words), shown_language="en",
            browser=attempts.Browser(),
        )  # fmt: skip
        started.attempt.face_seen_at = datetime.now(UTC)
        return made, started.attempt.id


def _begin(db: Database, tenant: uuid.UUID, made: Any, attempt_id: uuid.UUID) -> None:
    with _uow(db, tenant) as uow:
        attempt = uow.get(Attempt, attempt_id)
        version = attempts.version_of(uow, made.invitation.exam_id, made.invitation.exam_version)
        invitation = uow.get(Invitation, made.invitation.id)
        attempts.begin(uow, attempt, version, invitation)


def test_invitations_and_starts_are_charged_once_by_level(
    database: Database, settings: Settings
) -> None:
    tenant = _priced(database, settings, credits=100)
    strict = published_exam(database, tenant, settings={"proctoring_preset": "strict"})
    made, attempt_id = _start(database, settings, tenant, strict)
    _begin(database, tenant, made, attempt_id)
    _begin(database, tenant, made, attempt_id)  # idempotent: already in progress
    charges = _charges(database, tenant)
    by_key = {c.key: c for c in charges}
    assert set(by_key) == {
        f"charge:invitation:{made.invitation.id}",
        f"charge:attempt:{attempt_id}",
    }
    assert by_key[f"charge:invitation:{made.invitation.id}"].meta == {
        "invitation": str(made.invitation.id), "price_list": "1", "level": "screen",
    }  # fmt: skip
    assert by_key[f"charge:attempt:{attempt_id}"].legs == (
        service.Leg(service.CREDITS, -5), service.Leg(service.CONSUMED, 5),
    )  # fmt: skip
    practice = published_exam(database, tenant, settings={"proctoring_preset": "practice"})
    make_invitation(database, tenant, kit_for(settings), exam_id=practice)  # free: 0 credits
    assert len(_charges(database, tenant)) == 2
    with _uow(database, tenant) as uow:
        assert service.balance(uow) == 100 - 2 - 5
        assert verify(uow).ok


def test_short_credit_refuses_the_invitation_and_writes_nothing(
    database: Database, settings: Settings
) -> None:
    tenant = _priced(database, settings, credits=0)
    exam = published_exam(database, tenant)
    with pytest.raises(PaymentRequired) as exc:
        make_invitation(database, tenant, kit_for(settings, smtp=True), exam_id=exam)
    assert exc.value.extensions["shortfall"] == 1
    with _uow(database, tenant) as uow:
        assert uow.scalar(select(func.count()).select_from(Invitation)) == 0
        assert uow.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_a_start_the_credit_cannot_pay_is_refused_in_candidate_words(
    database: Database, settings: Settings
) -> None:
    tenant = _priced(database, settings, credits=1)  # pays the invitation, not the start
    exam = published_exam(database, tenant)
    made, attempt_id = _start(database, settings, tenant, exam)
    with pytest.raises(attempts.OrganiserCannotPay) as exc:
        _begin(database, tenant, made, attempt_id)
    problem = exc.value.problem()
    assert exc.value.status == 402 and problem["type"].endswith(":exam-unavailable")
    assert "credit" not in problem["detail"] and "balance" not in problem["detail"]
    with _uow(database, tenant) as uow:
        assert uow.get(Attempt, attempt_id).status == "ready"  # type: ignore[union-attr]
        service.credit(uow, 10, "INV-late", now=datetime.now(UTC))
    _begin(database, tenant, made, attempt_id)
    with _uow(database, tenant) as uow:
        assert uow.get(Attempt, attempt_id).status == "in_progress"  # type: ignore[union-attr]


def test_a_bulk_invitation_that_would_overdraw_is_refused_whole(
    database: Database, settings: Settings
) -> None:
    tenant = _priced(database, settings, credits=2)
    exam = published_exam(database, tenant)
    rows = "\n".join(f"Person {i},p{i}-{uuid.uuid4().hex[:6]}@example.org" for i in range(3))
    content = f"name,email\n{rows}\n".encode()
    with _uow(database, tenant) as uow, pytest.raises(PaymentRequired) as exc:
        bulk.invite_many(uow, kit_for(settings, smtp=True), content, exam=str(exam))
    assert "3 invitations" in exc.value.detail and exc.value.extensions["shortfall"] == 1
    with _uow(database, tenant) as uow:
        assert uow.scalar(select(func.count()).select_from(Invitation)) == 0
        assert uow.scalar(select(func.count()).select_from(OutboxMail)) == 0
        service.credit(uow, 1, "INV-more", now=datetime.now(UTC))
    with _uow(database, tenant) as uow:
        done = bulk.invite_many(uow, kit_for(settings, smtp=True), content, exam=str(exam))
    assert len(done) == 3 and len(_charges(database, tenant)) == 3


def test_verify_recomputes_each_charge_from_its_price_list(
    database: Database, settings: Settings, urls: DatabaseUrls
) -> None:
    tenant = _priced(database, settings, credits=50)
    event = uuid.uuid4()
    with _uow(database, tenant) as uow:  # a charge priced wrongly (a bug, not a tampering)
        service.charge(
            uow, 7, ("attempt", event), now=datetime.now(UTC),
            meta={"price_list": "1", "level": "webcam"},
        )  # fmt: skip
        service.charge(
            uow, 1, ("invitation", uuid.uuid4()), now=datetime.now(UTC),
            meta={"price_list": "9", "level": "webcam"},
        )  # fmt: skip
    with _uow(database, tenant) as uow:
        report = verify(uow)
    assert not report.ok
    assert report.problem_count == 2
    assert any("took 7 credits; price list version 1 says 3 at the webcam" in p
               for p in report.problems)  # fmt: skip
    assert any("price list version 9 and level webcam, which do not exist" in p
               for p in report.problems)  # fmt: skip
    # and a price list edited behind the ledger's back is named
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(
            text("UPDATE ledger_price_lists SET document = jsonb_set(document, "
                 "'{evidence_gb_month}', '0') WHERE tenant_id = :t"), {"t": tenant},
        )  # fmt: skip
    engine.dispose()
    with _uow(database, tenant) as uow:
        report = verify(uow)
    assert any("price list version 1 no longer hashes" in p for p in report.problems)
