"""Delivery: candidates, invitations pinned to a published exam version,
guest links (keyed hashes only) and the mail outbox.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    run("""
        CREATE TABLE candidates (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            name varchar(200) NOT NULL,
            email varchar(320) NOT NULL,
            external_ref varchar(200) NOT NULL DEFAULT '',
            CONSTRAINT pk_candidates PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_candidates_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_candidates_name_not_blank CHECK (btrim(name) <> ''),
            CONSTRAINT ck_candidates_email_format CHECK (position('@' in email) > 1)
        )
    """)
    run("CREATE UNIQUE INDEX uq_candidates_tenant_id_email ON candidates (tenant_id, lower(email))")

    run("""
        CREATE TABLE invitations (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            candidate_id uuid NOT NULL,
            exam_id uuid NOT NULL,
            exam_version integer NOT NULL,
            opens_at timestamptz NOT NULL,
            closes_at timestamptz NOT NULL,
            extra_time_percent integer NOT NULL DEFAULT 0,
            status varchar(16) NOT NULL DEFAULT 'active',
            revoked_at timestamptz,
            created_by varchar(80) NOT NULL,
            CONSTRAINT pk_invitations PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_invitations_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_invitations_tenant_id_candidate_id_candidates
                FOREIGN KEY (tenant_id, candidate_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_invitations_exam_version FOREIGN KEY (tenant_id, exam_id, exam_version)
                REFERENCES exam_versions (tenant_id, exam_id, version) ON DELETE RESTRICT,
            CONSTRAINT ck_invitations_window CHECK (closes_at > opens_at),
            CONSTRAINT ck_invitations_extra_time CHECK (extra_time_percent BETWEEN 0 AND 300),
            CONSTRAINT ck_invitations_status CHECK (status IN ('active', 'revoked')),
            CONSTRAINT ck_invitations_revoked CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
        )
    """)
    run("CREATE INDEX ix_invitations_list ON invitations (tenant_id, created_at, id)")
    run("CREATE INDEX ix_invitations_exam ON invitations (tenant_id, exam_id)")
    run("CREATE INDEX ix_invitations_candidate ON invitations (tenant_id, candidate_id)")

    # A link is only ever stored as HMAC-SHA256(server key, token): a copy of
    # the database alone cannot open any exam. One live link per invitation.
    run("""
        CREATE TABLE guest_links (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            invitation_id uuid NOT NULL,
            token_hash bytea NOT NULL,
            ended_at timestamptz,
            ended_reason varchar(16),
            CONSTRAINT pk_guest_links PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_guest_links_tenant_id_token_hash UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_guest_links_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_guest_links_tenant_id_invitation_id_invitations
                FOREIGN KEY (tenant_id, invitation_id)
                REFERENCES invitations (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_guest_links_token_hash CHECK (octet_length(token_hash) = 32),
            CONSTRAINT ck_guest_links_ended CHECK (
                (ended_at IS NULL AND ended_reason IS NULL)
                OR (ended_at IS NOT NULL AND ended_reason IN ('revoked', 'replaced'))
            )
        )
    """)
    run(
        "CREATE UNIQUE INDEX uq_guest_links_live ON guest_links (tenant_id, invitation_id) "
        "WHERE ended_at IS NULL"
    )

    # The body holds a placeholder where the link goes; the link itself is
    # sealed (AES-GCM, bound to the row) only until the send job is done.
    run("""
        CREATE TABLE mail_outbox (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            invitation_id uuid,
            to_address varchar(320) NOT NULL,
            subject varchar(300) NOT NULL,
            body text NOT NULL,
            link_sealed bytea,
            sent_at timestamptz,
            error text,
            attempts integer NOT NULL DEFAULT 0,
            CONSTRAINT pk_mail_outbox PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_mail_outbox_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_mail_outbox_tenant_id_invitation_id_invitations
                FOREIGN KEY (tenant_id, invitation_id)
                REFERENCES invitations (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_mail_outbox_list ON mail_outbox (tenant_id, created_at, id)")

    for table in ("candidates", "invitations", "guest_links", "mail_outbox"):
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT, UPDATE"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
