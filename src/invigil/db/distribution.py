"""Where every table would live in a distributed PostgreSQL (Citus), read
from ``pg_catalog``, and the checks that keep that a configuration change.

Every tenant table is distributed by ``tenant_id``, all in one co-location
group: one tenant's rows of every table sit on one node, so a transaction
bound to a tenant stays on one node and every join, foreign key and
constraint trigger stays local. The tenant registry (``tenants``: one small
row per tenant, slugs unique across tenants) is a reference table, copied
to every node. The job queue and the migrations' bookkeeping stay on the
coordinator.

:func:`colocation_problems` lists what would break that, in the terms
Citus refuses them: a key without the distribution column, a foreign key
that does not pair the two tables' distribution columns, a foreign key
between a distributed table and one that stays local. The test suite
checks the migrated schema with it, so a migration cannot quietly make
the move past one machine a rewrite; ``invigil db distribution`` prints
the plan and the statements that carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, text

from invigil.db.catalog import PLATFORM_PREFIXES, PLATFORM_TABLES

Kind = Literal["distributed", "reference", "local"]
REGISTRY = "tenants"
ANCHOR = "users"  # the co-location group is named after this tenant table


@dataclass(frozen=True)
class Placement:
    table: str
    kind: Kind
    column: str | None  # the distribution column of a distributed table
    why: str


_TABLES = text(
    """
    SELECT c.oid, c.relname,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                   AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY c.relname
    """
)

# Every key a distributed table must carry its distribution column in:
# primary keys, unique and exclusion constraints, unique indexes of their own.
_KEYS = text(
    """
    SELECT con.contype::text AS kind, con.conname AS name,
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) AS k(n)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) AS columns
    FROM pg_constraint con WHERE con.conrelid = :oid AND con.contype IN ('p', 'u', 'x')
    UNION ALL
    SELECT 'i', ic.relname,
           ARRAY(SELECT a.attname::text FROM unnest(i.indkey::int2[]) AS k(n)
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n)
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid = :oid AND i.indisunique
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
    """
)

# Every foreign key between two tables of the schema, its columns paired in order.
_FOREIGN_KEYS = text(
    """
    SELECT con.conname AS name, src.relname AS source, dst.relname AS target,
           ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
                 ORDER BY k.o) AS columns,
           ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(n, o)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
                 ORDER BY k.o) AS referenced
    FROM pg_constraint con
    JOIN pg_class src ON src.oid = con.conrelid
    JOIN pg_class dst ON dst.oid = con.confrelid
    JOIN pg_namespace n ON n.oid = src.relnamespace
    WHERE con.contype = 'f' AND n.nspname = 'public' AND NOT src.relispartition
    ORDER BY src.relname, con.conname
    """
)


def placements(conn: Connection) -> list[Placement]:
    """Every table of the schema with where it would live."""
    out: list[Placement] = []
    for t in conn.execute(_TABLES).all():
        if t.relname == REGISTRY:
            why = "the tenant registry: one row per tenant, slugs unique across tenants"
            out.append(Placement(t.relname, "reference", None, why))
        elif t.has_tenant:
            out.append(Placement(t.relname, "distributed", "tenant_id", "tenant data"))
        elif t.relname.startswith(PLATFORM_PREFIXES):
            why = "the job queue: ids only, dequeued with FOR UPDATE SKIP LOCKED"
            out.append(Placement(t.relname, "local", None, why))
        elif t.relname in PLATFORM_TABLES:
            out.append(Placement(t.relname, "local", None, "the migrations' bookkeeping"))
        else:
            why = "no tenant_id and not a platform table: placement undecided"
            out.append(Placement(t.relname, "local", None, why))
    return out


def colocation_problems(conn: Connection) -> list[str]:
    """Every way the schema would stop a tenant's rows living together on one
    node; empty when the move to a distributed PostgreSQL is configuration."""
    placed = {p.table: p for p in placements(conn)}
    problems = [f"{p.table}: {p.why}" for p in placed.values() if "undecided" in p.why]
    for t in conn.execute(_TABLES).all():
        p = placed[t.relname]
        if p.kind != "distributed":
            continue
        for key in conn.execute(_KEYS, {"oid": t.oid}).all():
            if p.column not in key.columns:
                kinds = {"p": "primary key", "u": "unique constraint", "x": "exclusion constraint"}
                what = kinds.get(key.kind, "unique index")
                problems.append(f"{t.relname}: {what} {key.name} does not include {p.column}")
    for fk in conn.execute(_FOREIGN_KEYS).all():
        source, target = placed[fk.source], placed[fk.target]
        where = f"{fk.source}: foreign key {fk.name} to {fk.target}"
        if source.kind == "distributed" and target.kind == "distributed":
            pairs = set(zip(fk.columns, fk.referenced, strict=True))
            if (source.column, target.column) not in pairs:
                problems.append(
                    f"{where} does not pair {source.column} with {target.column}: "
                    "the two rows may live on different nodes"
                )
        elif source.kind != target.kind and target.kind != "reference":
            problems.append(f"{where} joins a {source.kind} table to a {target.kind} one")
    return problems


def statements(plan: list[Placement]) -> list[str]:
    """The Citus calls that carry ``plan`` out: the reference table, then the
    co-location group's anchor and the tables co-located with it, then the
    coordinator's own (run once on the coordinator after ``invigil db upgrade``)."""
    rank = {"reference": 0, "distributed": 1, "local": 2}
    ordered = sorted(plan, key=lambda p: (rank[p.kind], p.table != ANCHOR, p.table))
    out: list[str] = []
    for p in ordered:
        if p.kind == "reference":
            out.append(f"SELECT create_reference_table('{p.table}');")
        elif p.kind == "local":
            out.append(f"SELECT citus_add_local_table_to_metadata('{p.table}');")
        elif p.table == ANCHOR:
            out.append(f"SELECT create_distributed_table('{p.table}', '{p.column}');")
        else:
            out.append(
                f"SELECT create_distributed_table('{p.table}', '{p.column}', "
                f"colocate_with => '{ANCHOR}');"
            )
    return out
