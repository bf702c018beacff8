"""PgBouncer from Debian in transaction pooling mode, in front of the test
database, on a loopback port (``make cluster-deps`` installs it)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import URL

BINARY = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@contextlib.contextmanager
def pgbouncer(target: URL, *, pool_size: int, max_clients: int = 400) -> Iterator[URL]:
    """PgBouncer (transaction mode, ``pool_size`` server connections) in front
    of the database ``target`` names; yields the same login through it."""
    if not Path(BINARY).exists():
        raise RuntimeError("pgbouncer is not installed: run `make cluster-deps`")
    home = Path(tempfile.mkdtemp(prefix="invigil-pgbouncer-"))
    home.chmod(0o777)  # it runs as an unprivileged user (it refuses root)
    port = _free_port()
    user, password = target.username or "", target.password or ""
    (home / "userlist.txt").write_text(f"{_quote(user)} {_quote(password)}\n")
    # The embedded server listens on a socket, named in the query.
    host = str(target.query.get("host") or target.host or "127.0.0.1")
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
{target.database} = host={host} port={target.port or 5432} dbname={target.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {max_clients}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {home}/pgbouncer.log
pidfile = {home}/pgbouncer.pid
"""
    )
    for f in home.iterdir():
        f.chmod(0o666)
    # It refuses to run as root: run it as whoever runs the database (who may
    # reach the embedded server's socket), else as postgres.
    owner = Path(host).stat().st_uid if host.startswith("/") else None
    name = pwd.getpwuid(owner).pw_name if owner else "postgres"
    run_as = ["-u", name] if os.geteuid() == 0 else []
    proc = subprocess.Popen(
        [BINARY, *run_as, str(home / "pgbouncer.ini")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (
                    (home / "pgbouncer.log").read_text()
                    if (home / "pgbouncer.log").exists()
                    else ""
                )
                raise RuntimeError(f"pgbouncer did not start: {log[-2000:]}")
            time.sleep(0.05)
        yield target.set(host="127.0.0.1", port=port).difference_update_query(["host"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        shutil.rmtree(home, ignore_errors=True)
