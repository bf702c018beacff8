"""Retention policies and legal holds.

``retention_policies``: one row per version of a tenant's retention policy
(docs/formats/retention-policy.md): the document, why it changed, who
wrote it and the sha256 of the version as a canonical document, anchored by
the ``retention.policy_set`` audit entry. Written once, for every role.

``retention_holds`` and ``retention_hold_lifts``: a legal hold on a
candidate, an exam or the whole tenant, with its reason; lifting it is a
second row (one per hold) with its own reason. Both written once: a hold's
history is never edited, and nothing under a hold without a lift is purged.

``attempts.retention_version``: the policy version in force when the
attempt started (0: the documented defaults, as no version was written),
frozen with the attempt as its proctoring policy is; the consent text the
candidate agreed to states that version's periods.

Revision ID: 0046
Revises: 0039
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import append_only, grant_dml, run, tenant_rls

revision = "0046"
down_revision = "0039"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE retention_policies (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            version integer NOT NULL,
            document jsonb NOT NULL,
            sha256 varchar(64) NOT NULL,
            reason text NOT NULL,
            created_by varchar(200) NOT NULL,
            CONSTRAINT pk_retention_policies PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_retention_policies_tenant_id_version UNIQUE (tenant_id, version),
            CONSTRAINT ck_retention_policies_version CHECK (version >= 1),
            CONSTRAINT ck_retention_policies_document CHECK (jsonb_typeof(document) = 'object'),
            CONSTRAINT ck_retention_policies_reason CHECK (char_length(reason) <= 2000),
            CONSTRAINT fk_retention_policies_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TABLE retention_holds (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            scope varchar(16) NOT NULL,
            subject_id uuid,
            reason text NOT NULL,
            placed_by varchar(200) NOT NULL,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_retention_holds PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_retention_holds_scope CHECK (scope IN ('candidate', 'exam', 'tenant')),
            CONSTRAINT ck_retention_holds_subject
                CHECK ((scope = 'tenant') = (subject_id IS NULL)),
            CONSTRAINT ck_retention_holds_reason
                CHECK (btrim(reason) <> '' AND char_length(reason) <= 2000),
            CONSTRAINT fk_retention_holds_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_retention_holds_subject ON retention_holds (tenant_id, scope, subject_id)")
    run("""
        CREATE TABLE retention_hold_lifts (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            hold_id uuid NOT NULL,
            reason text NOT NULL,
            lifted_by varchar(200) NOT NULL,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_retention_hold_lifts PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_retention_hold_lifts_tenant_id_hold_id UNIQUE (tenant_id, hold_id),
            CONSTRAINT ck_retention_hold_lifts_reason
                CHECK (btrim(reason) <> '' AND char_length(reason) <= 2000),
            CONSTRAINT fk_retention_hold_lifts_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_retention_hold_lifts_hold FOREIGN KEY (tenant_id, hold_id)
                REFERENCES retention_holds (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    for table in ("retention_policies", "retention_holds", "retention_hold_lifts"):
        for stmt in append_only(table) + tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT"))
    run("ALTER TABLE attempts ADD COLUMN retention_version integer")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
