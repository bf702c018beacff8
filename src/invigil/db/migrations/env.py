"""Alembic environment: always run on the owner connection handed in by
:func:`invigil.db.migrate.upgrade` (never autogenerate: migrations are
reviewed SQL)."""

from __future__ import annotations

from alembic import context

from invigil.db.models import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
