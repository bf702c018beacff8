"""A process killed with SIGKILL at random points while it invites and
starts attempts leaves no charge without its event and no event without
its charge: each is charged in the event's own transaction, which commits
whole or not at all. The child is killed several times and started again;
afterwards `ledger verify` passes and the charges match the events one to
one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

import invigil
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.delivery.models import Attempt, Invitation
from invigil.ledger import prices, service
from invigil.ledger.verify import verify
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.delivery.factories import published_exam
from tests.ledger.test_prices import PRICES

ROOT = Path(__file__).resolve().parents[2]
KILLS = 8


def _child(spec: dict[str, str]) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(invigil.__file__).parents[1]), str(ROOT)]),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger.fault_child", json.dumps(spec)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.slow
def test_sigkill_mid_work_leaves_every_event_charged_exactly_once(
    database: Database, settings: Settings, urls: DatabaseUrls
) -> None:
    tenant = make_tenant(database, settings).id
    now = datetime.now(UTC)
    with database.unit_of_work(tenant) as uow:
        prices.set_price_list(uow, PRICES, reason="the standard plan", now=now)
        service.credit(uow, 10**6, "INV-faults", now=now)
    exam = published_exam(database, tenant, settings={"proctoring_preset": "strict"})
    spec = {
        "admin": urls.admin.render_as_string(hide_password=False),
        "owner": urls.owner.render_as_string(hide_password=False),
        "app": urls.app.render_as_string(hide_password=False),
        "home": str(settings.home), "tenant": str(tenant), "exam": str(exam),
    }  # fmt: skip
    rng = random.Random()
    steps = 0
    for _ in range(KILLS):
        child = _child(spec)
        try:
            # Killed after a random number of its lines (steps done, flushes
            # and commits under way): between transactions or inside one.
            for _ in range(rng.randint(1, 30)):
                line = child.stdout.readline() if child.stdout else ""
                assert line, f"the child stopped: {child.stderr.read() if child.stderr else ''}"
                steps += 1
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=30)
            for stream in (child.stdout, child.stderr):
                if stream is not None:
                    stream.close()
        assert child.returncode == -signal.SIGKILL
    assert steps >= KILLS
    with database.unit_of_work(tenant) as uow:
        report = verify(uow)
        assert report.ok, report.problems
        invited = set(uow.scalars(select(Invitation.id)))
        started = set(uow.scalars(select(Attempt.id).where(Attempt.started_at.is_not(None))))
        charges = service.history(uow, limit=500, kind="charge").items
        assert len(charges) < 500
    by_event: dict[str, list[str]] = {"invitation": [], "attempt": []}
    for charge in charges:
        (kind,) = [k for k in ("invitation", "attempt") if k in charge.meta]
        by_event[kind].append(charge.meta[kind])
    assert invited and started
    assert sorted(by_event["invitation"]) == sorted(str(i) for i in invited)
    assert sorted(by_event["attempt"]) == sorted(str(a) for a in started)
    with database.unit_of_work(tenant) as uow:
        spent = 10**6 - service.balance(uow)
    assert spent == 2 * len(invited) + 5 * len(started)  # strict: the screen level
