"""Reviewed SQL that migrations use for the tenant boundary.

Migrations must not change after they land, so these functions never change
their output either: a new rule gets a new function and a new migration.
"""

from __future__ import annotations

# Unset and empty both give NULL, and ``x = NULL`` is never true: a
# transaction that was not bound to a tenant sees nothing and writes nothing.
CURRENT_TENANT = "NULLIF(current_setting('app.tenant_id', true), '')::uuid"


def tenant_rls(table: str, column: str = "tenant_id") -> list[str]:
    """Enable and force RLS on ``table`` with one policy for every command."""
    predicate = f"{column} = {CURRENT_TENANT}"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON {table} USING ({predicate}) WITH CHECK ({predicate})",
    ]


def grant_dml(table: str, app_role: str, privileges: str = "SELECT, INSERT, UPDATE, DELETE") -> str:
    return f"GRANT {privileges} ON {table} TO {app_role}"


def run(sql: str) -> None:
    """Execute reviewed SQL verbatim in the migration's transaction (no bind
    parameter parsing, so ``%`` and ``:name`` in function bodies are safe)."""
    from alembic import op

    cursor = op.get_bind().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


def append_only(table: str) -> list[str]:
    """Refuse UPDATE, DELETE and TRUNCATE on ``table`` for every role (the
    ``audit_reject_change()`` trigger function of migration 0005): rows are
    written once."""
    return [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_reject_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()",
    ]
