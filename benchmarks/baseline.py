"""The two baselines every later figure is compared with (same run, same
database): raw INSERTs of small rows, and requests/s of a trivial endpoint."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

import httpx
import psycopg

from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings

ROWS_SINGLE = 5_000
ROWS_BATCHED = 50_000
BATCH = 50


def insert_rates(urls: DatabaseUrls) -> dict[str, float]:
    """Rows/s into a plain table as the owner: no RLS, no ORM, no audit."""
    with psycopg.connect(libpq(urls.owner), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_raw")
        conn.execute("CREATE TABLE bench_raw (id bigserial PRIMARY KEY, k uuid, v text)")
        start = time.perf_counter()
        for i in range(ROWS_SINGLE):
            conn.execute("INSERT INTO bench_raw (k, v) VALUES (%s, %s)", (uuid.uuid4(), f"r{i}"))
        single = ROWS_SINGLE / (time.perf_counter() - start)
        start = time.perf_counter()
        with conn.cursor() as cur:
            for b in range(ROWS_BATCHED // BATCH):
                with conn.transaction():
                    cur.executemany(
                        "INSERT INTO bench_raw (k, v) VALUES (%s, %s)",
                        [(uuid.uuid4(), f"b{b}") for _ in range(BATCH)],
                    )
        batched = ROWS_BATCHED / (time.perf_counter() - start)
        conn.execute("DROP TABLE bench_raw")
    return {"raw_insert_autocommit_rows_s": single, "raw_insert_50_per_tx_rows_s": batched}


def uow_insert_rate(db: Database, tenant_id: uuid.UUID) -> dict[str, float]:
    """The same small-row write through a tenant-bound unit of work (RLS on)."""
    from sqlalchemy import text

    n = 2_000
    start = time.perf_counter()
    for i in range(n):
        with db.unit_of_work(tenant_id) as uow:
            uow.session.execute(
                text("INSERT INTO users (tenant_id, id, email) VALUES (:t, :i, :e)"),
                {"t": tenant_id, "i": uuid.uuid4(), "e": f"bench{i}-{uuid.uuid4().hex[:6]}@b.test"},
            )
    return {"uow_insert_rls_rows_s": n / (time.perf_counter() - start)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_rate(
    database_url: str,
    home: str,
    seconds: int = 8,
    paths: dict[str, tuple[str, str | None]] | None = None,
    env: dict[str, str] | None = None,
    script: str | None = None,
) -> dict[str, float]:
    """Requests/s on one uvicorn worker, loaded by wrk: ``paths`` maps a
    figure name to (path, bearer token or None); ``env`` adds to the
    server's environment (settings); ``script``, a wrk Lua script, is used
    for the paths whose token is ``"script"``."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (make bench installs it with apt-get)")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "INVIGIL_HOME": home,
        "INVIGIL_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "invigil.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        figures = {}
        for name, (path, token) in (paths or {"http_healthz_req_s": ("/healthz", None)}).items():
            if token == "script":
                assert script is not None
                auth = ["-s", script]
            else:
                auth = ["-H", f"Authorization: Bearer {token}"] if token else []
            out = subprocess.run(
                [wrk, "-t2", "-c32", f"-d{seconds}s", *auth, f"http://127.0.0.1:{port}{path}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            match = re.search(r"Requests/sec:\s+([\d.]+)", out)
            assert match, out
            assert "Non-2xx" not in out, out
            figures[name] = float(match.group(1))
    finally:
        server.terminate()
        server.wait(10)
    return figures


def bearer_token(
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    *,
    email: str,
    role: str,
    tenant_slug: str,
    user_agent: str = "bench",
) -> str:
    """An access token for a new user of ``role``, as the API issues it."""
    from invigil.context import Services
    from invigil.identity import auth, service

    services = Services.build(settings)
    with db.unit_of_work(tenant_id) as uow:
        user = service.create_user(uow, email=email, roles=[role])
        session, _ = auth.open_session(
            uow,
            settings,
            user,
            kind="api",
            address="bench",
            user_agent=user_agent,
            enroll_only=False,
        )
        perms = sorted(service.permissions_of(service.roles_of(uow, user.id)))
    token, _ = services.tokens.issue(
        user_id=user.id,
        tenant_id=tenant_id,
        tenant_slug=tenant_slug,
        session_id=session.id,
        roles=[role],
        permissions=perms,
    )
    return token
