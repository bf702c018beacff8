"""Identity: roles and grants, sessions and refresh tokens, one-time links,
sign-in throttling, and the tenant's second-factor policy.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BUILTIN = (
    "tenant_admin",
    "exam_author",
    "question_manager",
    "proctor_reviewer",
    "grader",
    "results_viewer",
    "shortlister",
    "certification_manager",
    "billing_admin",
    "auditor",
)


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    run("ALTER TABLE tenants ADD COLUMN require_mfa_for_admins boolean NOT NULL DEFAULT false")
    run(f"GRANT UPDATE (require_mfa_for_admins) ON tenants TO {app}")
    run("""
        ALTER TABLE users
            ADD COLUMN totp_secret bytea,
            ADD COLUMN totp_enabled_at timestamptz,
            ADD COLUMN password_changed_at timestamptz,
            ADD COLUMN last_sign_in_at timestamptz
    """)
    run("""
        CREATE TABLE roles (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            name varchar(64) NOT NULL,
            description varchar(500) NOT NULL DEFAULT '',
            builtin boolean NOT NULL DEFAULT false,
            permissions text[] NOT NULL DEFAULT '{}',
            CONSTRAINT pk_roles PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_roles_tenant_id_name UNIQUE (tenant_id, name),
            CONSTRAINT fk_roles_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_roles_name_format CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$')
        )
    """)
    run("""
        CREATE TABLE user_roles (
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            role_id uuid NOT NULL,
            granted_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_user_roles PRIMARY KEY (tenant_id, user_id, role_id),
            CONSTRAINT fk_user_roles_tenant_id_user_id_users FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT fk_user_roles_tenant_id_role_id_roles FOREIGN KEY (tenant_id, role_id)
                REFERENCES roles (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_user_roles_role ON user_roles (tenant_id, role_id)")
    run("""
        CREATE TABLE auth_sessions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            user_id uuid NOT NULL,
            kind varchar(8) NOT NULL,
            token_hash bytea,
            expires_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            revoked_reason varchar(64),
            address varchar(64) NOT NULL DEFAULT '',
            user_agent varchar(300) NOT NULL DEFAULT '',
            mfa_enroll_only boolean NOT NULL DEFAULT false,
            CONSTRAINT pk_auth_sessions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_auth_sessions_tenant_id_token_hash UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_auth_sessions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_auth_sessions_tenant_id_user_id_users FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT ck_auth_sessions_kind CHECK (kind IN ('api', 'web'))
        )
    """)
    run("CREATE INDEX ix_auth_sessions_user ON auth_sessions (tenant_id, user_id)")
    run("""
        CREATE TABLE refresh_tokens (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            session_id uuid NOT NULL,
            token_hash bytea NOT NULL,
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            CONSTRAINT pk_refresh_tokens PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_refresh_tokens_tenant_id_token_hash UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_refresh_tokens_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_refresh_tokens_tenant_id_session_id_auth_sessions
                FOREIGN KEY (tenant_id, session_id)
                REFERENCES auth_sessions (tenant_id, id) ON DELETE CASCADE
        )
    """)
    run("""
        CREATE TABLE user_tokens (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            user_id uuid NOT NULL,
            purpose varchar(16) NOT NULL,
            token_hash bytea NOT NULL,
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            CONSTRAINT pk_user_tokens PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_user_tokens_tenant_id_token_hash UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_user_tokens_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_user_tokens_tenant_id_user_id_users FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT ck_user_tokens_purpose CHECK (purpose IN ('invite', 'reset'))
        )
    """)
    run("""
        CREATE TABLE sign_in_failures (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            at timestamptz NOT NULL DEFAULT now(),
            email_key varchar(320) NOT NULL,
            address varchar(64) NOT NULL,
            CONSTRAINT pk_sign_in_failures PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_sign_in_failures_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_sign_in_failures_email ON sign_in_failures (tenant_id, email_key, at)")
    run("CREATE INDEX ix_sign_in_failures_address ON sign_in_failures (tenant_id, address, at)")

    for table in (
        "roles",
        "user_roles",
        "auth_sessions",
        "refresh_tokens",
        "user_tokens",
        "sign_in_failures",
    ):
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app))

    names = ", ".join(f"'{n}'" for n in BUILTIN)
    run(f"""
        DO $$
        DECLARE t uuid;
        BEGIN
          FOR t IN SELECT id FROM tenants LOOP
            PERFORM set_config('app.tenant_id', t::text, true);
            INSERT INTO roles (tenant_id, id, name, builtin)
              SELECT t, gen_random_uuid(), n, true FROM unnest(ARRAY[{names}]) AS n
              ON CONFLICT (tenant_id, name) DO NOTHING;
          END LOOP;
          PERFORM set_config('app.tenant_id', '', true);
        END $$
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
