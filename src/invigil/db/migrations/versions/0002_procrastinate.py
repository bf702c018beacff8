"""Background jobs: procrastinate's schema, usable by the app role.

The schema text comes from the pinned procrastinate release (3.10); a later
release's own migration files become new Alembic revisions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op
from procrastinate.schema import SchemaManager

from invigil.db.ddl import run

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run(SchemaManager.get_schema())
    run(
        f"""
        DO $$
        DECLARE r record;
        BEGIN
          FOR r IN SELECT c.relname, c.relkind FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = 'public' AND c.relname LIKE 'procrastinate%'
                     AND c.relkind IN ('r', 'S', 'v')
          LOOP
            IF r.relkind = 'S' THEN
              EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I TO {app}', r.relname);
            ELSE
              EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO {app}', r.relname);
            END IF;
          END LOOP;
          FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p
                   JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%'
          LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO {app}', r.sig);
          END LOOP;
        END $$
        """
    )


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
