"""A job worker killed with SIGKILL while it runs a job: the job is not lost.
The living workers' periodic ``jobs.retry_stalled`` puts it back once the
dead worker's heartbeat is a minute old, and another worker runs it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from invigil.db.engine import Database
from invigil.jobs.queue import STALLED_SECONDS, make_app, retry_stalled_jobs
from invigil.tenants.models import Tenant

pytestmark = pytest.mark.slow

# The worker process: one task that says it started, then never ends.
CHILD = """
import asyncio, json, sys
from sqlalchemy.engine import make_url
from invigil.db.urls import DatabaseUrls
from invigil.jobs.queue import make_app

spec = json.loads(sys.argv[1])
urls = DatabaseUrls(*(make_url(spec[k]) for k in ("admin", "owner", "app")))
app = make_app(urls)

@app.task(name="tests.hang", queue="tests-killed")
async def hang(marker: str) -> None:
    print("started", marker, flush=True)
    await asyncio.sleep(3600)

async def main() -> None:
    async with app.open_async():
        await app.run_worker_async(queues=["tests-killed"], install_signal_handlers=False,
                                   update_heartbeat_interval=1)

asyncio.run(main())
"""


def _job(database: Database, job_id: int) -> tuple[str, int | None]:
    with database.engine.connect() as conn:
        row = conn.execute(
            text("SELECT status::text, worker_id FROM procrastinate_jobs WHERE id = :i"),
            {"i": job_id},
        ).one()
    return row[0], row[1]


def test_a_job_of_a_killed_worker_runs_again_on_another(
    database: Database, tenant_a: Tenant
) -> None:
    marker = uuid.uuid4().hex
    with database.unit_of_work(tenant_a.id) as uow:
        job_id = uow.defer("tests.hang", queue="tests-killed", marker=marker)
    urls = {k: getattr(database.urls, k).render_as_string(hide_password=False)
            for k in ("admin", "owner", "app")}  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(urls)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert child.stdout is not None
    try:
        line = child.stdout.readline()  # blocks until the job started
        assert line.split() == ["started", marker], line
        status, worker = _job(database, job_id)
        assert status == "doing" and worker is not None
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)

    app = make_app(database.urls)
    ran: list[str] = []

    @app.task(name="tests.hang", queue="tests-killed")
    async def hang(marker: str) -> None:
        ran.append(marker)

    async def retry_then_drain(now_dead: bool) -> int:
        async with app.open_async():
            put_back = await retry_stalled_jobs(app)
            if now_dead:
                await app.run_worker_async(
                    queues=["tests-killed"], wait=False, install_signal_handlers=False
                )
            return put_back

    # A worker silent for less than a minute may be slow, not dead: left alone.
    assert asyncio.run(retry_then_drain(False)) == 0
    assert _job(database, job_id)[0] == "doing"
    # A minute of silence (its last heartbeat moved back instead of waiting).
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE procrastinate_workers SET last_heartbeat = now() - make_interval(secs => :s)"
                " WHERE id = :w"
            ),
            {"s": STALLED_SECONDS + 5, "w": worker},
        )
    assert asyncio.run(retry_then_drain(True)) == 1
    assert ran == [marker]
    assert _job(database, job_id)[0] == "succeeded"
    with database.engine.connect() as conn:
        gone = conn.execute(
            text("SELECT count(*) FROM procrastinate_workers WHERE id = :w"), {"w": worker}
        ).scalar_one()
    assert gone == 0


def test_the_retry_runs_every_minute(database: Database) -> None:
    app = make_app(database.urls)
    task = app.tasks["invigil:jobs.retry_stalled"]
    assert task.queue == "maintenance"
    periodic = [p for p in app.periodic_registry.periodic_tasks.values() if p.task is task]
    assert [p.cron for p in periodic] == ["* * * * *"]
