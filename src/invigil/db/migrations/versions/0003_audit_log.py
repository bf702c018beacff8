"""Append-only audit log: entries, per-tenant heads, signed checkpoints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    run(
        """
        CREATE FUNCTION audit_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'audit records are append-only: % on % is not allowed',
            TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    # An entry is RFC 8785 canonical JSON with its keys in this order:
    # action, actor, at, id, payload, prev, seq, subject, tenant, v. The app
    # canonicalises every value it knows; the database fills in the three it
    # decides (at, prev, seq) and hashes, so an append is one statement.
    # (No SET search_path: it would stop the planner inlining these; they call
    # only pg_catalog functions, which are always searched first.)
    run(
        """
        CREATE FUNCTION audit_entry(head text, at timestamptz, prev bytea, seq bigint, mid text,
                                    tail text) RETURNS text
        LANGUAGE sql STABLE PARALLEL SAFE
        AS $$ SELECT head || to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
                     || mid || encode(prev, 'hex') || '","seq":' || seq::text || tail $$
        """
    )
    run(
        """
        CREATE FUNCTION audit_leaf(entry text) RETURNS bytea
        LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT sha256('\\x00'::bytea || convert_to(entry, 'UTF8')) $$
        """
    )
    run(
        f"GRANT EXECUTE ON FUNCTION audit_entry(text, timestamptz, bytea, bigint, text, text), "
        f"audit_leaf(text) TO {app}"
    )
    # The head row serialises appends per tenant: seq is gapless and in
    # commit order, which the Merkle tree needs.
    run(
        """
        CREATE TABLE audit_heads (
            tenant_id uuid NOT NULL,
            next_seq bigint NOT NULL DEFAULT 0,
            last_leaf bytea,
            last_prev bytea,
            last_at timestamptz,
            CONSTRAINT pk_audit_heads PRIMARY KEY (tenant_id),
            CONSTRAINT fk_audit_heads_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
        """
    )
    run(
        """
        CREATE TABLE audit_events (
            tenant_id uuid NOT NULL,
            seq bigint NOT NULL,
            id uuid NOT NULL,
            occurred_at timestamptz NOT NULL,
            actor_kind varchar(16) NOT NULL,
            actor_id varchar(200) NOT NULL,
            action varchar(100) NOT NULL,
            subject_type varchar(50) NOT NULL,
            subject_id varchar(200) NOT NULL,
            payload jsonb NOT NULL,
            entry text NOT NULL,
            leaf_hash bytea NOT NULL,
            CONSTRAINT pk_audit_events PRIMARY KEY (tenant_id, seq),
            CONSTRAINT uq_audit_events_tenant_id_id UNIQUE (tenant_id, id),
            CONSTRAINT fk_audit_events_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_audit_events_leaf_hash_length CHECK (length(leaf_hash) = 32),
            CONSTRAINT ck_audit_events_seq_positive CHECK (seq >= 0)
        )
        """
    )
    run(
        "CREATE INDEX ix_audit_events_subject ON audit_events (tenant_id, subject_type, subject_id)"
    )
    run("CREATE INDEX ix_audit_events_action ON audit_events (tenant_id, action, occurred_at)")
    run("CREATE INDEX ix_audit_events_actor ON audit_events (tenant_id, actor_kind, actor_id)")
    run(
        """
        CREATE TABLE audit_checkpoints (
            tenant_id uuid NOT NULL,
            tree_size bigint NOT NULL,
            root_hash bytea NOT NULL,
            sealed_at timestamptz NOT NULL,
            key_id varchar(100) NOT NULL,
            signature bytea NOT NULL,
            note text NOT NULL,
            CONSTRAINT pk_audit_checkpoints PRIMARY KEY (tenant_id, tree_size),
            CONSTRAINT fk_audit_checkpoints_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_audit_checkpoints_root_length CHECK (length(root_hash) = 32)
        )
        """
    )
    for table in ("audit_events", "audit_checkpoints"):
        run(
            f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
            """
        )
        run(
            f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
            """
        )
    for table in ("audit_heads", "audit_events", "audit_checkpoints"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("audit_heads", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("audit_events", app, "SELECT, INSERT"))
    run(grant_dml("audit_checkpoints", app, "SELECT, INSERT"))
    # Sealing iterates tenants from a job: the ids only, through the platform path.
    run(
        """
        CREATE FUNCTION platform_tenant_ids() RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public, pg_temp
        AS $$ SELECT t.id FROM public.tenants t ORDER BY t.id $$
        """
    )
    run(f"GRANT EXECUTE ON FUNCTION platform_tenant_ids() TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
