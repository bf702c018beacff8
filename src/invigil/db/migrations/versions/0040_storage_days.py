"""Evidence storage measured each day and charged by the GB-month.

``ledger_storage_days``: one row per tenant and UTC day, the bytes of
evidence the tenant kept when the day ended, the price list version and
rate the day is priced at, the whole credits owed for the month so far and
since the first measured day, and what was charged with the day (its
transfer, when anything was). Written once, for every role (the
``audit_reject_change()`` trigger; the app role holds SELECT and INSERT
only), unique per tenant and day, so a day is never measured or billed
twice; ``invigil ledger verify`` recomputes the arithmetic from the rows.

Revision ID: 0040
Revises: 0038
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0040"
down_revision = "0038"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE ledger_storage_days (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            day date NOT NULL,
            bytes bigint NOT NULL,
            objects bigint NOT NULL,
            price_list integer,
            rate integer,
            owed_month bigint NOT NULL,
            owed_total bigint NOT NULL,
            charged bigint NOT NULL,
            transfer_id uuid,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_ledger_storage_days PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_ledger_storage_days_tenant_id_day UNIQUE (tenant_id, day),
            CONSTRAINT ck_ledger_storage_days_measured CHECK (bytes >= 0 AND objects >= 0),
            CONSTRAINT ck_ledger_storage_days_priced
                CHECK ((price_list IS NULL) = (rate IS NULL) AND (rate IS NULL OR rate >= 0)),
            CONSTRAINT ck_ledger_storage_days_owed
                CHECK (owed_month >= 0 AND owed_total >= owed_month AND charged >= 0),
            CONSTRAINT ck_ledger_storage_days_charged
                CHECK ((charged = 0) = (transfer_id IS NULL)),
            CONSTRAINT fk_ledger_storage_days_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_ledger_storage_days_transfer FOREIGN KEY (tenant_id, transfer_id)
                REFERENCES ledger_transfers (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TRIGGER ledger_storage_days_append_only BEFORE UPDATE OR DELETE
        ON ledger_storage_days FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TRIGGER ledger_storage_days_no_truncate BEFORE TRUNCATE ON ledger_storage_days
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
    """)
    for stmt in tenant_rls("ledger_storage_days"):
        run(stmt)
    run(grant_dml("ledger_storage_days", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
