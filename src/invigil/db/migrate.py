"""Apply migrations: bootstrap the roles, then Alembic as the owner role."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine

from invigil.db.bootstrap import ensure_roles_and_database
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(files("invigil.db") / "migrations"))
    cfg.attributes["owner_role"] = settings.db_owner_role
    cfg.attributes["app_role"] = settings.db_app_role
    return cfg


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(settings: Settings, urls: DatabaseUrls, revision: str = "head") -> str | None:
    """Bring the database to ``revision``; returns the revision it is at."""
    ensure_roles_and_database(
        urls,
        owner_role=settings.db_owner_role,
        app_role=settings.db_app_role,
        app_password=settings.db_app_password,
        create_database=settings.embedded or urls.owner.database != urls.admin.database,
    )
    engine = create_engine(urls.owner, pool_size=1)
    try:
        with engine.begin() as conn:
            # One migrator at a time, even with several servers starting at once.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(4242001)")
            cfg = alembic_config(settings)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            return current_revision(conn)
    finally:
        engine.dispose()
