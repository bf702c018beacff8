"""Statements over random transfers: for any history and any period, the
opening balance plus the grouped movements is the closing balance, each
is what a plain model of the same transfers predicts, and a balance row
changed behind the ledger makes the statement say it does not add up."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.errors import PaymentRequired
from invigil.ledger import service, statement
from invigil.ledger.service import AI_USAGE, CONSUMED, CREDITS, Leg
from invigil.settings import Settings
from tests.conftest import make_tenant

START = datetime(2026, 1, 1, tzinfo=UTC)
# (what for, days after START, amount): top-ups add, the rest take; a refund
# reverses the latest charge not yet reversed.
STEP = st.tuples(
    st.sampled_from(("topup", "invitation", "attempt", "ai", "storage", "refund")),
    st.integers(0, 90),
    st.integers(1, 50),
)


def _apply(
    db: Database, tenant: uuid.UUID, steps: list[tuple[str, int, int]]
) -> list[tuple[datetime, int, str]]:
    """Write the steps; the model: (when, change to credits_available, purpose) of each written."""
    model: list[tuple[datetime, int, str]] = []
    charges: list[service.Transferred] = []
    for i, (what, days, amount) in enumerate(steps):
        at = START + timedelta(days=days, seconds=i)
        try:
            with db.unit_of_work(tenant, Actor.operator("model")) as uow:
                if what == "topup":
                    service.credit(uow, amount, f"R{i}", now=at)
                    model.append((at, amount, "topup"))
                elif what in ("invitation", "attempt"):
                    charges.append(service.charge(uow, amount, (what, uuid.uuid4()), now=at))
                    model.append((at, -amount, what))
                elif what == "ai":
                    charges.append(service.transfer(
                        uow, f"charge:ai_call:{i}", "charge",
                        [Leg(CREDITS, -amount), Leg(AI_USAGE, amount)],
                        reason="AI call", meta={"ai_call": str(i)}, now=at,
                    ))  # fmt: skip
                    model.append((at, -amount, "ai_call"))
                elif what == "storage":
                    charges.append(service.transfer(
                        uow, f"charge:storage:{i}", "charge",
                        [Leg(CREDITS, -amount), Leg(CONSUMED, amount)], reason="storage",
                        meta={"storage_day": f"2026-01-{1 + i % 28:02d}"}, now=at,
                    ))  # fmt: skip
                    model.append((at, -amount, "storage"))
                elif charges:
                    original = charges.pop()
                    service.reverse(uow, original.id, "voided", f"refund:{i}", now=at)
                    back = -next(g.amount for g in original.legs if g.account == CREDITS)
                    model.append((at, back, "refund"))
        except PaymentRequired:
            continue
    return model


@run_settings(
    max_examples=25, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
@given(
    steps=st.lists(STEP, max_size=25),
    first=st.integers(0, 95),
    length=st.integers(0, 40),
)
def test_opening_plus_movements_is_closing(
    database: Database, settings: Settings, steps: list[tuple[str, int, int]], first: int,
    length: int,
) -> None:  # fmt: skip
    tenant = make_tenant(database, settings).id
    model = _apply(database, tenant, steps)
    period = statement.Period(
        START.date() + timedelta(days=first), START.date() + timedelta(days=first + length)
    )
    with database.unit_of_work(tenant, Actor.operator("model")) as uow:
        s = statement.statement(uow, period)
    opening = sum(n for at, n, _ in model if at < period.start)
    inside = [(n, p) for at, n, p in sorted(model) if period.start <= at < period.end]
    assert s.opening == opening
    assert s.closing == opening + sum(n for n, _ in inside)
    assert s.balanced and s.opening + s.movements == s.closing
    expected: dict[str, tuple[int, int]] = {}
    for n, p in inside:
        count, total = expected.get(p, (0, 0))
        expected[p] = (count + 1, total + n)
    assert {g.purpose: (g.count, g.credits) for g in s.groups} == expected
    assert [x.credits for x in s.lines] == [n for n, _ in inside]


class Undo(Exception):
    """Leaves the unit of work by rolling it back."""


def test_a_balance_changed_behind_the_ledger_is_caught(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings).id
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        service.credit(uow, 100, "INV-1", now=START)
        service.charge(uow, 30, ("invitation", uuid.uuid4()), now=START + timedelta(days=1))
    month = statement.month_of(date(2026, 1, 5))
    with pytest.raises(Undo), database.unit_of_work(tenant, Actor.operator("test")) as uow:
        s = statement.statement(uow, month)
        assert s.balanced and s.closing == s.closing_from_balance == 70
        # The app role may write balance (column grant): one wrong write shows.
        uow.driver().cursor().execute(
            "UPDATE ledger_accounts SET balance = balance + 1 WHERE code = %(c)s", {"c": CREDITS}
        )
        s = statement.statement(uow, month)
        assert not s.balanced and s.closing == 70 and s.closing_from_balance == 71
        raise Undo


def test_periods_are_validated_naming_the_field() -> None:
    today = date(2026, 12, 7)
    assert statement.period(None, None, today=today) == statement.Period(
        date(2026, 12, 1), date(2026, 12, 31)
    )
    assert statement.period("2026-02-01", None, today=today) == statement.Period(
        date(2026, 2, 1), today
    )
    for bad, field in (("2026-2-1", "from"), ("x", "from")):
        try:
            statement.period(bad, None, today=today)
        except Exception as exc:
            assert getattr(exc, "extensions", {}).get("field") == field
        else:
            raise AssertionError(bad)
    assert statement.month("2026-02", today=today).last == date(2026, 2, 28)
