"""The tenant boundary, checked from ``pg_catalog``.

Used by the test suite (a new table without RLS fails CI) and by operators
(``invigil db check``) against a production database.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

# Tables without tenant_id that are allowed to exist, each for a reason:
# the registry (its row is the tenant, RLS on ``id``), Alembic's bookkeeping,
# and procrastinate's job queue (jobs carry ids, never tenant data).
PLATFORM_TABLES = frozenset({"tenants", "alembic_version"})
PLATFORM_PREFIXES = ("procrastinate_",)
# The reviewed cross-tenant path (invigil.db.platform).
SECURITY_DEFINER_ALLOWED_PREFIX = "platform_"
TENANT_SETTING = "current_setting('app.tenant_id'"

_TABLES = text(
    """
    SELECT c.oid, c.relname, c.relrowsecurity, c.relforcerowsecurity,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                   AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant,
           (SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = c.oid
                   AND a.attname = 'tenant_id') AS tenant_not_null
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    ORDER BY c.relname
    """
)

# The first key column of each primary key, unique constraint, unique index
# and foreign key of a table.
_KEYS = text(
    """
    SELECT con.contype::text AS kind, con.conname AS name,
           (SELECT attname FROM pg_attribute WHERE attrelid = con.conrelid
                   AND attnum = con.conkey[1]) AS first_column
    FROM pg_constraint con WHERE con.conrelid = :oid AND con.contype IN ('p', 'u', 'f')
    UNION ALL
    SELECT 'i', ic.relname,
           CASE WHEN i.indkey[0] = 0 THEN NULL
                ELSE (SELECT attname FROM pg_attribute WHERE attrelid = i.indrelid
                      AND attnum = i.indkey[0]) END
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = :oid AND i.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
    """
)

_POLICIES = text(
    """
    SELECT pol.polname, pol.polcmd::text, pol.polpermissive,
           pol.polroles, pg_get_expr(pol.polqual, pol.polrelid) AS using_expr,
           pg_get_expr(pol.polwithcheck, pol.polrelid) AS check_expr
    FROM pg_policy pol WHERE pol.polrelid = :oid
    """
)

_ROLE = text(
    """
    SELECT oid, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles
    WHERE rolname = :role
    """
)

_OWNED = text(
    """
    SELECT 'relation ' || c.relname FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relowner = :oid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
    UNION ALL
    SELECT 'function ' || p.proname FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE p.proowner = :oid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    UNION ALL
    SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = :oid
    """
)


def _tenant_predicate(expr: str | None, column: str) -> bool:
    return expr is not None and TENANT_SETTING in expr and column in expr


def _policy_problems(
    conn: Connection, oid: int, table: str, column: str, app_oid: int
) -> Iterable[str]:
    policies = conn.execute(_POLICIES, {"oid": oid}).all()
    applies_to_app = [p for p in policies if 0 in p.polroles or app_oid in p.polroles]
    if not any(p.polcmd == "*" and p.polpermissive for p in applies_to_app):
        yield f"{table}: no policy for all commands binds the app role to the tenant"
    for p in applies_to_app:
        if not p.polpermissive:
            continue  # a restrictive policy can only narrow access
        if p.polcmd in ("*", "r", "d", "w") and not _tenant_predicate(p.using_expr, column):
            yield f"{table}: policy {p.polname} USING does not compare {column} with app.tenant_id"
        if p.polcmd in ("*", "a", "w") and not _tenant_predicate(
            p.check_expr or p.using_expr, column
        ):
            yield (
                f"{table}: policy {p.polname} WITH CHECK does not compare {column}"
                " with app.tenant_id"
            )


def _key_problems(conn: Connection, oid: int, table: str, column: str) -> Iterable[str]:
    keys = conn.execute(_KEYS, {"oid": oid}).all()
    if not any(k.kind == "p" for k in keys):
        yield f"{table}: has no primary key"
    kinds = {"p": "primary key", "u": "unique constraint", "f": "foreign key", "i": "unique index"}
    for key in keys:
        if key.first_column != column:
            yield f"{table}: {kinds[key.kind]} {key.name} does not lead with {column}"


def boundary_violations(conn: Connection, *, app_role: str) -> list[str]:
    """Every way the schema breaks the tenant boundary; empty when it holds."""
    problems: list[str] = []
    role = conn.execute(_ROLE, {"role": app_role}).one_or_none()
    if role is None:
        return [f"app role {app_role} does not exist"]
    for attr in ("rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb"):
        if getattr(role, attr):
            problems.append(f"app role {app_role} has {attr[3:].upper()}")
    for (what,) in conn.execute(_OWNED, {"oid": role.oid}):
        problems.append(f"app role {app_role} owns {what}")
    if conn.execute(
        text("SELECT has_schema_privilege(:r, 'public', 'CREATE')"), {"r": app_role}
    ).scalar():
        problems.append(f"app role {app_role} may CREATE in schema public")

    for t in conn.execute(_TABLES).all():
        platform = t.relname in PLATFORM_TABLES or t.relname.startswith(PLATFORM_PREFIXES)
        if not t.has_tenant and not platform:
            problems.append(f"{t.relname}: no tenant_id column and not a declared platform table")
            continue
        if t.relname == "tenants":
            column = "id"
        elif t.has_tenant:
            column = "tenant_id"
            if not t.tenant_not_null:
                problems.append(f"{t.relname}: tenant_id is nullable")
        else:
            continue  # a platform table without tenant data
        if not t.relrowsecurity:
            problems.append(f"{t.relname}: row level security is not enabled")
        if not t.relforcerowsecurity:
            problems.append(f"{t.relname}: row level security is not forced")
        problems.extend(_policy_problems(conn, t.oid, t.relname, column, role.oid))
        if column == "tenant_id":
            problems.extend(_key_problems(conn, t.oid, t.relname, column))

    views = conn.execute(
        text(
            """
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
          AND NOT coalesce('security_invoker=true' = ANY (c.reloptions), false)
        """
        )
    ).scalars()
    problems.extend(f"{v}: a view without security_invoker bypasses RLS" for v in views)
    definers = conn.execute(
        text(
            """
        SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prosecdef AND p.proname NOT LIKE :allowed
        """
        ),
        {"allowed": SECURITY_DEFINER_ALLOWED_PREFIX + "%"},
    ).scalars()
    problems.extend(f"function {f}: SECURITY DEFINER outside the platform_ path" for f in definers)
    return problems
