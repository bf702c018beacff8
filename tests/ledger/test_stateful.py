"""Random sequences of top-ups, charges, reversals, retries with the same
and another body, and concurrent debits; after every step the ledger's
invariants hold in the database, and the balances are what a plain model
of the same steps predicts."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.errors import Conflict, PaymentRequired
from invigil.ledger import service
from invigil.ledger.service import CONSUMED, CREDITS, TOPUPS
from invigil.settings import Settings as AppSettings
from tests.conftest import make_tenant

START = datetime(2026, 12, 7, 9, tzinfo=UTC)
REFERENCES = ("INV-1", "INV-2", "INV-3")


class Ledger(RuleBasedStateMachine):
    database: Database
    app_settings: AppSettings

    def __init__(self) -> None:
        super().__init__()
        self.tenant = make_tenant(self.database, self.app_settings).id
        self.balances = {CREDITS: 0, CONSUMED: 0, TOPUPS: 0}
        self.topups: dict[str, tuple[int, uuid.UUID]] = {}
        self.charges: dict[uuid.UUID, tuple[int, uuid.UUID]] = {}
        self.reversed: dict[uuid.UUID, str] = {}
        self.legs: dict[uuid.UUID, dict[str, int]] = {}
        self.clock = START
        self.reversal_of: dict[uuid.UUID, uuid.UUID] = {}

    def _uow(self):  # type: ignore[no-untyped-def]
        return self.database.unit_of_work(self.tenant, Actor.operator("model"))

    def _now(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def _apply(self, legs: dict[str, int]) -> None:
        for code, amount in legs.items():
            self.balances[code] += amount

    @rule(amount=st.integers(1, 20), reference=st.sampled_from(REFERENCES))
    def top_up(self, amount: int, reference: str) -> None:
        known = self.topups.get(reference)
        try:
            with self._uow() as uow:
                done = service.credit(uow, amount, reference, now=self._now())
        except Conflict as exc:
            assert known is not None and known[0] != amount, exc.detail
            assert f"topup:{reference}" in exc.detail
            return
        if known is not None:
            assert known[0] == amount and done.replayed and done.id == known[1]
            return
        self.topups[reference] = (amount, done.id)
        self.legs[done.id] = {TOPUPS: -amount, CREDITS: amount}
        self._apply(self.legs[done.id])

    @rule(amount=st.integers(1, 15), retry=st.booleans(), same=st.booleans())
    def charge(self, amount: int, retry: bool, same: bool) -> None:
        event = uuid.uuid4()
        if retry and self.charges:
            event = sorted(self.charges)[0]
            if same:
                amount = self.charges[event][0]
        known = self.charges.get(event)
        try:
            with self._uow() as uow:
                done = service.charge(uow, amount, ("attempt", event), now=self._now())
        except Conflict:
            assert known is not None and known[0] != amount
            return
        except PaymentRequired as exc:
            assert known is None and self.balances[CREDITS] < amount
            assert exc.extensions["shortfall"] == amount - self.balances[CREDITS]
            return
        if known is not None:
            assert known[0] == amount and done.replayed and done.id == known[1]
            return
        assert self.balances[CREDITS] >= amount
        self.charges[event] = (amount, done.id)
        self.legs[done.id] = {CREDITS: -amount, CONSUMED: amount}
        self._apply(self.legs[done.id])

    @rule(pick=st.integers(0, 50), same_key=st.booleans())
    def reverse(self, pick: int, same_key: bool) -> None:
        if not self.legs:
            return
        originals = sorted(t for t in self.legs if t not in self.reversal_of)
        if not originals:
            return
        target = originals[pick % len(originals)]
        key = self.reversed.get(target, f"undo:{target}") if same_key else f"undo:{uuid.uuid4()}"
        negated = {code: -n for code, n in self.legs[target].items()}
        try:
            with self._uow() as uow:
                done = service.reverse(uow, target, "technical failure", key, now=self._now())
        except Conflict as exc:
            assert target in self.reversed and key != self.reversed[target], exc.detail
            return
        except PaymentRequired:
            assert target not in self.reversed
            assert any(self.balances[c] + n < 0 for c, n in negated.items() if c != TOPUPS)
            return
        if target in self.reversed:
            assert done.replayed and key == self.reversed[target]
            return
        self.reversed[target] = key
        self.legs[done.id] = negated
        self._apply(negated)
        self.reversal_of[done.id] = target

    @rule(amount=st.integers(1, 4))
    def concurrent_debits(self, amount: int) -> None:
        results: list[uuid.UUID] = []
        events = [uuid.uuid4() for _ in range(4)]
        at = self._now()
        gate = threading.Barrier(4)

        def debit(event: uuid.UUID) -> None:
            gate.wait()
            try:
                with self._uow() as uow:
                    done = service.charge(uow, amount, ("attempt", event), now=at)
                results.append(done.id)
                self.charges[event] = (amount, done.id)
                self.legs[done.id] = {CREDITS: -amount, CONSUMED: amount}
            except PaymentRequired:
                pass

        threads = [threading.Thread(target=debit, args=(e,)) for e in events]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(results) == min(4, self.balances[CREDITS] // amount)
        self._apply({CREDITS: -amount * len(results), CONSUMED: amount * len(results)})

    @invariant()
    def the_ledger_holds(self) -> None:
        with self._uow() as uow:
            cur = uow.driver().cursor()
            unbalanced = cur.execute(
                "SELECT transfer_id FROM ledger_entries GROUP BY transfer_id "
                "HAVING sum(amount) <> 0 OR count(*) < 2"
            ).fetchall()
            assert unbalanced == []
            drift = cur.execute(
                "SELECT a.code FROM ledger_accounts a LEFT JOIN ledger_entries e "
                "ON e.tenant_id = a.tenant_id AND e.account_id = a.id "
                "GROUP BY a.id, a.code, a.balance HAVING a.balance <> coalesce(sum(e.amount), 0)"
            ).fetchall()
            assert drift == []
            negative = cur.execute(
                "SELECT code FROM ledger_accounts WHERE NOT may_go_negative AND balance < 0"
            ).fetchall()
            assert negative == []
            twice = cur.execute(
                "SELECT reverses_id FROM ledger_transfers WHERE reverses_id IS NOT NULL "
                "GROUP BY reverses_id HAVING count(*) > 1"
            ).fetchall()
            assert twice == []
            stored = service.balances(uow)
        assert {c: stored.get(c, 0) for c in self.balances} == self.balances


def test_the_ledger_under_random_steps(database: Database, settings: AppSettings) -> None:
    Ledger.database = database
    Ledger.app_settings = settings
    run_state_machine_as_test(
        Ledger,
        settings=run_settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
