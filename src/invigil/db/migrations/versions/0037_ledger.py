"""The ledger: double-entry accounts, transfers and entries (ADR 0048).

``ledger_accounts``: a tenant's accounts (``code`` unique per tenant), each
with its balance kept in the same transaction as the entries that move it.
The app role may UPDATE ``balance`` and ``updated_at`` only (column grant);
an account that may not go negative refuses a negative balance by CHECK.

``ledger_transfers`` and ``ledger_entries``: written once, for every role
(the ``audit_reject_change()`` trigger, and the app role holds SELECT and
INSERT only). A transfer's entries sum to zero and are at least two: a
DEFERRABLE INITIALLY DEFERRED constraint trigger checks each transfer at
commit, so the rows may be inserted one by one inside the transaction but
never committed unbalanced. A transfer is reversed at most once
(``reverses_id`` unique per tenant) and its idempotency key is unique per
tenant.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

APPEND_ONLY = ("ledger_transfers", "ledger_entries")


def _tenant_fk(table: str) -> str:
    return (
        f"CONSTRAINT fk_{table}_tenant_id_tenants FOREIGN KEY (tenant_id) "
        "REFERENCES tenants (id) ON DELETE RESTRICT"
    )


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run(f"""
        CREATE TABLE ledger_accounts (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            code varchar(40) NOT NULL,
            kind varchar(16) NOT NULL,
            may_go_negative boolean NOT NULL,
            balance bigint NOT NULL DEFAULT 0,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_ledger_accounts PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_ledger_accounts_tenant_id_code UNIQUE (tenant_id, code),
            CONSTRAINT ck_ledger_accounts_code CHECK (code ~ '^[a-z][a-z0-9_]{{0,39}}$'),
            CONSTRAINT ck_ledger_accounts_kind
                CHECK (kind IN ('credits', 'usage', 'refund', 'funding')),
            CONSTRAINT ck_ledger_accounts_not_negative CHECK (may_go_negative OR balance >= 0),
            {_tenant_fk("ledger_accounts")}
        )
    """)
    run(f"""
        CREATE TABLE ledger_transfers (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            key varchar(200) NOT NULL,
            kind varchar(32) NOT NULL,
            reason text NOT NULL,
            reverses_id uuid,
            meta jsonb NOT NULL,
            created_by varchar(200) NOT NULL,
            request_sha256 varchar(64) NOT NULL,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_ledger_transfers PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_ledger_transfers_tenant_id_key UNIQUE (tenant_id, key),
            CONSTRAINT uq_ledger_transfers_tenant_id_reverses_id UNIQUE (tenant_id, reverses_id),
            CONSTRAINT fk_ledger_transfers_reverses FOREIGN KEY (tenant_id, reverses_id)
                REFERENCES ledger_transfers (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_ledger_transfers_kind CHECK (kind ~ '^[a-z][a-z0-9_]{{0,31}}$'),
            CONSTRAINT ck_ledger_transfers_not_self CHECK (reverses_id IS NULL OR reverses_id <> id),
            CONSTRAINT ck_ledger_transfers_meta CHECK (jsonb_typeof(meta) = 'object'),
            {_tenant_fk("ledger_transfers")}
        )
    """)
    run("CREATE INDEX ix_ledger_transfers_created ON ledger_transfers (tenant_id, created_at, id)")
    run(f"""
        CREATE TABLE ledger_entries (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            transfer_id uuid NOT NULL,
            account_id uuid NOT NULL,
            amount bigint NOT NULL,
            CONSTRAINT pk_ledger_entries PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_ledger_entries_tenant_id_transfer_id_account_id
                UNIQUE (tenant_id, transfer_id, account_id),
            CONSTRAINT fk_ledger_entries_transfer FOREIGN KEY (tenant_id, transfer_id)
                REFERENCES ledger_transfers (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_ledger_entries_account FOREIGN KEY (tenant_id, account_id)
                REFERENCES ledger_accounts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_ledger_entries_amount CHECK (amount <> 0),
            {_tenant_fk("ledger_entries")}
        )
    """)
    run("CREATE INDEX ix_ledger_entries_account ON ledger_entries (tenant_id, account_id)")

    # A transfer commits balanced, with two entries or more: checked at
    # commit (deferred), once per inserted transfer and entry row. The
    # function runs as its caller, under the caller's tenant binding.
    run("""
        CREATE FUNCTION ledger_check_balanced() RETURNS trigger
        LANGUAGE plpgsql
        SET search_path = pg_catalog, public, pg_temp
        AS $$
        DECLARE
            t uuid;
            total numeric;
            n bigint;
        BEGIN
            IF TG_TABLE_NAME = 'ledger_transfers' THEN
                t := NEW.id;
            ELSE
                t := NEW.transfer_id;
            END IF;
            SELECT coalesce(sum(amount), 0), count(*) INTO total, n
            FROM public.ledger_entries
            WHERE tenant_id = NEW.tenant_id AND transfer_id = t;
            IF n < 2 THEN
                RAISE EXCEPTION 'ledger transfer % has % entries; a transfer needs two or more', t, n
                    USING ERRCODE = 'check_violation';
            END IF;
            IF total <> 0 THEN
                RAISE EXCEPTION 'ledger transfer % does not balance: its entries sum to %', t, total
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END
        $$
    """)
    for table in APPEND_ONLY:
        run(f"""
            CREATE CONSTRAINT TRIGGER {table}_balanced AFTER INSERT ON {table}
            DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced()
        """)
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)
    for table in ("ledger_accounts", *APPEND_ONLY):
        for stmt in tenant_rls(table):
            run(stmt)
    # Accounts are written once but for their balance.
    run(grant_dml("ledger_accounts", app, "SELECT, INSERT"))
    run(f"GRANT UPDATE (balance, updated_at) ON ledger_accounts TO {app}")
    for table in APPEND_ONLY:
        run(grant_dml(table, app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
