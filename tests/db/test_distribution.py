"""The schema stays ready for a distributed PostgreSQL (Citus, distributed by
tenant): every tenant table co-located, every key and foreign key carrying
the distribution column, and proof that the check bites."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from invigil.db.distribution import ANCHOR, colocation_problems, placements, statements
from tests.db.test_catalog import GOOD

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def _run(conn: Connection, ddl: str) -> None:
    for stmt in ddl.split(";"):
        if stmt.strip():
            conn.exec_driver_sql(stmt)


def test_the_migrated_schema_co_locates_every_tenant(owner_conn: Connection) -> None:
    assert colocation_problems(owner_conn) == []
    plan = {p.table: p for p in placements(owner_conn)}
    tenant_tables = set(
        owner_conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns c JOIN pg_class r "
                "ON r.relname = c.table_name AND NOT r.relispartition AND r.relkind IN ('r', 'p') "
                "WHERE table_schema = 'public' AND column_name = 'tenant_id'"
            )
        ).scalars()
    )
    assert len(tenant_tables) > 80  # the check has the real schema to look at
    assert {t for t, p in plan.items() if p.kind == "distributed"} == tenant_tables
    assert all(plan[t].column == "tenant_id" for t in tenant_tables)
    assert plan["tenants"].kind == "reference"
    assert {t for t, p in plan.items() if p.kind == "local"} == {
        "alembic_version",
        *(t for t in plan if t.startswith("procrastinate_")),
    }


def test_the_statements_place_every_table_once(owner_conn: Connection) -> None:
    plan = placements(owner_conn)
    done = statements(plan)
    named = [re.search(r"\('([a-z_0-9]+)'", s).group(1) for s in done]  # type: ignore[union-attr]
    assert sorted(named) == sorted(p.table for p in plan)
    assert done[0] == "SELECT create_reference_table('tenants');"
    assert done[1] == f"SELECT create_distributed_table('{ANCHOR}', 'tenant_id');"
    co_located = [s for s in done if "create_distributed_table" in s][1:]
    assert all(s.endswith(f"colocate_with => '{ANCHOR}');") for s in co_located)


BITES = {
    "foreign key pairing tenant_id with another column": (
        GOOD + "ALTER TABLE widgets ADD COLUMN user_id uuid;"
        "ALTER TABLE widgets ADD CONSTRAINT fk_crossed FOREIGN KEY (tenant_id, user_id)"
        " REFERENCES users (id, tenant_id)",
        "widgets: foreign key fk_crossed to users does not pair tenant_id with tenant_id",
    ),
    "unique key without tenant_id anywhere": (
        GOOD + "ALTER TABLE widgets ADD COLUMN code text;"
        "ALTER TABLE widgets ADD CONSTRAINT uq_code UNIQUE (code)",
        "widgets: unique constraint uq_code does not include tenant_id",
    ),
    "unique index without tenant_id": (
        GOOD
        + "ALTER TABLE widgets ADD COLUMN code text; CREATE UNIQUE INDEX ix_code ON widgets (code)",
        "widgets: unique index ix_code does not include tenant_id",
    ),
    "exclusion constraint without tenant_id": (
        GOOD + "ALTER TABLE widgets ADD COLUMN slot int;"
        "ALTER TABLE widgets ADD CONSTRAINT ex_slot EXCLUDE USING btree (slot WITH =)",
        "widgets: exclusion constraint ex_slot does not include tenant_id",
    ),
    "the registry pointing at tenant data": (
        "ALTER TABLE tenants ADD COLUMN owner_id uuid;"
        "CREATE UNIQUE INDEX uq_users_whole ON users (tenant_id, id, email);"
        "ALTER TABLE tenants ADD CONSTRAINT fk_owner FOREIGN KEY (id, owner_id)"
        " REFERENCES users (tenant_id, id)",
        "tenants: foreign key fk_owner to users joins a reference table to a distributed one",
    ),
    "tenant data pointing at the job queue": (
        GOOD + "ALTER TABLE widgets ADD COLUMN job_id bigint;"
        "ALTER TABLE widgets ADD CONSTRAINT fk_job FOREIGN KEY (job_id)"
        " REFERENCES procrastinate_jobs (id)",
        "widgets: foreign key fk_job to procrastinate_jobs joins a distributed table to a local one",
    ),
    "a table nobody placed": (
        "CREATE TABLE notes (id uuid PRIMARY KEY, body text)",
        "notes: no tenant_id and not a platform table: placement undecided",
    ),
}


@pytest.mark.parametrize("ddl,expected", BITES.values(), ids=BITES.keys())
def test_the_check_bites(owner_conn: Connection, ddl: str, expected: str) -> None:
    _run(owner_conn, ddl)
    found = colocation_problems(owner_conn)
    assert any(expected in problem for problem in found), found


def test_a_well_formed_new_table_co_locates(owner_conn: Connection) -> None:
    _run(
        owner_conn,
        GOOD + "ALTER TABLE widgets ADD COLUMN user_id uuid;"
        "ALTER TABLE widgets ADD CONSTRAINT fk_user FOREIGN KEY (tenant_id, user_id)"
        " REFERENCES users (tenant_id, id);"
        "ALTER TABLE widgets ADD CONSTRAINT fk_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (id)",
    )
    assert colocation_problems(owner_conn) == []
    assert {p.table: p.kind for p in placements(owner_conn)}["widgets"] == "distributed"


def test_the_scaling_doc_places_every_table_as_the_catalog_does(owner_conn: Connection) -> None:
    """docs/scaling.md lists every table with its placement; a migration that
    adds a table without placing it in the doc fails here."""
    listed = dict(
        re.findall(r"^\| `([a-z_0-9]+)` \| (distributed|reference|local) ", DOC.read_text(), re.M)
    )
    assert listed == {p.table: p.kind for p in placements(owner_conn)}


def test_the_scaling_doc_names_every_cross_tenant_function(owner_conn: Connection) -> None:
    functions = set(
        owner_conn.execute(
            text(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public' AND p.proname LIKE 'platform\\_%'"
            )
        ).scalars()
    )
    assert len(functions) > 10
    named = set(re.findall(r"^\| `(platform_[a-z_]+)` \|", DOC.read_text(), re.M))
    assert named == functions
