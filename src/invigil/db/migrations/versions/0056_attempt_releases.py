"""A released browser's reason is kept in a row, not in the audit log.

Releasing an attempt from its browser (a candidate's computer failed) asks
staff for a reason, which the ``attempt.released`` entry used to carry as
typed. Staff write things like "Ada's laptop died": personal data, in a log
kept for the organisation's lifetime. The reason now lives in
``attempt_releases`` (append-only; the retention purge reaches it with the
other staff words about an attempt) and the entry carries the row's id and
the reason's SHA-256. Entries written before keep their reason; the attempt
page reads either.

Revision ID: 0056
Revises: 0053
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import append_only, grant_dml, run, tenant_rls

revision = "0056"
down_revision = "0053"
branch_labels = None
depends_on = None


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
    for stmt in [*tenant_rls("attempt_releases"), *append_only("attempt_releases")]:
        run(stmt)
    run(grant_dml("attempt_releases", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
