from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text

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


def test_storage_parameters_match_the_models(owner_conn: Connection) -> None:
    """Alembic does not compare storage parameters: a model's
    ``postgresql_with`` (attempts' fill factor, 0014) must be what the
    migrations left on its table."""
    declared = {
        table.name: {f"{k}={v}" for k, v in table.dialect_options["postgresql"]["with"].items()}
        for table in metadata.tables.values()
        if table.dialect_options["postgresql"]["with"]
    }
    assert declared.get("attempts") == {"fillfactor=70"}
    stored = dict(
        owner_conn.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE relname = ANY(:names)"),
            {"names": list(declared)},
        ).all()
    )
    assert {name: set(stored.get(name) or ()) for name in declared} == declared


def test_upgrade_is_idempotent(database: Database, settings: Settings) -> None:
    assert upgrade(settings, database.urls) == head_revision(settings)
    assert upgrade(settings, database.urls) == head_revision(settings)


def test_concurrent_bootstraps_do_not_race(database: Database, settings: Settings) -> None:
    """Several servers (or test runs) starting at once on one cluster: role and
    grant changes are catalog writes that must take turns."""
    from concurrent.futures import ThreadPoolExecutor

    from invigil.db.bootstrap import ensure_roles_and_database

    def bootstrap(_: int) -> None:
        ensure_roles_and_database(
            database.urls,
            owner_role=settings.db_owner_role,
            app_role=settings.db_app_role,
            app_password="rotate-me-123",
            create_database=False,
        )

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(bootstrap, range(12)))
