"""The ledger: transfers balanced and written once in the database itself,
idempotent keys, 402 naming the shortfall, reversal once, concurrent debits
that never overdraw, and `ledger verify` naming each tampering."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from invigil.audit.anchored import verify_records
from invigil.cli import cli
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.errors import Conflict, Invalid, PaymentRequired
from invigil.ledger import service
from invigil.ledger.service import AI_USAGE, CONSUMED, CREDITS, REFUNDS, TOPUPS, Leg
from invigil.ledger.verify import SOURCES, verify
from invigil.settings import Settings
from tests.conftest import make_tenant

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
LATER = datetime(2026, 12, 7, 10, tzinfo=UTC)


def _uow(db: Database, tenant: uuid.UUID):  # type: ignore[no-untyped-def]
    return db.unit_of_work(tenant, Actor.operator("test"))


def test_legs_are_validated_naming_the_field() -> None:
    with pytest.raises(Invalid, match="sum to zero"):
        service._legs([Leg(CREDITS, 5), Leg(CONSUMED, -4)])
    with pytest.raises(Invalid, match=r"2-16 legs"):
        service._legs([Leg(CREDITS, 0)])
    with pytest.raises(Invalid, match=r"legs\[1\].amount"):
        service._legs([Leg(CREDITS, 5), Leg(CONSUMED, 0)])
    with pytest.raises(Invalid, match="not an account"):
        service._legs([Leg("cash", 5), Leg(CONSUMED, -5)])
    with pytest.raises(Invalid, match=r"meta\.name"):
        service._meta({"name": "Ada Lovelace"})
    with pytest.raises(PaymentRequired) as exc:
        raise service.InsufficientFunds("x", shortfall=3)
    assert exc.value.problem()["type"] == "urn:invigil:problem:payment-required"
    assert exc.value.status == 402


def test_top_up_charge_idempotency_and_shortfall(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    with _uow(database, tenant) as uow:
        first = service.credit(uow, 10, "INV-1", now=NOW)
    with _uow(database, tenant) as uow:
        again = service.credit(uow, 10, "INV-1", now=NOW)
        assert again.replayed and again.id == first.id
        with pytest.raises(Conflict, match="topup:INV-1") as conflict:
            service.credit(uow, 11, "INV-1", now=NOW)
        assert conflict.value.status == 409
    event = uuid.uuid4()
    with _uow(database, tenant) as uow:
        charged = service.charge(uow, 7, ("invitation", event), now=LATER)
        assert charged.meta == {"invitation": str(event)}
        assert service.charge(uow, 7, ("invitation", event), now=NOW).id == charged.id
    with _uow(database, tenant) as uow, pytest.raises(PaymentRequired) as short:
        service.charge(uow, 5, ("invitation", uuid.uuid4()), now=NOW)
    assert short.value.extensions == {"account": CREDITS, "balance": 3, "shortfall": 2}
    assert "credits_available" in short.value.detail and "2 short" in short.value.detail
    with _uow(database, tenant) as uow:
        assert service.balances(uow) == {
            CREDITS: 3,
            CONSUMED: 7,
            TOPUPS: -10,
            AI_USAGE: 0,
            REFUNDS: 0,
        }
        assert verify(uow).ok
        page = service.history(uow, limit=1)
        assert [t.kind for t in page.items] == ["charge"] and page.next_before is not None
        rest = service.history(uow, limit=5, before=page.next_before)
        assert [t.kind for t in rest.items] == ["topup"] and rest.next_before is None
        assert verify_records(uow, SOURCES).problems == []


def test_a_transfer_is_reversed_once(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    with _uow(database, tenant) as uow:
        service.credit(uow, 10, "R-1", now=NOW)
        charged = service.charge(uow, 4, ("attempt", uuid.uuid4()), now=NOW)
        undone = service.reverse(uow, charged.id, "technical failure", "refund:1", now=NOW)
        assert undone.reverses_id == charged.id
        assert {leg.account: leg.amount for leg in undone.legs} == {CREDITS: 4, CONSUMED: -4}
        assert service.reverse(uow, charged.id, "technical failure", "refund:1", now=NOW).replayed
        with pytest.raises(Conflict, match="already reversed"):
            service.reverse(uow, charged.id, "duplicate", "refund:2", now=NOW)
        with pytest.raises(Invalid, match="must negate"):
            service.transfer(uow, "refund:5", "reversal", [Leg(CREDITS, -4), Leg(CONSUMED, 4)],
                             reason="wrong way", now=NOW, reverses=charged.id)  # fmt: skip
        with pytest.raises(Conflict, match="is a reversal"):
            service.reverse(uow, undone.id, "again", "refund:3", now=NOW)
        assert service.balance(uow) == 10
    # The database holds it too, whatever Python checks.
    with (
        pytest.raises(psycopg.Error, match="uq_ledger_transfers_tenant_id_reverses_id"),
        _uow(database, tenant) as uow,
    ):
        service.charge(uow, 4, ("attempt", uuid.uuid4()), now=NOW)  # something to refund
        service.transfer(uow, "refund:4", "reversal", [Leg(CREDITS, 4), Leg(CONSUMED, -4)],
                             reason="sneaky", now=NOW, reverses=charged.id)  # fmt: skip


def _raw_transfer(uow: UnitOfWork, amounts: list[int]) -> None:
    ids = service._accounts(uow, [CREDITS, CONSUMED, TOPUPS][: len(amounts)])
    tid = uuid.uuid4()
    cur = uow.driver().cursor()
    cur.execute(
        "INSERT INTO ledger_transfers (tenant_id, id, key, kind, reason, meta, created_by, "
        "request_sha256, sha256) VALUES (%s, %s, %s, 'raw', 'raw', '{}', 'x', 'x', 'x')",
        (uow.tenant, tid, str(tid)),
    )
    for code, amount in zip(ids, amounts, strict=False):
        cur.execute(
            "INSERT INTO ledger_entries (tenant_id, id, transfer_id, account_id, amount) "
            "VALUES (%s, %s, %s, %s, %s)",
            (uow.tenant, uuid.uuid4(), tid, ids[code], amount),
        )


@pytest.mark.parametrize(
    ("amounts", "message"),
    [([5, -4], "does not balance: its entries sum to 1"), ([], "has 0 entries"),
     ([5], "has 1 entries")],
)  # fmt: skip
def test_the_database_refuses_an_unbalanced_transfer_at_commit(
    database: Database, settings: Settings, amounts: list[int], message: str
) -> None:
    tenant = make_tenant(database, settings).id
    with pytest.raises(DBAPIError, match=message), _uow(database, tenant) as uow:
        _raw_transfer(uow, amounts)
    with _uow(database, tenant) as uow:  # a balanced one written by hand commits
        _raw_transfer(uow, [-5, 5])


def test_the_app_role_cannot_change_the_ledger(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    with _uow(database, tenant) as uow:
        service.credit(uow, 10, "A-1", now=NOW)
    for sql in (
        "UPDATE ledger_entries SET amount = 1",
        "DELETE FROM ledger_entries",
        "UPDATE ledger_transfers SET reason = 'x'",
        "DELETE FROM ledger_transfers",
        "DELETE FROM ledger_accounts",
        "UPDATE ledger_accounts SET may_go_negative = true",
        "UPDATE ledger_accounts SET balance = -1 WHERE code = 'credits_available'",
    ):
        with (
            pytest.raises(DBAPIError, match=r"permission denied|check constraint"),
            _uow(database, tenant) as uow,
        ):
            uow.session.execute(text(sql))


def test_sixteen_connections_never_overdraw(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    with _uow(database, tenant) as uow:
        service.credit(uow, 10, "C-1", now=NOW)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def debit() -> None:
        start.wait()
        try:
            with _uow(database, tenant) as uow:
                service.charge(uow, 3, ("attempt", uuid.uuid4()), now=NOW)
            result = "ok"
        except PaymentRequired:
            result = "402"
        except Exception as exc:  # a deadlock or anything else fails the test below
            result = repr(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=debit) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["402"] * 13 + ["ok"] * 3
    with _uow(database, tenant) as uow:
        assert service.balance(uow) == 1
        assert verify(uow).ok


def _tampered(
    urls: DatabaseUrls, tenant_id: uuid.UUID, sql: str, records: list[str] | None = None
) -> list[str]:
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for statement in sql.split(";"):
                conn.execute(text(statement), {"t": tenant_id})
            conn.exec_driver_sql("SET LOCAL ROLE invigil_owner")
            uow = UnitOfWork.begin(Session(bind=conn), tenant_id, Actor.operator())
            report = verify(uow)
            if records is not None:  # what `invigil audit verify` says of the same rows
                records += [str(p) for p in verify_records(uow, SOURCES).problems]
            tx.rollback()
    finally:
        engine.dispose()
    return report.problems


def test_verify_names_each_tampering(
    database: Database, settings: Settings, urls: DatabaseUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_tenant(database, settings)
    tenant = made.id
    with _uow(database, tenant) as uow:
        top = service.credit(uow, 10, "T-1", now=NOW)
        charged = service.charge(uow, 4, ("attempt", uuid.uuid4()), now=NOW)
    seen_by_audit: list[str] = []
    edited = _tampered(urls, tenant, "UPDATE ledger_entries SET amount = -5 WHERE tenant_id = :t "
                       f"AND transfer_id = '{charged.id}' AND amount = -4", seen_by_audit)  # fmt: skip
    assert any(str(charged.id) in p for p in seen_by_audit), seen_by_audit
    assert (
        edited[0]
        == f"transfer {charged.id} ({charged.key}) does not balance: its entries sum to -1"
    )
    assert f"transfer {charged.id} ({charged.key}) no longer hashes to its sha256" in edited
    deleted = _tampered(urls, tenant, "DELETE FROM ledger_entries WHERE tenant_id = :t AND "
                        f"transfer_id = '{top.id}'; DELETE FROM ledger_transfers WHERE "
                        f"tenant_id = :t AND id = '{top.id}'")  # fmt: skip
    assert f"transfer {top.id} is anchored in audit entry" in " ".join(deleted)
    assert any(p.startswith("account credits_available holds 6, but its entries sum to -4")
               for p in deleted)  # fmt: skip
    changed = _tampered(urls, tenant, "UPDATE ledger_accounts SET balance = 600 "
                        "WHERE tenant_id = :t AND code = 'credits_available'")  # fmt: skip
    assert changed == ["account credits_available holds 600, but its entries sum to 6"]

    # Through the command: exit 0 now, exit 1 naming the first failure.
    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    ok = CliRunner().invoke(cli, ["ledger", "verify", "--tenant", made.slug])
    assert ok.exit_code == 0, ok.output
    assert "2 transfers, 4 entries, 5 accounts verify" in ok.output
    credited = CliRunner().invoke(
        cli, ["ledger", "credit", "--tenant", made.slug, "--amount", "5", "--reference", "T-2"]
    )
    assert credited.exit_code == 0, credited.output
    assert "credits available 11" in credited.output
    replay = CliRunner().invoke(
        cli, ["--json", "ledger", "credit", "--tenant", made.slug, "--amount", "5",
              "--reference", "T-2"],
    )  # fmt: skip
    assert '"replayed": true' in replay.output
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text("UPDATE ledger_accounts SET balance = 600 WHERE tenant_id = :t "
                          "AND code = 'credits_available'"), {"t": tenant})  # fmt: skip
    engine.dispose()
    bad = CliRunner().invoke(cli, ["ledger", "verify", "--tenant", made.slug])
    assert bad.exit_code == 1
    assert (
        "first failure: account credits_available holds 600, but its entries sum to 11"
        in bad.output
    )
    as_json = CliRunner().invoke(cli, ["--json", "ledger", "verify", "--tenant", made.slug])
    assert as_json.exit_code == 1
    found = json.loads(as_json.output)
    assert found["ok"] is False and found["problem_count"] == 1
    assert found["first_problem"].startswith("account credits_available holds 600")
    unknown = CliRunner().invoke(cli, ["ledger", "verify", "--tenant", "no-such-tenant"])
    assert unknown.exit_code != 0


def test_a_remembered_account_id_that_no_longer_matches_writes_nothing(
    database: Database, settings: Settings
) -> None:
    """The transfer locks the accounts by the ids this process remembered; a
    stale id (a restored database) locks nothing, writes nothing, is a 409
    and is forgotten, so the next attempt reads the accounts again."""
    tenant = make_tenant(database, settings).id
    with _uow(database, tenant) as uow:
        service.credit(uow, 10, "INV-STALE", now=NOW)
    with _uow(database, tenant) as uow:  # remembered once seen committed
        service.charge(uow, 1, ("attempt", uuid.uuid4()), now=NOW)
    assert tenant in service._OPENED
    service._OPENED[tenant] = {**service._OPENED[tenant], CREDITS: uuid.uuid4()}
    with _uow(database, tenant) as uow, pytest.raises(Conflict, match="missing"):
        service.charge(uow, 1, ("attempt", uuid.uuid4()), now=NOW)
    assert tenant not in service._OPENED
    with _uow(database, tenant) as uow:
        service.charge(uow, 1, ("attempt", uuid.uuid4()), now=NOW)
        assert service.balances(uow)[CREDITS] == 8
        assert len(service.history(uow).items) == 3
        assert verify(uow).ok


def test_a_refused_transfer_writes_neither_rows_nor_audit_entry(
    database: Database, settings: Settings
) -> None:
    """The funds check sits in the transfer's statement: when it refuses, no
    transfer, entry, balance or audit entry is written (the 402 still names
    the account and the shortfall)."""
    tenant = make_tenant(database, settings).id
    with _uow(database, tenant) as uow:
        service.credit(uow, 2, "INV-SHORT", now=NOW)
    with _uow(database, tenant) as uow:
        seq = uow.driver().execute("SELECT max(seq) FROM audit_events").fetchone()[0]
    with _uow(database, tenant) as uow:
        with pytest.raises(PaymentRequired) as short:
            service.charge(uow, 5, ("attempt", uuid.uuid4()), now=NOW)
        assert short.value.extensions == {"account": CREDITS, "balance": 2, "shortfall": 3}
        counted = uow.driver().execute(
            "SELECT (SELECT count(*) FROM ledger_transfers), (SELECT count(*) FROM ledger_entries),"
            " (SELECT max(seq) FROM audit_events)"
        )
        assert counted.fetchone() == (1, 2, seq)
        assert service.balances(uow)[CREDITS] == 2
