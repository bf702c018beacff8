"""Evidence storage charged by the GB-month: each day measured once as it
was when it ended, the month's charges summing exactly to the floor of its
cost, missed days caught up in order, unmetered tenants charged nothing,
credit never taken below zero (the rest owed, charged when credit comes),
and `ledger verify` naming a measurement edited behind its back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from invigil.audit.anchored import verify_records
from invigil.cli import cli
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls
from invigil.errors import Invalid
from invigil.evidence.keys import data_key_for, destroy_subject_keys
from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import Evidence
from invigil.ledger import prices, service, storage
from invigil.ledger.models import StorageDay
from invigil.ledger.verify import SOURCES, verify
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.ledger.test_prices import PRICES

GB = storage.GB
# A whole month after today, so that tenants made now can be measured through it.
_today = datetime.now(UTC).date()
MONTH = (_today.replace(day=1) + timedelta(days=32)).replace(day=1)  # next month's first day
MONTH_DAYS = storage.days_in_month(MONTH)
AFTER = storage.start_of(MONTH + timedelta(days=MONTH_DAYS)) + timedelta(hours=1)


def _uow(db: Database, tenant: uuid.UUID):  # type: ignore[no-untyped-def]
    return db.unit_of_work(tenant, Actor.operator("test"))


def _metered(db: Database, settings: Settings, credits: int, rate: int = 3) -> uuid.UUID:
    """A tenant whose price list (``rate`` per GB-month) takes effect when MONTH begins."""
    tenant = make_tenant(db, settings).id
    begins = storage.start_of(MONTH)
    with _uow(db, tenant) as uow:
        prices.set_price_list(uow, {**PRICES, "evidence_gb_month": rate}, reason="plan",
                              now=begins, effective_from=begins)  # fmt: skip
        if credits:
            service.credit(uow, credits, f"INV-{uuid.uuid4().hex[:8]}", now=begins)
    return tenant


def _store(db: Database, settings: Settings, tenant: uuid.UUID,
           objects: list[tuple[datetime, int]], subject: str | None = None) -> str:  # fmt: skip
    """Evidence object rows made at given times with given stored sizes
    (the bytes themselves play no part in what is charged)."""
    subject = subject or str(uuid.uuid4())
    master = Evidence.from_settings(settings).master
    with _uow(db, tenant) as uow:
        key = data_key_for(uow, master, "candidate", subject)
        for at, size in objects:
            uow.add(EvidenceObject(
                tenant_id=tenant, id=uuid.uuid4(), created_at=at, data_key_id=key.id,
                tenant_key_id=key.tenant_key_id, subject_type="candidate", subject_id=subject,
                kind="snapshot", content_type="image/jpeg", region=settings.regions[0],
                store_key=f"{tenant}/snapshot/{uuid.uuid4()}", format=1, plaintext_size=size,
                plaintext_sha256="0" * 64, stored_size=size, created_by="test",
            ))  # fmt: skip
    return subject


def _days(db: Database, tenant: uuid.UUID) -> list[StorageDay]:
    with _uow(db, tenant) as uow:
        return list(uow.scalars(select(StorageDay).order_by(StorageDay.day)))


def _charged(db: Database, tenant: uuid.UUID) -> int:
    with _uow(db, tenant) as uow:
        return sum(-leg.amount for t in service.history(uow, limit=500, kind="charge").items
                   for leg in t.legs if leg.account == service.CREDITS)  # fmt: skip


@contextmanager
def _from_month_start() -> Iterator[None]:
    """Measuring starts when MONTH begins (not the tenant's first day)."""
    with mock.patch.object(storage, "first_day", lambda uow: MONTH):
        yield


def _owed(sizes: list[int], rates: list[int]) -> int:
    """The month's cost, from the definition, independently of the code."""
    return sum(r * b for r, b in zip(rates, sizes, strict=True)) // (GB * MONTH_DAYS)


@st.composite
def _months(draw: st.DrawFn) -> tuple[list[int], int, int | None, int]:
    sizes = draw(st.lists(st.integers(0, 3 * 10**12), min_size=MONTH_DAYS, max_size=MONTH_DAYS))
    first = draw(st.integers(0, 1000))
    second = draw(st.none() | st.integers(0, 1000))
    change = draw(st.integers(1, MONTH_DAYS - 1))
    return sizes, first, second, change


@hsettings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(month=_months())
def test_a_months_daily_charges_sum_to_the_floor_of_its_cost(
    database: Database, settings: Settings, month: tuple[list[int], int, int | None, int]
) -> None:
    sizes, first, second, change = month
    tenant = _metered(database, settings, credits=10**11, rate=first)
    rates = [first] * MONTH_DAYS
    if second is not None:  # a new price from a day within the month on
        at = storage.start_of(MONTH + timedelta(days=change))
        with _uow(database, tenant) as uow:
            prices.set_price_list(uow, {**PRICES, "evidence_gb_month": second}, reason="new",
                                  now=at, effective_from=at)  # fmt: skip
        rates[change:] = [second] * (MONTH_DAYS - change)
    measured = {MONTH + timedelta(days=i): (1, size) for i, size in enumerate(sizes)}
    with _from_month_start(), mock.patch.object(storage, "measure", lambda u, d: measured[d]):
        done = storage.run_tenant(database, tenant, now=AFTER, limit=100)
    assert [m.day for m in done] == sorted(measured)
    assert sum(m.charged for m in done) == _owed(sizes, rates) == _charged(database, tenant)
    for i, m in enumerate(done):  # each night: the floor so far, less what was charged
        assert m.owed_month == _owed(sizes[: i + 1] + [0] * (MONTH_DAYS - i - 1), rates)
        assert m.owed_total == m.owed_month and m.bytes == sizes[i]
    with _uow(database, tenant) as uow:
        assert verify(uow).ok


def test_storage_is_measured_as_it_was_when_each_day_ended(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    today = datetime.now(UTC).date()
    two_days_ago = storage.start_of(today - timedelta(days=2))
    subject = _store(database, settings, tenant, [(two_days_ago, 700), (two_days_ago, 300)])
    _store(database, settings, tenant, [(datetime.now(UTC), 50)])
    with _uow(database, tenant) as uow:
        assert storage.measure(uow, today - timedelta(days=3)) == (0, 0)
        assert storage.measure(uow, today - timedelta(days=1)) == (2, 1000)
        assert storage.measure(uow, today) == (3, 1050)
        destroy_subject_keys(uow, "candidate", subject, "erased on request")
    with _uow(database, tenant) as uow:  # crypto-shredded evidence is kept no more
        assert storage.measure(uow, today - timedelta(days=1)) == (2, 1000)
        assert storage.measure(uow, today) == (1, 50)


def test_a_real_month_of_evidence_is_charged_and_verified(
    database: Database, settings: Settings
) -> None:
    tenant = _metered(database, settings, credits=10**6, rate=7)
    stored = [(storage.start_of(MONTH + timedelta(days=d)) + timedelta(hours=5), (d + 1) * GB // 3)
              for d in range(0, MONTH_DAYS, 4)]  # fmt: skip
    _store(database, settings, tenant, stored)
    done = storage.run_tenant(database, tenant, now=AFTER, limit=100)
    days = _days(database, tenant)
    assert days[0].day == datetime.now(UTC).date()  # from the tenant's first day
    assert [m.day for m in done] == [d.day for d in days] and days[-1].day == AFTER.date() - timedelta(days=1)  # fmt: skip
    before = [d for d in days if d.day < MONTH]
    assert all(d.rate is None and d.charged == 0 for d in before)  # not yet metered
    sizes = [sum(s for at, s in stored if at.date() <= MONTH + timedelta(days=i))
             for i in range(MONTH_DAYS)]  # fmt: skip
    assert [d.bytes for d in days if d.day >= MONTH] == sizes
    assert _charged(database, tenant) == _owed(sizes, [7] * MONTH_DAYS) > 0
    with _uow(database, tenant) as uow:
        assert verify(uow).ok
        assert verify_records(uow, SOURCES).ok  # type: ignore[attr-defined]


def test_a_day_is_measured_once_in_order_and_missed_days_are_caught_up(
    database: Database, settings: Settings
) -> None:
    tenant = _metered(database, settings, credits=10**6)
    measured = {MONTH + timedelta(days=i): (1, 40 * GB) for i in range(MONTH_DAYS)}
    with _from_month_start(), mock.patch.object(storage, "measure", lambda u, d: measured[d]):
        first = storage.run_tenant(database, tenant, now=AFTER, limit=5)  # bounded work
        assert [m.day for m in first] == [MONTH + timedelta(days=i) for i in range(5)]
        again = storage.run_tenant(database, tenant, now=AFTER, through=MONTH)
        assert [(m.day, m.again) for m in again] == [(MONTH, True)]
        with _uow(database, tenant) as uow:
            same = storage.record_day(uow, MONTH + timedelta(days=2), now=AFTER)
            assert same.again and same.charged == first[2].charged
            with pytest.raises(Invalid, match="in order"):
                storage.record_day(uow, MONTH + timedelta(days=9), now=AFTER)
            with pytest.raises(Invalid, match="not over yet"):
                storage.record_day(uow, AFTER.date(), now=AFTER)
        rest = storage.run_tenant(database, tenant, now=AFTER, limit=100)
        assert storage.run_tenant(database, tenant, now=AFTER) == []
    assert [m.day for m in first + rest] == sorted(measured)
    assert _charged(database, tenant) == 40 * 3 == sum(m.charged for m in first + rest)
    with _uow(database, tenant) as uow:
        assert uow.scalar(select(func.count()).select_from(StorageDay)) == MONTH_DAYS
        assert verify(uow).ok


def test_a_tenant_without_a_price_list_is_measured_but_not_charged(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    _store(database, settings, tenant, [(storage.start_of(MONTH), 5 * GB)])
    done = storage.run_tenant(database, tenant, now=AFTER, limit=100)
    assert done and all(m.rate is None and m.owed_total == 0 and m.charged == 0 for m in done)
    assert done[-1].bytes == 5 * GB
    with _uow(database, tenant) as uow:
        assert service.history(uow, limit=10).items == []
        assert verify(uow).ok


def test_storage_never_overdraws_and_is_charged_when_credit_arrives(
    database: Database, settings: Settings
) -> None:
    tenant = _metered(database, settings, credits=2, rate=31)  # 1 credit a day per GB kept
    measured = {MONTH + timedelta(days=i): (1, GB) for i in range(MONTH_DAYS)}
    with _from_month_start(), mock.patch.object(storage, "measure", lambda u, d: measured[d]):
        short = storage.run_tenant(database, tenant, now=AFTER, limit=5)
        assert [m.charged for m in short] == [1, 1, 0, 0, 0]  # what there was, no more
        assert [m.owed_total for m in short] == [1, 2, 3, 4, 5]
        with _uow(database, tenant) as uow:
            assert service.balance(uow) == 0
            service.credit(uow, 100, "INV-late", now=AFTER)
        rest = storage.run_tenant(database, tenant, now=AFTER, limit=100)
    assert rest[0].charged == 4  # the day's credit and the three unpaid
    assert _charged(database, tenant) == sum(measured[d][1] * 31 for d in measured) // (GB * MONTH_DAYS)  # fmt: skip
    with _uow(database, tenant) as uow:
        assert service.balance(uow) == 2 + 100 - MONTH_DAYS
        assert verify(uow).ok


def test_verify_names_a_measurement_edited_behind_its_back(
    database: Database, settings: Settings, urls: DatabaseUrls
) -> None:
    tenant = _metered(database, settings, credits=10**6)
    measured = {MONTH + timedelta(days=i): (1, 100 * GB) for i in range(3)}
    with _from_month_start(), mock.patch.object(storage, "measure", lambda u, d: measured[d]):
        storage.run_tenant(database, tenant, now=AFTER, through=MONTH + timedelta(days=2))
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(text("UPDATE ledger_storage_days SET bytes = 1 WHERE tenant_id = :t "
                          "AND day = :d"), {"t": tenant, "d": MONTH + timedelta(days=1)})  # fmt: skip
    engine.dispose()
    with _uow(database, tenant) as uow:
        report = verify(uow)
    day = (MONTH + timedelta(days=1)).isoformat()
    assert not report.ok and report.first == f"storage day {day} no longer hashes to its sha256"


def test_storage_days_are_written_once(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    storage.run_tenant(database, tenant, now=datetime.now(UTC) + timedelta(days=2))
    with _uow(database, tenant) as uow, pytest.raises(Exception, match="permission denied"):
        uow.session.execute(text("UPDATE ledger_storage_days SET bytes = 0"))


def test_the_cli_measures_through_a_day_and_refuses_one_not_over(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = make_tenant(database, settings)
    monkeypatch.setattr("invigil.cli.database._database", lambda: database)
    today = datetime.now(UTC).date()
    soon = CliRunner().invoke(cli, ["ledger", "storage", "--tenant", made.slug,
                                    "--day", today.isoformat()])  # fmt: skip
    assert soon.exit_code == 2 and "not over yet" in soon.stderr
    bad = CliRunner().invoke(cli, ["ledger", "storage", "--tenant", made.slug, "--day", "x"])
    assert bad.exit_code == 2 and "not a date" in bad.stderr
    monkeypatch.setattr(storage, "first_day", lambda uow: today - timedelta(days=3))
    day = (today - timedelta(days=2)).isoformat()
    ran = CliRunner().invoke(cli, ["--json", "ledger", "storage", "--tenant", made.slug,
                                   "--day", day])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    import json

    shown: dict[str, Any] = json.loads(ran.stdout)
    assert [d["day"] for d in shown["days"]] == [(today - timedelta(days=3)).isoformat(), day]
    again = CliRunner().invoke(cli, ["ledger", "storage", "--tenant", made.slug, "--day", day])
    assert again.exit_code == 0 and "(measured before)" in again.stdout
    assert date.fromisoformat(day) < today


def test_the_job_takes_every_tenant_and_one_failure_stops_no_other(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    from types import SimpleNamespace

    from invigil.ledger import jobs

    tenants = [make_tenant(database, settings).id for _ in range(2)]
    missing = uuid.uuid4()  # a tenant that fails (no such tenant): logged, the others go on
    monkeypatch.setattr("invigil.db.platform.tenant_ids", lambda db: [missing, *tenants])
    today = datetime.now(UTC).date()
    monkeypatch.setattr(storage, "first_day", lambda uow: today - timedelta(days=3))
    context = SimpleNamespace(additional_context={"db": database, "services": None})
    asyncio.run(jobs.charge_storage(context, 0))  # type: ignore[arg-type]
    for tenant in tenants:
        assert [d.day for d in _days(database, tenant)] == [today - timedelta(days=n)
                                                             for n in (3, 2, 1)]  # fmt: skip
    assert storage.run_all(database, now=datetime.now(UTC)) == {
        "days": 0,
        "charged": 0,
        "failed": 1,
    }
