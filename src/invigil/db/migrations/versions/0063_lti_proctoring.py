"""LTI Proctoring Services: Invigil proctors an assessment its learning
platform delivers itself (docs/adr/0073-lti-proctoring-services.md).

- ``lti_proctoring_sessions``: one per (platform, resource link, learner,
  attempt number): the invitation (and so the attempt) that carries the
  proctoring, the platform's ``session_data`` and ``start_assessment_url``
  from its start message, and where the session stands.

Revision ID: 0063
Revises: 0062
Create Date: 2026-12-10
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0063"
down_revision = "0062"
branch_labels = None
depends_on = None

TABLE = "lti_proctoring_sessions"


def _fk(column: str, target: str) -> str:
    return (
        f"CONSTRAINT fk_{TABLE}_tenant_id_{column}_{target} FOREIGN KEY (tenant_id, {column}) "
        f"REFERENCES {target} (tenant_id, id) ON DELETE CASCADE"
    )


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    run(f"""
        CREATE TABLE {TABLE} (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            link_id uuid NOT NULL,
            account_id uuid NOT NULL,
            invitation_id uuid NOT NULL,
            deployment_id varchar(255) NOT NULL,
            attempt_number integer NOT NULL,
            session_data varchar(4000) NOT NULL DEFAULT '',
            start_assessment_url varchar(2000) NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'started',
            assessing_at timestamptz,
            ended_at timestamptz,
            CONSTRAINT pk_{TABLE} PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_{TABLE}_attempt UNIQUE (tenant_id, link_id, account_id, attempt_number),
            CONSTRAINT uq_{TABLE}_invitation UNIQUE (tenant_id, invitation_id),
            CONSTRAINT ck_{TABLE}_status CHECK (status IN ('started', 'assessing', 'ended')),
            CONSTRAINT ck_{TABLE}_attempt_number CHECK (attempt_number >= 1),
            CONSTRAINT fk_{TABLE}_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            {_fk("link_id", "lti_links")},
            {_fk("account_id", "lti_accounts")},
            {_fk("invitation_id", "invitations")}
        )
    """)
    for stmt in tenant_rls(TABLE):
        run(stmt)
    run(grant_dml(TABLE, config["app_role"]))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
