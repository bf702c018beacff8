"""Two evaluations of the same holder at once (two jobs, or a job and a
manual issue) issue one certificate: the second waits for the first's
transaction (an advisory lock per holder) and then finds the certificate."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, text

from invigil.certification import issuance
from invigil.certification.models import Certificate
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.certification.factories import NOW, holder, program
from tests.certification.sittings import sit_as
from tests.conftest import make_tenant
from tests.results.cohort import make_exam4


def _waiting_on_advisory_lock(database: Database) -> bool:
    with database.engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        )).scalar())  # fmt: skip


def test_simultaneous_evaluations_issue_once(database: Database, settings: Settings) -> None:
    tenant = make_tenant(database, settings).id
    exam = make_exam4(database, tenant).id
    program(database, tenant, exam_ids=[exam])
    who = holder(database, tenant)
    sit_as(database, tenant, exam, who)
    counts: dict[str, int] = {}
    first_done = threading.Event()
    release = threading.Event()

    def first() -> None:
        with database.unit_of_work(tenant) as uow:
            counts["first"] = len(issuance.evaluate(uow, who, now=NOW))
            first_done.set()
            release.wait(timeout=20)  # hold the transaction open

    def second() -> None:
        first_done.wait(timeout=20)
        with database.unit_of_work(tenant) as uow:
            counts["second"] = len(issuance.evaluate(uow, who, now=NOW))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_done.wait(timeout=20)
    for _ in range(200):  # until the second evaluation waits on the lock
        if _waiting_on_advisory_lock(database):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the second evaluation never waited for the first")
    release.set()
    for t in threads:
        t.join(timeout=30)
    assert counts == {"first": 1, "second": 0}
    with database.unit_of_work(tenant) as uow:
        n = uow.session.scalar(select(func.count()).select_from(Certificate)
                               .where(Certificate.holder_id == who))  # fmt: skip
    assert n == 1
