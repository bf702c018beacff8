"""Turning settings into a running database: embedded start, URLs, migrations."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from invigil.db import embedded
from invigil.db.engine import Database
from invigil.db.migrate import upgrade
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings


def resolve_urls(settings: Settings, *, keep_embedded_running: bool = False) -> DatabaseUrls:
    """Start (or join) the embedded server when no DATABASE_URL is given."""
    if settings.embedded:
        settings.home.mkdir(parents=True, exist_ok=True)
        admin = embedded.start(settings.pgdata, keep_running=keep_embedded_running)
    else:
        assert settings.database_url is not None
        admin = settings.database_url
    return DatabaseUrls.build(settings, admin)


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    urls = resolve_urls(settings)
    if migrate:
        upgrade(settings, urls)
    return Database.connect(
        urls, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
    )


def reviver(settings: Settings) -> Callable[[], bool] | None:
    """What restarts the embedded server when it died under a serving process
    or a worker (``INVIGIL_EMBEDDED_RESTART``); nothing with ``DATABASE_URL``,
    whose server is someone else's to run."""
    if settings.embedded and settings.embedded_restart:
        return partial(embedded.revive, settings.pgdata)
    return None
