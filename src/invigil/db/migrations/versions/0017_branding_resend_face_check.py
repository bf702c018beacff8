"""Tenant branding, links that can be sent again, the system check's face.

``tenant_branding``: one row per tenant (its logo, re-encoded on upload, and
its accent colour); RLS like every tenant table.

``guest_links.token_sealed`` / ``sealed_key_id``: the guest link itself,
sealed (AES-256-GCM) under the candidate's data key of the envelope
hierarchy (master -> tenant -> candidate), so that staff can send the same
link again. The lookup still uses only the keyed hash; erasing the
candidate's data key makes the sealed link unreadable with the rest of
their data. NULL on links issued before this migration (they can only be
rotated).

``attempts.face_seen_at``: when the server's face detector first found a
face in a system-check picture of this attempt; an exam that watches faces
begins only once it is set.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE tenant_branding (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            accent varchar(7),
            logo bytea,
            logo_type varchar(32),
            logo_sha256 varchar(64),
            logo_width integer,
            logo_height integer,
            CONSTRAINT pk_tenant_branding PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_tenant_branding_tenant_id UNIQUE (tenant_id),
            CONSTRAINT fk_tenant_branding_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_tenant_branding_accent CHECK (accent IS NULL OR accent ~ '^#[0-9a-f]{6}$'),
            CONSTRAINT ck_tenant_branding_logo CHECK (
                (logo IS NULL AND logo_type IS NULL AND logo_sha256 IS NULL)
                OR (logo IS NOT NULL AND octet_length(logo) <= 262144
                    AND logo_type IN ('image/png', 'image/jpeg', 'image/webp')
                    AND logo_sha256 IS NOT NULL
                    AND logo_width BETWEEN 1 AND 1024 AND logo_height BETWEEN 1 AND 1024)
            )
        )
    """)
    for statement in tenant_rls("tenant_branding"):
        run(statement)
    run(grant_dml("tenant_branding", app, "SELECT, INSERT, UPDATE"))

    run("ALTER TABLE guest_links ADD COLUMN token_sealed bytea")
    run("ALTER TABLE guest_links ADD COLUMN sealed_key_id uuid")
    run("""
        ALTER TABLE guest_links ADD CONSTRAINT ck_guest_links_sealed
            CHECK ((token_sealed IS NULL) = (sealed_key_id IS NULL))
    """)
    run("ALTER TABLE attempts ADD COLUMN face_seen_at timestamptz")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
