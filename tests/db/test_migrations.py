from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from invigil.db.engine import Database
from invigil.db.migrate import head_revision, upgrade
from invigil.db.models import metadata
from invigil.settings import Settings


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (
        type_ == "table"
        and name
        and (name.startswith("procrastinate_") or name == "alembic_version")
    )


def test_models_match_the_migrations(owner_conn: Connection) -> None:
    ctx = MigrationContext.configure(
        owner_conn, opts={"include_object": _ours, "compare_type": True}
    )
    diff = [
        d
        for d in compare_metadata(ctx, metadata)
        # expression indexes (lower(email)) are not comparable by reflection
        if not (
            isinstance(d, tuple) and d[0] in ("add_index", "remove_index") and "email" in str(d[1])
        )
    ]
    assert diff == []


def test_upgrade_is_idempotent(database: Database, settings: Settings) -> None:
    assert upgrade(settings, database.urls) == head_revision(settings)
    assert upgrade(settings, database.urls) == head_revision(settings)
