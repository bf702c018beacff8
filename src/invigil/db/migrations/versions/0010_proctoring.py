"""Proctoring: the attempt's frozen policy and integrity state, the
append-only event stream (hash-chained by the browser), and the actions the
policy took.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    run("""
        ALTER TABLE attempts
            ADD COLUMN policy jsonb,
            ADD COLUMN integrity varchar(20) NOT NULL DEFAULT 'clear',
            ADD COLUMN events_last_seq bigint NOT NULL DEFAULT 0,
            ADD COLUMN events_head varchar(64),
            ADD COLUMN silent_seq bigint,
            ADD CONSTRAINT ck_attempts_integrity
                CHECK (integrity IN ('clear', 'flagged', 'provisional_fail'))
    """)

    # One row per message. Client messages have seq >= 1 and carry the
    # browser's hash chain; events the server records itself (client.silent)
    # have seq <= -1 and are outside that chain.
    run("""
        CREATE TABLE proctoring_events (
            tenant_id uuid NOT NULL,
            attempt_id uuid NOT NULL,
            seq bigint NOT NULL,
            kind varchar(32) NOT NULL,
            phase varchar(8) NOT NULL,
            at timestamptz NOT NULL,
            ends bigint,
            details jsonb NOT NULL DEFAULT '{}',
            body text,
            prev varchar(64),
            hash varchar(64),
            linked boolean NOT NULL DEFAULT true,
            received_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_proctoring_events PRIMARY KEY (tenant_id, attempt_id, seq),
            CONSTRAINT fk_proctoring_events_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_events_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_proctoring_events_seq CHECK (seq <> 0),
            CONSTRAINT ck_proctoring_events_phase CHECK (phase IN ('start', 'end', 'instant')),
            CONSTRAINT ck_proctoring_events_chain CHECK (
                (seq > 0) = (body IS NOT NULL AND hash IS NOT NULL AND prev IS NOT NULL)
            )
        )
    """)

    run("""
        CREATE TABLE proctoring_actions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            rule_id varchar(64) NOT NULL,
            kind varchar(32) NOT NULL,
            severity varchar(8) NOT NULL,
            action varchar(20) NOT NULL,
            episode_seq bigint NOT NULL,
            related bigint[] NOT NULL,
            message text NOT NULL,
            CONSTRAINT pk_proctoring_actions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_proctoring_actions_tenant_id_attempt_id_rule_id_episode_seq
                UNIQUE (tenant_id, attempt_id, rule_id, episode_seq),
            CONSTRAINT fk_proctoring_actions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_actions_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_proctoring_actions_severity
                CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
            CONSTRAINT ck_proctoring_actions_action
                CHECK (action IN ('log', 'warn', 'flag', 'auto_submit', 'provisional_fail'))
        )
    """)
    run("CREATE INDEX ix_proctoring_actions_attempt ON proctoring_actions (tenant_id, attempt_id)")

    for table in ("proctoring_events", "proctoring_actions"):
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT"))

    # The job that notices silent clients: running attempts not heard from
    # since ``quiet_since``, ids only (see platform_due_attempts in 0009).
    run("""
        CREATE FUNCTION platform_quiet_attempts(quiet_since timestamptz, max_rows integer)
        RETURNS TABLE (tenant_id uuid, attempt_id uuid)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, public, pg_temp
        AS $$
        DECLARE
            caller text := current_setting('app.tenant_id', true);
            t uuid;
        BEGIN
            FOR t IN SELECT id FROM public.tenants ORDER BY id LOOP
                PERFORM set_config('app.tenant_id', t::text, true);
                RETURN QUERY
                    SELECT a.tenant_id, a.id FROM public.attempts a
                    WHERE a.tenant_id = t AND a.status = 'in_progress'
                      AND a.silent_seq IS NULL AND a.last_seen_at < quiet_since
                    ORDER BY a.last_seen_at
                    LIMIT max_rows;
            END LOOP;
            PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
        END
        $$
    """)
    run(f"GRANT EXECUTE ON FUNCTION platform_quiet_attempts(timestamptz, integer) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
