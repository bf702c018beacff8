"""The tenant boundary as the catalog sees it, and proof that the check bites."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from invigil.db.catalog import boundary_violations
from invigil.settings import Settings


def violations(conn: Connection, settings: Settings) -> list[str]:
    return boundary_violations(conn, app_role=settings.db_app_role)


def test_migrated_schema_keeps_the_boundary(owner_conn: Connection, settings: Settings) -> None:
    assert violations(owner_conn, settings) == []


def test_every_tenant_table_is_covered(owner_conn: Connection) -> None:
    tables = (
        owner_conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name = 'tenant_id'"
            )
        )
        .scalars()
        .all()
    )
    assert "users" in tables  # the check has real tables to look at


GOOD = (
    "CREATE TABLE widgets (tenant_id uuid NOT NULL REFERENCES tenants(id), id uuid NOT NULL,"
    " CONSTRAINT pk_widgets PRIMARY KEY (tenant_id, id));"
    "ALTER TABLE widgets ENABLE ROW LEVEL SECURITY; ALTER TABLE widgets FORCE ROW LEVEL SECURITY;"
    "CREATE POLICY p ON widgets USING (tenant_id = NULLIF(current_setting('app.tenant_id', true),"
    " '')::uuid) WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);"
)

BAD_TABLES = {
    "rls not enabled": (
        "CREATE TABLE widgets (tenant_id uuid NOT NULL, id uuid NOT NULL, PRIMARY KEY (tenant_id, id))",
        "row level security is not enabled",
    ),
    "rls not forced": (
        GOOD + "ALTER TABLE widgets NO FORCE ROW LEVEL SECURITY",
        "row level security is not forced",
    ),
    "no policy": (GOOD + "DROP POLICY p ON widgets", "no policy for all commands"),
    "policy open to all": (
        GOOD + "CREATE POLICY open ON widgets FOR SELECT USING (true)",
        "policy open USING does not compare",
    ),
    "id-first primary key": (
        GOOD.replace("PRIMARY KEY (tenant_id, id)", "PRIMARY KEY (id, tenant_id)"),
        "primary key pk_widgets does not lead with tenant_id",
    ),
    "foreign key without tenant": (
        GOOD + "ALTER TABLE widgets ADD COLUMN user_id uuid;"
        "CREATE UNIQUE INDEX uq_users_id ON users (id);"
        "ALTER TABLE widgets ADD CONSTRAINT fk_bad FOREIGN KEY (user_id) REFERENCES users (id)",
        "foreign key fk_bad does not lead with tenant_id",
    ),
    "unique index without tenant": (
        GOOD
        + "ALTER TABLE widgets ADD COLUMN code text; CREATE UNIQUE INDEX uq_code ON widgets (code)",
        "unique index uq_code does not lead with tenant_id",
    ),
    "nullable tenant": (
        GOOD + "ALTER TABLE widgets ADD COLUMN x int;"
        "ALTER TABLE widgets DROP CONSTRAINT pk_widgets; ALTER TABLE widgets ALTER tenant_id DROP NOT NULL;"
        "ALTER TABLE widgets ADD PRIMARY KEY (id)",
        "tenant_id is nullable",
    ),
    "table without tenant_id": (
        "CREATE TABLE notes (id uuid PRIMARY KEY, body text)",
        "notes: no tenant_id column",
    ),
    "view bypassing rls": (
        "CREATE VIEW all_users AS SELECT * FROM users",
        "all_users: a view without security_invoker",
    ),
    "security definer outside platform path": (
        "CREATE FUNCTION leak() RETURNS bigint LANGUAGE sql SECURITY DEFINER"
        " AS 'SELECT count(*) FROM users'",
        "function leak: SECURITY DEFINER",
    ),
}


@pytest.mark.parametrize("ddl,expected", BAD_TABLES.values(), ids=BAD_TABLES.keys())
def test_the_check_bites_on_a_bad_table(
    owner_conn: Connection, settings: Settings, ddl: str, expected: str
) -> None:
    for stmt in ddl.split(";"):
        if stmt.strip():
            owner_conn.exec_driver_sql(stmt)
    found = violations(owner_conn, settings)
    assert any(expected in v for v in found), found


def test_a_well_formed_new_table_passes(owner_conn: Connection, settings: Settings) -> None:
    for stmt in GOOD.split(";"):
        if stmt.strip():
            owner_conn.exec_driver_sql(stmt)
    assert violations(owner_conn, settings) == []


@pytest.mark.parametrize(
    "ddl,expected",
    [
        (
            "ALTER TABLE users NO FORCE ROW LEVEL SECURITY",
            "users: row level security is not forced",
        ),
        (
            "ALTER TABLE users DISABLE ROW LEVEL SECURITY",
            "users: row level security is not enabled",
        ),
        ("DROP POLICY tenant_isolation ON users", "users: no policy"),
        (
            "ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY",
            "tenants: row level security is not forced",
        ),
    ],
)
def test_removing_rls_from_a_real_table_is_caught(
    owner_conn: Connection, settings: Settings, ddl: str, expected: str
) -> None:
    owner_conn.exec_driver_sql(ddl)
    assert expected in "\n".join(violations(owner_conn, settings))


def test_app_role_cannot_bypass_or_own(owner_conn: Connection, settings: Settings) -> None:
    role = owner_conn.execute(
        text(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :r"
        ),
        {"r": settings.db_app_role},
    ).one()
    assert tuple(role) == (False, False, False, False)
    owned = owner_conn.execute(
        text(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = :r)"
        ),
        {"r": settings.db_app_role},
    ).scalar()
    assert owned == 0


def test_a_privileged_app_role_is_caught(admin_conn: Connection, settings: Settings) -> None:
    app = settings.db_app_role
    admin_conn.exec_driver_sql(f"ALTER TABLE users OWNER TO {app}")
    admin_conn.exec_driver_sql(f"ALTER ROLE {app} BYPASSRLS")
    found = violations(admin_conn, settings)
    assert f"app role {app} owns relation users" in found
    assert f"app role {app} has BYPASSRLS" in found
