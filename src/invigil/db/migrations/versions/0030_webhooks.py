"""Outbound webhooks (docs/adr/0038-outbound-webhooks.md).

``webhook_endpoints``: a tenant's receivers (URL, subscribed event names,
active flag, the signing secret sealed with the secret box).
``webhook_deliveries``: one row per event and subscribed endpoint, holding
the exact body bytes that are signed and sent, and the sending state.
``webhook_attempts``: every POST made for a delivery (status, a bounded
excerpt of the answer, error, duration). The app inserts attempts and never
changes them (no UPDATE grant); deleting an endpoint cascades.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE webhook_endpoints (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            url varchar(2000) NOT NULL,
            description varchar(300) NOT NULL,
            events varchar(100)[] NOT NULL,
            active boolean NOT NULL,
            secret_sealed bytea NOT NULL,
            secret_rotated_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            CONSTRAINT pk_webhook_endpoints PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_webhook_endpoints_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TABLE webhook_deliveries (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            endpoint_id uuid NOT NULL,
            event_id uuid NOT NULL,
            event varchar(100) NOT NULL,
            body bytea NOT NULL,
            state varchar(16) NOT NULL,
            attempts integer NOT NULL,
            ticket integer NOT NULL,
            next_attempt_at timestamptz,
            last_status integer,
            finished_at timestamptz,
            CONSTRAINT pk_webhook_deliveries PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_webhook_deliveries_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_webhook_deliveries_tenant_id_endpoint_id_webhook_endpoints
                FOREIGN KEY (tenant_id, endpoint_id)
                REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT ck_webhook_deliveries_state
                CHECK (state IN ('pending', 'delivered', 'failed'))
        )
    """)
    run(
        "CREATE INDEX ix_webhook_deliveries_newest"
        " ON webhook_deliveries (tenant_id, created_at, id)"
    )
    run(
        "CREATE INDEX ix_webhook_deliveries_endpoint"
        " ON webhook_deliveries (tenant_id, endpoint_id, created_at)"
    )
    run("""
        CREATE TABLE webhook_attempts (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            delivery_id uuid NOT NULL,
            number integer NOT NULL,
            manual boolean NOT NULL,
            url varchar(2000) NOT NULL,
            status_code integer,
            response_excerpt text NOT NULL,
            error varchar(500) NOT NULL,
            duration_ms integer NOT NULL,
            CONSTRAINT pk_webhook_attempts PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_webhook_attempts_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_webhook_attempts_tenant_id_delivery_id_webhook_deliveries
                FOREIGN KEY (tenant_id, delivery_id)
                REFERENCES webhook_deliveries (tenant_id, id) ON DELETE CASCADE
        )
    """)
    run(
        "CREATE INDEX ix_webhook_attempts_delivery"
        " ON webhook_attempts (tenant_id, delivery_id, number)"
    )
    for table in ("webhook_endpoints", "webhook_deliveries", "webhook_attempts"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("webhook_endpoints", app))
    run(grant_dml("webhook_deliveries", app))
    run(grant_dml("webhook_attempts", app, "SELECT, INSERT, DELETE"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
