"""LTI 1.3: Invigil as a tool in a tenant's learning platforms.

- ``lti_platforms``: registrations (issuer, client id, deployment ids, the
  platform's key set, login and token URLs), one per (issuer, client id).
- ``lti_tool_keys``: the tenant's RSA key pairs (private key sealed).
- ``lti_launches``: launches in flight (state and browser by hash, the
  single-use nonce), kept short.
- ``lti_links``: resource links and the exam each opens, with the line item.
- ``lti_accounts``: a platform user (``sub``) as a candidate and/or staff.
- ``lti_seats``: the invitation a learner's launch made.
- ``lti_score_posts``: scores sent to the platform's gradebook.

Revision ID: 0062
Revises: 0060
Create Date: 2026-12-09
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0062"
down_revision = "0061"
branch_labels = None
depends_on = None

TABLES = (
    "lti_platforms",
    "lti_tool_keys",
    "lti_launches",
    "lti_links",
    "lti_accounts",
    "lti_seats",
    "lti_score_posts",
)


def _tenant(table: str) -> str:
    return (
        f"CONSTRAINT fk_{table}_tenant_id_tenants FOREIGN KEY (tenant_id) "
        "REFERENCES tenants (id) ON DELETE RESTRICT"
    )


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> str:
    return (
        f"CONSTRAINT fk_{table}_tenant_id_{column}_{target} FOREIGN KEY (tenant_id, {column}) "
        f"REFERENCES {target} (tenant_id, id) ON DELETE {ondelete}"
    )


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    common = (
        "tenant_id uuid NOT NULL, id uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now()"
    )
    run(f"""
        CREATE TABLE lti_platforms (
            {common},
            name varchar(100) NOT NULL,
            public_key varchar(100) NOT NULL,
            issuer varchar(2000) NOT NULL,
            client_id varchar(500) NOT NULL,
            deployment_ids text[] NOT NULL DEFAULT '{{}}',
            jwks_url varchar(2000) NOT NULL,
            auth_login_url varchar(2000) NOT NULL,
            token_url varchar(2000) NOT NULL,
            instructor_role varchar(64),
            enabled boolean NOT NULL DEFAULT true,
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_lti_platforms PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_platforms_client UNIQUE (tenant_id, issuer, client_id),
            CONSTRAINT uq_lti_platforms_public_key UNIQUE (tenant_id, public_key),
            {_tenant("lti_platforms")}
        )
    """)
    run(f"""
        CREATE TABLE lti_tool_keys (
            {common},
            kid varchar(64) NOT NULL,
            public_jwk jsonb NOT NULL,
            private_sealed bytea NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'current',
            retired_at timestamptz,
            CONSTRAINT pk_lti_tool_keys PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_tool_keys_kid UNIQUE (tenant_id, kid),
            CONSTRAINT ck_lti_tool_keys_status CHECK (status IN ('current', 'retired')),
            {_tenant("lti_tool_keys")}
        )
    """)
    run(f"""
        CREATE TABLE lti_launches (
            {common},
            platform_id uuid NOT NULL,
            state_hash bytea NOT NULL,
            browser_hash bytea NOT NULL,
            nonce varchar(128) NOT NULL,
            stage varchar(16) NOT NULL DEFAULT 'started',
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            user_id uuid,
            handoff_hash bytea,
            deployment_id varchar(255) NOT NULL DEFAULT '',
            return_url varchar(2000),
            return_data varchar(4000),
            CONSTRAINT pk_lti_launches PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_launches_state UNIQUE (tenant_id, state_hash),
            CONSTRAINT uq_lti_launches_nonce UNIQUE (tenant_id, nonce),
            CONSTRAINT uq_lti_launches_handoff UNIQUE (tenant_id, handoff_hash),
            CONSTRAINT ck_lti_launches_stage CHECK (stage IN ('started', 'launched', 'done')),
            {_tenant("lti_launches")},
            {_fk("lti_launches", "platform_id", "lti_platforms")},
            {_fk("lti_launches", "user_id", "users")}
        )
    """)
    run(f"""
        CREATE TABLE lti_links (
            {common},
            platform_id uuid NOT NULL,
            resource_link_id varchar(255) NOT NULL,
            title varchar(255) NOT NULL DEFAULT '',
            exam_id uuid,
            lineitem_url varchar(2000),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_lti_links PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_links_link UNIQUE (tenant_id, platform_id, resource_link_id),
            {_tenant("lti_links")},
            {_fk("lti_links", "platform_id", "lti_platforms")},
            {_fk("lti_links", "exam_id", "exams", "RESTRICT")}
        )
    """)
    run(f"""
        CREATE TABLE lti_accounts (
            {common},
            platform_id uuid NOT NULL,
            subject varchar(255) NOT NULL,
            candidate_id uuid,
            user_id uuid,
            CONSTRAINT pk_lti_accounts PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_accounts_subject UNIQUE (tenant_id, platform_id, subject),
            {_tenant("lti_accounts")},
            {_fk("lti_accounts", "platform_id", "lti_platforms")},
            {_fk("lti_accounts", "candidate_id", "candidates")},
            {_fk("lti_accounts", "user_id", "users")}
        )
    """)
    run(f"""
        CREATE TABLE lti_seats (
            {common},
            link_id uuid NOT NULL,
            account_id uuid NOT NULL,
            invitation_id uuid NOT NULL,
            CONSTRAINT pk_lti_seats PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_seats_invitation UNIQUE (tenant_id, invitation_id),
            CONSTRAINT uq_lti_seats_learner UNIQUE (tenant_id, link_id, account_id),
            {_tenant("lti_seats")},
            {_fk("lti_seats", "link_id", "lti_links")},
            {_fk("lti_seats", "account_id", "lti_accounts")},
            {_fk("lti_seats", "invitation_id", "invitations")}
        )
    """)
    run(f"""
        CREATE TABLE lti_score_posts (
            {common},
            seat_id uuid NOT NULL,
            release_id uuid NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'pending',
            tries integer NOT NULL DEFAULT 0,
            last_error varchar(500) NOT NULL DEFAULT '',
            posted_at timestamptz,
            CONSTRAINT pk_lti_score_posts PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_lti_score_posts_release UNIQUE (tenant_id, release_id),
            CONSTRAINT ck_lti_score_posts_status CHECK (status IN ('pending', 'posted', 'failed')),
            {_tenant("lti_score_posts")},
            {_fk("lti_score_posts", "seat_id", "lti_seats")},
            {_fk("lti_score_posts", "release_id", "result_releases")}
        )
    """)
    for table in TABLES:
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
