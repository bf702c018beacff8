"""LTI Dynamic Registration (docs/adr/0075-lti-dynamic-registration.md).

- ``lti_registration_urls``: one-time registration URLs a tenant
  administrator made: the token's hash, the name and instructor role the
  platform registered by it gets, when it expires, when it was spent and
  the registration it made (removed with it).

Revision ID: 0065
Revises: 0064
Create Date: 2026-12-13
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0065"
down_revision = "0064"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE lti_registration_urls (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            token_hash bytea NOT NULL,
            name varchar(100) NOT NULL,
            instructor_role varchar(64),
            created_by varchar(200) NOT NULL DEFAULT '',
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            platform_id uuid,
            CONSTRAINT pk_lti_registration_urls PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_registration_urls_token UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_lti_registration_urls_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_lti_registration_urls_tenant_id_platform_id_lti_platforms
                FOREIGN KEY (tenant_id, platform_id)
                REFERENCES lti_platforms (tenant_id, id) ON DELETE CASCADE
        )
    """)
    for stmt in tenant_rls("lti_registration_urls"):
        run(stmt)
    run(grant_dml("lti_registration_urls", app))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
