"""The production topology on loopback (deploy/cluster.py, `make cluster`)
and what it survives: HAProxy in front of two API workers, a job worker,
PgBouncer in transaction mode, PostgreSQL, an S3 server and SMTP.

An API worker killed with SIGKILL under the candidates' load: every save
acknowledged before, during and after is stored, the balancer routes around
the dead worker, and the candidates keep saving."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from benchmarks import delivery
from psycopg import sql

from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings
from invigil.tenants import service as tenants

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = 30
PERIOD = 1.0  # a save every second per candidate, a heartbeat half-way
KILL_AT = 6.0  # seconds into the load
LOAD_SECONDS = 18.0

pytestmark = pytest.mark.slow


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
            "--server-connections", "8",
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


def test_an_api_worker_killed_under_load_loses_no_acknowledged_save(
    cluster: dict, settings: Settings
) -> None:
    # The candidates, set up through the services on the cluster's database
    # and keys (its home), as invitations and the system check would.
    env = cluster["env"]
    here = Settings(home=Path(cluster["home"]), database_url=cluster["database_url"])
    db = Database.connect(DatabaseUrls.build(here, cluster["database_url"]), pool_size=2)
    try:
        tenant = tenants.create_tenant(
            db, slug=f"t-{uuid.uuid4().hex[:10]}", name="Cluster", region=here.regions[0],
            regions=here.regions,
        )  # fmt: skip
        people = delivery.setup(db, here, tenant.id, CANDIDATES, preset="standard")
        port = int(cluster["url"].rsplit(":", 1)[1])
        victim = cluster["pids"]["api0"]
        run = delivery.Run()
        killed_at: list[float] = []

        async def load() -> None:
            pool = delivery.Pool(port, CANDIDATES)
            start = time.perf_counter()
            end = start + LOAD_SECONDS

            async def kill() -> None:
                await asyncio.sleep(KILL_AT)
                os.kill(victim, signal.SIGKILL)
                killed_at.append(time.perf_counter())

            await asyncio.gather(
                kill(), *(delivery._open_loop(pool, c, PERIOD, end, run) for c in people)
            )
            pool.close()

        asyncio.run(load())
        assert killed_at, "the worker was not killed"
        found = delivery.check(db, tenant.id, people)
    finally:
        db.dispose()
    assert env["INVIGIL_DB_POOLER"] == "transaction"
    # Every save acknowledged is stored; nothing is stored that was not sent.
    assert found == {"candidates_lost": 0.0, "candidates_phantom": 0.0}
    # Only what was in flight on the killed worker failed; the rest went on.
    failed = [s for s in run.samples if not s[1]]
    assert len(failed) <= CANDIDATES, run.errors[:10]
    after = [s for s in run.samples if s[1] and s[2] > killed_at[0] + 3]
    assert len(after) > CANDIDATES * 5  # saves and heartbeats kept being acknowledged
    acked = sum(len(c.acked) for c in people)
    assert acked >= CANDIDATES
    # The balancer took the dead worker out of rotation.
    status = _backend_status(cluster)
    assert status.get("api0", "").startswith("DOWN"), status
    assert status.get("api1") == "UP", status
