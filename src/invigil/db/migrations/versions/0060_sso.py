"""Single sign-on for staff (OpenID Connect), per tenant.

- ``sso_configs``: a tenant's provider (at most one): its issuer, client id
  and client secret (sealed by the secret box), the e-mail domains it may
  vouch for, the claim whose values map to roles, whether accounts are
  made on first sign-in (off by default) and with which role, whether
  passwords are refused for the tenant's staff except the named
  break-glass administrators, and when Invigil's own second factor is
  still asked for.
- ``sso_identities``: a staff account linked to a provider's
  (issuer, subject); one per account and issuer.
- ``sso_logins``: a sign-in in flight (state by hash, bound to the browser,
  nonce, PKCE verifier sealed); used once, kept short.

Revision ID: 0060
Revises: 0059
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0060"
down_revision = "0059"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE sso_configs (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            enabled boolean NOT NULL DEFAULT false,
            display_name varchar(100) NOT NULL,
            issuer varchar(2000) NOT NULL,
            client_id varchar(500) NOT NULL,
            client_secret_sealed bytea,
            allowed_domains text[] NOT NULL DEFAULT '{}',
            role_claim varchar(100) NOT NULL DEFAULT 'groups',
            role_mappings jsonb NOT NULL DEFAULT '[]',
            jit_enabled boolean NOT NULL DEFAULT false,
            jit_role varchar(64),
            sso_required boolean NOT NULL DEFAULT false,
            break_glass uuid[] NOT NULL DEFAULT '{}',
            require_mfa boolean NOT NULL DEFAULT true,
            mfa_acr_values text[] NOT NULL DEFAULT '{}',
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_sso_configs PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_sso_configs_tenant_id UNIQUE (tenant_id),
            CONSTRAINT fk_sso_configs_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TABLE sso_identities (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            user_id uuid NOT NULL,
            issuer varchar(2000) NOT NULL,
            subject varchar(255) NOT NULL,
            last_used_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_sso_identities PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_sso_identities_subject UNIQUE (tenant_id, issuer, subject),
            CONSTRAINT uq_sso_identities_user UNIQUE (tenant_id, user_id, issuer),
            CONSTRAINT fk_sso_identities_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_sso_identities_tenant_id_user_id_users FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )
    """)
    run("""
        CREATE TABLE sso_logins (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            state_hash bytea NOT NULL,
            browser_hash bytea NOT NULL,
            nonce varchar(128) NOT NULL,
            verifier_sealed bytea NOT NULL,
            next_path varchar(2000) NOT NULL DEFAULT '',
            stage varchar(16) NOT NULL DEFAULT 'started',
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            user_id uuid,
            mfa_by varchar(16),
            CONSTRAINT pk_sso_logins PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_sso_logins_tenant_id_state_hash UNIQUE (tenant_id, state_hash),
            CONSTRAINT ck_sso_logins_stage CHECK (stage IN ('started', 'mfa', 'done')),
            CONSTRAINT fk_sso_logins_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_sso_logins_tenant_id_user_id_users FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )
    """)
    run("CREATE INDEX ix_sso_logins_expires ON sso_logins (tenant_id, expires_at)")
    for table in ("sso_configs", "sso_identities", "sso_logins"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("sso_configs", app))
    run(grant_dml("sso_identities", app))
    run(grant_dml("sso_logins", app))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
