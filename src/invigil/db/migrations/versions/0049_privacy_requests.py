"""Data-subject requests.

``privacy_requests``: one row per request a person made of the tenant
(access, erasure, objection, rectification): when it was received, the day
it is due (received + 30 days), how it came in and a short note; then how it
ended (completed or refused), with the outcome in words, who and when. An
access request names the export built for it (an object in the tenant's
regional store, encrypted under the person's data key, with its size and
SHA-256); an erasure names the purge receipts written for it and what a
legal hold kept. A finished request is hashed as a canonical document and
anchored by its audit entry (``privacy.request_completed`` or
``privacy.request_refused``); ``invigil audit verify`` recomputes it.

Revision ID: 0049
Revises: 0048
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0049"
down_revision = "0048"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE privacy_requests (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            candidate_id uuid NOT NULL,
            kind varchar(16) NOT NULL,
            received_at date NOT NULL,
            due_at date NOT NULL,
            channel varchar(16) NOT NULL,
            note text NOT NULL DEFAULT '',
            received_by varchar(200) NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'open',
            outcome text,
            completed_at timestamptz,
            completed_by varchar(200),
            receipt_ids uuid[] NOT NULL DEFAULT '{}',
            kept jsonb,
            export_object_id uuid,
            export_data_key_id uuid,
            export_region varchar(40),
            export_store_key varchar(300),
            export_size bigint,
            export_sha256 varchar(64),
            sha256 varchar(64),
            CONSTRAINT pk_privacy_requests PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_privacy_requests_kind
                CHECK (kind IN ('access', 'erasure', 'objection', 'rectification')),
            CONSTRAINT ck_privacy_requests_channel
                CHECK (channel IN ('email', 'letter', 'portal', 'phone', 'in_person', 'other')),
            CONSTRAINT ck_privacy_requests_status
                CHECK (status IN ('open', 'completed', 'refused')),
            CONSTRAINT ck_privacy_requests_due CHECK (due_at > received_at),
            CONSTRAINT ck_privacy_requests_note CHECK (char_length(note) <= 1000),
            CONSTRAINT ck_privacy_requests_outcome
                CHECK (outcome IS NULL OR char_length(outcome) <= 2000),
            CONSTRAINT ck_privacy_requests_finished CHECK (
                (status = 'open') = (completed_at IS NULL)
                AND (status = 'open') = (outcome IS NULL)
                AND (status = 'open') = (sha256 IS NULL)
            ),
            CONSTRAINT ck_privacy_requests_export CHECK (
                (export_object_id IS NULL) = (export_sha256 IS NULL)
                AND (export_object_id IS NULL OR kind = 'access')
            ),
            CONSTRAINT fk_privacy_requests_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_privacy_requests_candidate FOREIGN KEY (tenant_id, candidate_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_privacy_requests_due ON privacy_requests (tenant_id, status, due_at)")
    run("CREATE INDEX ix_privacy_requests_candidate ON privacy_requests (tenant_id, candidate_id)")
    for stmt in tenant_rls("privacy_requests"):
        run(stmt)
    # Rows change state (open -> completed or refused), never go.
    run(grant_dml("privacy_requests", app, "SELECT, INSERT, UPDATE"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
