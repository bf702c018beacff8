"""Price lists: what each billable event costs a tenant, versioned.

``ledger_price_lists``: one row per version of a tenant's price list (its
canonical JSON document and sha256), in force from ``effective_from``
until a later version takes over. Written once, for every role (the
``audit_reject_change()`` trigger; the app role holds SELECT and INSERT
only): a change of price is a new version, and every charge names the
version it was priced by, so ``invigil ledger verify`` can recompute it.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE ledger_price_lists (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            version integer NOT NULL,
            effective_from timestamptz NOT NULL,
            document jsonb NOT NULL,
            sha256 varchar(64) NOT NULL,
            reason text NOT NULL,
            created_by varchar(200) NOT NULL,
            CONSTRAINT pk_ledger_price_lists PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_ledger_price_lists_tenant_id_version UNIQUE (tenant_id, version),
            CONSTRAINT ck_ledger_price_lists_version CHECK (version >= 1),
            CONSTRAINT ck_ledger_price_lists_document CHECK (jsonb_typeof(document) = 'object'),
            CONSTRAINT fk_ledger_price_lists_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_ledger_price_lists_effective "
        "ON ledger_price_lists (tenant_id, effective_from)"
    )
    run("""
        CREATE TRIGGER ledger_price_lists_append_only BEFORE UPDATE OR DELETE
        ON ledger_price_lists FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TRIGGER ledger_price_lists_no_truncate BEFORE TRUNCATE ON ledger_price_lists
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
    """)
    for stmt in tenant_rls("ledger_price_lists"):
        run(stmt)
    run(grant_dml("ledger_price_lists", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
