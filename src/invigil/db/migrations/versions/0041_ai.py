"""AI features: each tenant's opt-in and provider, and one usage record per call.

``ai_settings``: one row per tenant that has chosen anything: whether AI
features are on (off by default: no row is off), which features, and
optionally the tenant's own OpenAI-compatible provider (base URL, model,
API key sealed by the secret box). Changes are audited.

``ai_usage``: one row per call to a provider, successful or not: purpose,
provider host, model, actor, token counts, latency, outcome, the hashes of
the request and the response, the credits it cost under which price list
version and the ledger transfer that charged them. Written once, for every
role (``audit_reject_change()``; SELECT and INSERT only), hashed and
anchored in its audit entry; ``invigil ledger verify`` recomputes the cost.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None

PURPOSES = "('rubric_suggestion', 'question_draft')"
OUTCOMES = "('ok', 'timeout', 'rate_limited', 'provider_error', 'malformed', 'unreachable')"


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE ai_settings (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            enabled boolean NOT NULL DEFAULT false,
            rubric_suggestions boolean NOT NULL DEFAULT false,
            question_drafting boolean NOT NULL DEFAULT false,
            base_url varchar(2000),
            model varchar(100),
            api_key_sealed bytea,
            updated_at timestamptz NOT NULL DEFAULT now(),
            updated_by varchar(200) NOT NULL,
            CONSTRAINT pk_ai_settings PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_ai_settings_tenant_id UNIQUE (tenant_id),
            CONSTRAINT ck_ai_settings_provider
                CHECK ((base_url IS NULL) = (model IS NULL)),
            CONSTRAINT fk_ai_settings_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run(f"""
        CREATE TABLE ai_usage (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            purpose varchar(32) NOT NULL,
            subject_type varchar(40),
            subject_id uuid,
            provider varchar(255) NOT NULL,
            model varchar(100) NOT NULL,
            actor varchar(200) NOT NULL,
            prompt_tokens integer NOT NULL,
            completion_tokens integer NOT NULL,
            latency_ms integer NOT NULL,
            outcome varchar(20) NOT NULL,
            request_sha256 varchar(64) NOT NULL,
            response_sha256 varchar(64),
            price_list_version integer,
            cost bigint NOT NULL,
            transfer_id uuid,
            unpaid boolean NOT NULL DEFAULT false,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_ai_usage PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_ai_usage_purpose CHECK (purpose IN {PURPOSES}),
            CONSTRAINT ck_ai_usage_outcome CHECK (outcome IN {OUTCOMES}),
            CONSTRAINT ck_ai_usage_tokens CHECK (prompt_tokens >= 0 AND completion_tokens >= 0),
            CONSTRAINT ck_ai_usage_cost CHECK (cost >= 0),
            CONSTRAINT ck_ai_usage_paid CHECK (NOT (unpaid AND transfer_id IS NOT NULL)),
            CONSTRAINT fk_ai_usage_transfer FOREIGN KEY (tenant_id, transfer_id)
                REFERENCES ledger_transfers (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_ai_usage_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_ai_usage_created ON ai_usage (tenant_id, created_at, id)")
    run("""
        CREATE TRIGGER ai_usage_append_only BEFORE UPDATE OR DELETE ON ai_usage
        FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TRIGGER ai_usage_no_truncate BEFORE TRUNCATE ON ai_usage
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
    """)
    for table in ("ai_settings", "ai_usage"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("ai_settings", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("ai_usage", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
