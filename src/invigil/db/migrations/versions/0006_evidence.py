"""Evidence: envelope keys (tenant keys, per-subject data keys), encrypted
objects in a regional store, resumable uploads.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    # A tenant key, wrapped by the master key named in master_key_id. A
    # master-key rotation re-wraps these rows and touches nothing else.
    run("""
        CREATE TABLE evidence_tenant_keys (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            master_key_id varchar(100) NOT NULL,
            wrapped_key bytea NOT NULL,
            rewrapped_at timestamptz,
            retired_at timestamptz,
            CONSTRAINT pk_evidence_tenant_keys PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_evidence_tenant_keys_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE UNIQUE INDEX uq_evidence_tenant_keys_live ON evidence_tenant_keys (tenant_id)"
        " WHERE retired_at IS NULL"
    )
    # One live data key per subject (a candidate); destroying it (wrapped_key
    # NULL, destroyed_at set) crypto-shreds every object of that subject.
    run("""
        CREATE TABLE evidence_data_keys (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            subject_type varchar(40) NOT NULL,
            subject_id varchar(80) NOT NULL,
            tenant_key_id uuid NOT NULL,
            wrapped_key bytea,
            destroyed_at timestamptz,
            CONSTRAINT pk_evidence_data_keys PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_evidence_data_keys_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_evidence_data_keys_tenant_id_tenant_key_id_evidence_tenant_keys
                FOREIGN KEY (tenant_id, tenant_key_id)
                REFERENCES evidence_tenant_keys (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_evidence_data_keys_destroyed
                CHECK ((wrapped_key IS NULL) = (destroyed_at IS NOT NULL))
        )
    """)
    run(
        "CREATE UNIQUE INDEX uq_evidence_data_keys_live ON evidence_data_keys"
        " (tenant_id, subject_type, subject_id) WHERE destroyed_at IS NULL"
    )
    run("""
        CREATE TABLE evidence_objects (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            data_key_id uuid NOT NULL,
            tenant_key_id uuid NOT NULL,
            subject_type varchar(40) NOT NULL,
            subject_id varchar(80) NOT NULL,
            kind varchar(32) NOT NULL,
            content_type varchar(100) NOT NULL,
            region varchar(40) NOT NULL,
            store_key varchar(300) NOT NULL,
            format smallint NOT NULL,
            plaintext_size bigint NOT NULL,
            plaintext_sha256 varchar(64) NOT NULL,
            stored_size bigint NOT NULL,
            created_by varchar(80) NOT NULL,
            CONSTRAINT pk_evidence_objects PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_evidence_objects_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_evidence_objects_tenant_id_data_key_id_evidence_data_keys
                FOREIGN KEY (tenant_id, data_key_id)
                REFERENCES evidence_data_keys (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_evidence_objects_sizes CHECK (plaintext_size >= 0 AND stored_size >= 0),
            CONSTRAINT ck_evidence_objects_sha256 CHECK (plaintext_sha256 ~ '^[0-9a-f]{64}$')
        )
    """)
    run(
        "CREATE INDEX ix_evidence_objects_subject ON evidence_objects"
        " (tenant_id, subject_type, subject_id, created_at)"
    )
    run("""
        CREATE TABLE evidence_uploads (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            subject_type varchar(40) NOT NULL,
            subject_id varchar(80) NOT NULL,
            kind varchar(32) NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'open',
            object_id uuid,
            created_by varchar(80) NOT NULL,
            CONSTRAINT pk_evidence_uploads PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_evidence_uploads_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_evidence_uploads_tenant_id_object_id_evidence_objects
                FOREIGN KEY (tenant_id, object_id)
                REFERENCES evidence_objects (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_evidence_uploads_status
                CHECK (status IN ('open', 'completed', 'aborted'))
        )
    """)
    run("""
        CREATE TABLE evidence_upload_chunks (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            upload_id uuid NOT NULL,
            chunk_index integer NOT NULL,
            size integer NOT NULL,
            sha256 varchar(64) NOT NULL,
            store_key varchar(300) NOT NULL,
            CONSTRAINT pk_evidence_upload_chunks PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_evidence_upload_chunks_tenant_id_upload_id_chunk_index
                UNIQUE (tenant_id, upload_id, chunk_index),
            CONSTRAINT fk_evidence_upload_chunks_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_evidence_upload_chunks_tenant_id_upload_id_evidence_uploads
                FOREIGN KEY (tenant_id, upload_id)
                REFERENCES evidence_uploads (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT ck_evidence_upload_chunks_chunk_index CHECK (chunk_index >= 0),
            CONSTRAINT ck_evidence_upload_chunks_size CHECK (size > 0)
        )
    """)

    for table in ("evidence_tenant_keys", "evidence_data_keys", "evidence_uploads"):
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT, UPDATE"))
    # An object row is written once; a chunk row is deleted when its upload completes.
    for stmt in tenant_rls("evidence_objects"):
        run(stmt)
    run(grant_dml("evidence_objects", app, "SELECT, INSERT"))
    for stmt in tenant_rls("evidence_upload_chunks"):
        run(stmt)
    run(grant_dml("evidence_upload_chunks", app, "SELECT, INSERT, DELETE"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
