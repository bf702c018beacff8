"""Releasing results to candidates: the release records and the result links.

``result_releases``: one row each time a result revision is released to its
candidate (automatically by the exam's ``results_release`` setting, by hand
for one attempt, or in bulk). Append-only, like ``attempt_results``: a row
is never changed or deleted, each one is anchored in the audit log.

``result_links``: the candidate's link to a released result, found only by
HMAC-SHA256(server key, token) like a guest link; it expires, and staff can
end it (``revoked``) or send a new one (the old one ``replaced``). At most
one live link per attempt.

Data: the exam setting ``results_release = "never"`` is now called
``"manual"`` (results are shown only once staff release them); stored
drafts and published versions are moved over. RLS is forced on the owner
too, so the update visits each tenant the way the app does.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


# "never" is now "manual", in drafts and in published versions alike.
RENAME_NEVER = """
DO $$
DECLARE
    caller text := current_setting('app.tenant_id', true);
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        UPDATE exams
            SET settings = jsonb_set(settings, '{results_release}', '"manual"')
            WHERE tenant_id = t AND settings->>'results_release' = 'never';
        UPDATE exam_versions
            SET settings = jsonb_set(settings, '{results_release}', '"manual"')
            WHERE tenant_id = t AND settings->>'results_release' = 'never';
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
END
$$
"""


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE result_releases (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            result_id uuid NOT NULL,
            revision integer NOT NULL,
            how varchar(16) NOT NULL,
            released_by uuid,
            released_at timestamptz NOT NULL,
            CONSTRAINT pk_result_releases PRIMARY KEY (tenant_id, id),
            -- A revision is released once: two deciders at once cannot both record it.
            CONSTRAINT uq_result_releases_tenant_id_attempt_id_revision
                UNIQUE (tenant_id, attempt_id, revision),
            CONSTRAINT fk_result_releases_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_result_releases_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_result_releases_tenant_id_result_id_attempt_results
                FOREIGN KEY (tenant_id, result_id)
                REFERENCES attempt_results (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_result_releases_how CHECK (how IN ('automatic', 'manual', 'bulk')),
            CONSTRAINT ck_result_releases_revision CHECK (revision >= 1)
        )
    """)
    run("""
        CREATE TRIGGER result_releases_append_only BEFORE UPDATE OR DELETE ON result_releases
        FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TRIGGER result_releases_no_truncate BEFORE TRUNCATE ON result_releases
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TABLE result_links (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            release_id uuid NOT NULL,
            token_hash bytea NOT NULL,
            expires_at timestamptz NOT NULL,
            ended_at timestamptz,
            ended_reason varchar(16),
            CONSTRAINT pk_result_links PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_result_links_tenant_id_token_hash UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_result_links_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_result_links_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_result_links_tenant_id_release_id_result_releases
                FOREIGN KEY (tenant_id, release_id)
                REFERENCES result_releases (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_result_links_ended CHECK (
                (ended_at IS NULL AND ended_reason IS NULL)
                OR (ended_at IS NOT NULL AND ended_reason IN ('revoked', 'replaced'))
            )
        )
    """)
    run("""
        CREATE UNIQUE INDEX uq_result_links_live ON result_links (tenant_id, attempt_id)
            WHERE ended_at IS NULL
    """)
    for table in ("result_releases", "result_links"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("result_releases", app, "SELECT, INSERT"))
    run(grant_dml("result_links", app, "SELECT, INSERT, UPDATE"))

    run(RENAME_NEVER)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
