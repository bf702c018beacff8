"""Running Invigil: the web server, the job worker, demo data."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated, Any

import typer

from invigil.cli.base import _settings, cli, emit
from invigil.cli.database import _database
from invigil.settings import Settings


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    demo_data: Annotated[
        bool,
        typer.Option("--demo/--no-demo", help="seed the demo tenants when the database has none"),
    ] = True,
) -> None:
    """Run the web app (with an in-process job worker on the embedded database)."""
    import uvicorn

    from invigil import demo
    from invigil.app import create_app
    from invigil.runtime import open_database
    from invigil.tenants import service as tenants

    settings = _settings()
    db = open_database(settings)
    seeded = None
    if demo_data and not tenants.list_tenants(db):
        seeded = demo.seed(db, regions=settings.regions)
    hints = demo.sign_in_hints(db, seeded.password if seeded else demo.DEFAULT_PASSWORD)
    _banner(settings, host, port, seeded is not None, hints)
    # Migrations and the demo seed needed the owner role; serving never does.
    db.serve_only()
    if workers == 1:
        app = create_app(settings, db, run_jobs=settings.embedded, settle_heap=True)
        try:
            uvicorn.run(app, host=host, port=port, log_config=None)
        finally:
            db.dispose()
        return
    db.dispose()
    os.environ["INVIGIL_INPROCESS_WORKER"] = "1" if settings.embedded else "0"
    # The workers' metrics are added up at each scrape (prometheus-client's
    # multiprocess mode): in PROMETHEUS_MULTIPROC_DIR or <home>/metrics,
    # emptied at each start.
    from pathlib import Path

    from invigil.metrics import MULTIPROC_ENV, prepare_multiprocess_dir

    prepare_multiprocess_dir(Path(os.environ.get(MULTIPROC_ENV) or settings.home / "metrics"))
    uvicorn.run(
        "invigil.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
    )


def _banner(settings: Settings, host: str, port: int, seeded: bool, hints: list[Any]) -> None:
    """Where the server is and how to sign in: per demo tenant its own admin
    account, and the password only where it still opens it (``demo.sign_in_hints``)."""
    where = (
        "embedded PostgreSQL in " + str(settings.pgdata) if settings.embedded else "DATABASE_URL"
    )
    lines = [
        f"Invigil on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)",
        f"Database: {where}",
        f"Sign in: http://{host}:{port}/signin",
    ]
    if seeded:
        lines.append("Demo tenants seeded.")
    for hint in hints:
        secret = hint.password or "(the password was changed since the demo was seeded)"
        line = f"  tenant '{hint.tenant}': {hint.email} / {secret}"
        if hint.password:
            line += f"  (or <role>@{hint.tenant}.test, same password)"
        if hint.needs_code:
            line += ", with a code from its authenticator app"
        lines.append(line)
    lines.append("Ctrl-C stops the server" + (" and the database." if settings.embedded else "."))
    typer.echo("\n".join(lines), err=True)


def load_domains() -> None:
    """Import every domain, as the web app does at start-up: each registers
    its background tasks when imported (``jobs.queue.register``), so a
    worker started on its own runs them all (proctoring's re-checks, the
    results mail), not only those of the domains it happened to import."""
    import invigil.app  # noqa: F401 - imports every domain


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1)] = 2,
    queue: Annotated[list[str] | None, typer.Option(help="only these queues")] = None,
) -> None:
    """Run background jobs until interrupted; outlives database outages."""
    import asyncio
    import signal

    from invigil.context import Services
    from invigil.db.engine import Database
    from invigil.jobs.queue import supervised
    from invigil.runtime import resolve_urls, reviver

    load_domains()
    settings = _settings()
    urls = resolve_urls(settings)
    db = Database.connect(urls, pool_size=concurrency + 1, max_overflow=0).serve_only()
    supervisor = supervised(
        urls,
        db,
        Services.build(settings),
        revive=reviver(settings),
        concurrency=concurrency,
        queues=queue or None,
    )

    async def until_signalled() -> None:
        # SIGINT/SIGTERM end the supervisor (the worker finishes its jobs), not only one run.
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor.run_forever()

    typer.echo("worker started; Ctrl-C stops it", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(until_signalled())
    db.dispose()


@cli.command()
def demo(
    password: Annotated[str | None, typer.Option(help="password of every demo user")] = None,
) -> None:
    """Seed the demo tenants acme and globex (idempotent)."""
    from invigil import demo as demo_data

    settings = _settings()
    result = demo_data.seed(
        _database(), regions=settings.regions, password=password or demo_data.DEFAULT_PASSWORD
    )
    emit(
        {
            "created": result.created,
            "tenants": result.tenants,
            "exams": result.exams,
            "password": result.password,
        },
        "\n".join(
            f"{slug}: {', '.join(emails)}\n  exams: {', '.join(result.exams[slug])}"
            for slug, emails in result.tenants.items()
        )
        + f"\npassword: {result.password}",
    )
