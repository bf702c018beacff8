"""Every verification of a tenant's audit log, kept.

``invigil audit verify`` proved the log when someone ran it. A daily job
(``audit.verify``) now verifies every tenant's log and the records it
anchors, and a tenant administrator can ask for a run from the trust
report; each run is one row here: when, why (schedule, request, command
line), what it covered and the first problem it found. Rows are written
once (append-only, as the log), so the history of checks is itself
evidence: an auditor sees the log was verified every night, and when it
first failed.

Revision ID: 0054
Revises: 0050
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import append_only, grant_dml, run, tenant_rls

revision = "0054"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE audit_verifications (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            trigger varchar(16) NOT NULL,
            requested_by uuid,
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL,
            entries bigint NOT NULL,
            checkpoints integer NOT NULL,
            anchored_records integer,
            purged_records integer,
            ok boolean NOT NULL,
            problems integer NOT NULL,
            first_bad_seq bigint,
            first_problem text,
            CONSTRAINT pk_audit_verifications PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_audit_verifications_trigger
                CHECK (trigger IN ('schedule', 'request', 'command')),
            CONSTRAINT ck_audit_verifications_requested
                CHECK ((trigger = 'request') = (requested_by IS NOT NULL)),
            CONSTRAINT ck_audit_verifications_times CHECK (finished_at >= started_at),
            CONSTRAINT ck_audit_verifications_counts CHECK (
                entries >= 0 AND checkpoints >= 0 AND problems >= 0
                AND coalesce(anchored_records, 0) >= 0 AND coalesce(purged_records, 0) >= 0
            ),
            CONSTRAINT ck_audit_verifications_outcome CHECK (
                ok = (problems = 0) AND ok = (first_problem IS NULL)
                AND char_length(coalesce(first_problem, '')) <= 2000
            ),
            CONSTRAINT fk_audit_verifications_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_audit_verifications_requested_by FOREIGN KEY (tenant_id, requested_by)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_audit_verifications_latest ON audit_verifications (tenant_id, finished_at)"
    )
    for stmt in [*tenant_rls("audit_verifications"), *append_only("audit_verifications")]:
        run(stmt)
    run(grant_dml("audit_verifications", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
