"""Create the two roles and the database the migrations need.

Runs on the admin connection before Alembic. Idempotent: a second run
changes nothing but re-asserts the role attributes, so an app role that
someone made SUPERUSER or BYPASSRLS by hand is put back in its box.
"""

from __future__ import annotations

import contextlib

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from invigil.db.urls import DatabaseUrls, libpq
from invigil.errors import Unavailable

# Attributes the boundary depends on (docs/architecture.md, "The tenant boundary").
_OWNER_ATTRS = "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
_APP_ATTRS = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"


def _connect(url: URL, database: str | None = None) -> psycopg.Connection[tuple[object, ...]]:
    target = url.set(database=database) if database else url
    target = target.difference_update_query(["options"])
    try:
        return psycopg.connect(libpq(target), autocommit=True)
    except psycopg.OperationalError as exc:
        raise Unavailable(f"cannot connect to PostgreSQL as the admin role: {exc}") from exc


_ATTRIBUTE_COLUMNS = {
    "LOGIN": "rolcanlogin",
    "SUPERUSER": "rolsuper",
    "BYPASSRLS": "rolbypassrls",
    "CREATEDB": "rolcreatedb",
    "CREATEROLE": "rolcreaterole",
    "INHERIT": "rolinherit",
}


def _has_attrs(conn: psycopg.Connection[tuple[object, ...]], name: str, attrs: str) -> bool:
    """Whether the role already has exactly these attributes (ALTER ROLE on a
    cluster-wide role is a catalog write: skip it when nothing would change)."""
    row = conn.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolinherit "
        "FROM pg_roles WHERE rolname = %s",
        (name,),
    ).fetchone()
    if row is None:
        return False
    actual = dict(zip(_ATTRIBUTE_COLUMNS.values(), row, strict=True))
    for word in attrs.split():
        wanted = not word.startswith("NO")
        column = _ATTRIBUTE_COLUMNS[word.removeprefix("NO")]
        if actual[column] != wanted:
            return False
    return True


def _ensure_role(
    conn: psycopg.Connection[tuple[object, ...]], name: str, attrs: str, password: str | None
) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if exists and not password and _has_attrs(conn, name, attrs):
        return
    verb = "ALTER" if exists else "CREATE"
    stmt = sql.SQL(f"{verb} ROLE {{}} {attrs}").format(sql.Identifier(name))
    if password:
        stmt = sql.SQL("{} PASSWORD {}").format(stmt, sql.Literal(password))
    try:
        conn.execute(stmt)
    except psycopg.errors.DuplicateObject:
        pass  # another process created it between our check and our CREATE
    except psycopg.errors.InsufficientPrivilege as exc:
        raise Unavailable(
            f"the admin role may not create or alter role {name!r}; create it once as a "
            f"superuser with: CREATE ROLE {name} {attrs};"
        ) from exc


def ensure_roles_and_database(
    urls: DatabaseUrls,
    *,
    owner_role: str,
    app_role: str,
    app_password: str | None,
    create_database: bool,
) -> None:
    database = urls.owner.database
    assert database is not None
    with _connect(urls.admin) as conn:
        # Roles are cluster-wide: servers or test runs starting together must
        # not race on them ("tuple concurrently updated").
        conn.execute("SELECT pg_advisory_lock(4242000)")
        _ensure_role(conn, owner_role, _OWNER_ATTRS, None)
        _ensure_role(conn, app_role, _APP_ATTRS, app_password)
        is_super = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if not (is_super and is_super[0]):
            conn.execute(sql.SQL("GRANT {} TO current_user").format(sql.Identifier(owner_role)))
        if create_database:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
            ).fetchone()
            if not found:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(
                        sql.SQL(
                            "CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0"
                        ).format(sql.Identifier(database), sql.Identifier(owner_role))
                    )
    with _connect(urls.admin, database) as conn:
        conn.execute("SELECT pg_advisory_lock(4242000)")  # grants are catalog writes too
        ident = sql.Identifier
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        conn.execute(
            sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(ident(owner_role))
        )
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(ident(app_role)))
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}, {}").format(
                ident(database), ident(owner_role), ident(app_role)
            )
        )
        # Functions the migrations create should not be callable by PUBLIC by
        # default; each migration grants EXECUTE where it means to.
        conn.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"
            ).format(ident(owner_role))
        )


def drop_database(urls: DatabaseUrls) -> None:
    """Remove a (test) database; used by the test suite's teardown."""
    database = urls.owner.database
    assert database is not None
    with _connect(urls.admin) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )
