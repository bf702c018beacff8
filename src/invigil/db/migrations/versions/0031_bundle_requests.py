"""Evidence bundles asked for through the web and the API (ADR 0041).

``bundle_requests (tenant_id, id)``: who asked for a bundle of which
subject (``kind``, ``subject_id``), whether it carries decrypted evidence
(the asker's evidence:view at the time) or hashes only, how far its job
got (``state``, ``done`` of ``total``), and, once built, where the object
lives (``region``, ``store_key``, encrypted under ``data_key_id``), its
size and SHA-256 (anchored in the audit log by ``bundle.ready``) and when
it expires. Rows change state but are never deleted (the app role has no
DELETE): purging drops the object and its data key, the row stays.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE bundle_requests (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            kind varchar(20) NOT NULL,
            subject_id uuid NOT NULL,
            requested_by uuid NOT NULL,
            with_evidence boolean NOT NULL,
            state varchar(16) NOT NULL DEFAULT 'queued',
            done bigint NOT NULL DEFAULT 0,
            total bigint,
            error text,
            attempts integer NOT NULL DEFAULT 0,
            data_key_id uuid,
            region varchar(40),
            store_key varchar(300),
            size bigint,
            stored_size bigint,
            sha256 varchar(64),
            started_at timestamptz,
            finished_at timestamptz,
            expires_at timestamptz,
            CONSTRAINT pk_bundle_requests PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_bundle_requests_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_bundle_requests_tenant_id_requested_by_users
                FOREIGN KEY (tenant_id, requested_by)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_bundle_requests_tenant_id_data_key_id_evidence_data_keys
                FOREIGN KEY (tenant_id, data_key_id)
                REFERENCES evidence_data_keys (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_bundle_requests_state
                CHECK (state IN ('queued', 'building', 'ready', 'failed', 'expired')),
            CONSTRAINT ck_bundle_requests_kind
                CHECK (kind IN ('attempt', 'shortlist', 'certificate')),
            CONSTRAINT ck_bundle_requests_progress
                CHECK (done >= 0 AND (total IS NULL OR total >= 0)),
            CONSTRAINT ck_bundle_requests_sha256
                CHECK (sha256 IS NULL OR sha256 ~ '^[0-9a-f]{64}$'),
            CONSTRAINT ck_bundle_requests_ready CHECK (state <> 'ready' OR sha256 IS NOT NULL)
        )
    """)
    run(
        "CREATE INDEX ix_bundle_requests_subject "
        "ON bundle_requests (tenant_id, kind, subject_id, created_at)"
    )
    run("CREATE INDEX ix_bundle_requests_expires ON bundle_requests (tenant_id, expires_at)")
    for stmt in tenant_rls("bundle_requests"):
        run(stmt)
    run(grant_dml("bundle_requests", app, "SELECT, INSERT, UPDATE"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
