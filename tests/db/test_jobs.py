"""Jobs are deferred in the request's transaction and run by the worker."""

from __future__ import annotations

import asyncio
import uuid

import procrastinate
from sqlalchemy import text

from invigil.db.engine import Database
from invigil.jobs.queue import make_app
from invigil.tenants.models import Tenant

ran: list[str] = []


def _jobs_with_lock(database: Database, lock: str) -> list[tuple[str, str]]:
    with database.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT task_name, status::text FROM procrastinate_jobs WHERE queueing_lock = :l"
                ),
                {"l": lock},
            )
        ]


def test_a_job_exists_only_if_its_transaction_commits(database: Database, tenant_a: Tenant) -> None:
    committed, rolled_back = uuid.uuid4().hex, uuid.uuid4().hex
    with database.unit_of_work(tenant_a.id) as uow:
        uow.defer("tests.record", lock=committed, marker=committed)
    try:
        with database.unit_of_work(tenant_a.id) as uow:
            uow.defer("tests.record", lock=rolled_back, marker=rolled_back)
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    assert _jobs_with_lock(database, committed) == [("tests.record", "todo")]
    assert _jobs_with_lock(database, rolled_back) == []


def test_the_worker_runs_a_deferred_job(database: Database, tenant_a: Tenant) -> None:
    app = make_app(database.urls)

    @app.task(name="tests.record", queue="tests-only")
    def record(marker: str) -> None:
        ran.append(marker)

    marker = uuid.uuid4().hex
    with database.unit_of_work(tenant_a.id) as uow:
        uow.defer("tests.record", queue="tests-only", lock=marker, marker=marker)

    async def drain() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=["tests-only"], wait=False, install_signal_handlers=False
            )

    asyncio.run(drain())
    assert marker in ran
    assert _jobs_with_lock(database, marker) == [("tests.record", "succeeded")]


def test_the_maintenance_task_is_registered(database: Database) -> None:
    app = make_app(database.urls)
    assert "invigil:jobs.prune_finished" in app.tasks
    assert isinstance(app.tasks["invigil:jobs.prune_finished"], procrastinate.tasks.Task)
