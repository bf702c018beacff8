"""A released browser's reason is kept in a row, not in the audit log.

Releasing an attempt from its browser (a candidate's computer failed) asks
staff for a reason, which the ``attempt.released`` entry used to carry as
typed. Staff write things like "Ada's laptop died": personal data, in a log
kept for the organisation's lifetime. The reason now lives in
``attempt_releases`` (written once; only the retention purge empties a
reason, through ``platform_retention_release_reasons``, with the other staff
words about a person, ADR 0063) and the entry carries the row's id and the
reason's SHA-256. Entries written before keep their reason; the attempt
page reads either.

Revision ID: 0056
Revises: 0052
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0056"
down_revision = "0052"
branch_labels = None
depends_on = None


FUNCTION = """
    CREATE FUNCTION platform_retention_release_reasons(p_candidate uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      UPDATE public.attempt_releases r SET reason = ''
      FROM public.attempts a
      WHERE a.tenant_id = r.tenant_id AND a.id = r.attempt_id
        AND a.candidate_id = p_candidate AND r.reason <> '';
      GET DIAGNOSTICS n = ROW_COUNT;
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE attempt_releases (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            released_by varchar(200) NOT NULL,
            reason text NOT NULL,
            CONSTRAINT pk_attempt_releases PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_attempt_releases_reason CHECK (char_length(reason) <= 500),
            CONSTRAINT fk_attempt_releases_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempt_releases_tenant_id_attempt_id_attempts FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_attempt_releases_attempt ON attempt_releases (tenant_id, attempt_id)")
    for stmt in tenant_rls("attempt_releases"):
        run(stmt)
    # Written once, as the append-only tables whose staff words the purge
    # empties (0052): a change passes only inside a platform_retention_* function.
    run(
        "CREATE TRIGGER attempt_releases_append_only BEFORE UPDATE OR DELETE "
        "ON attempt_releases FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
    )
    run(
        "CREATE TRIGGER attempt_releases_no_truncate BEFORE TRUNCATE ON attempt_releases "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()"
    )
    run(grant_dml("attempt_releases", app, "SELECT, INSERT"))
    run(FUNCTION)
    run("REVOKE ALL ON FUNCTION platform_retention_release_reasons(uuid) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_release_reasons(uuid) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
