"""The candidate portal and contests.

``portal_links``: a candidate's link to their portal (what is recorded
about them, their released results, the flags and the evidence behind
them), found only by HMAC-SHA256(server key, token) like guest and result
links. It expires (24 hours by default), staff can end it (``revoked``),
a newer one ends the older (``replaced``): at most one live link per
candidate.

``proctoring_contests``: a candidate's explanation against one flag or
against the attempt's integrity outcome, with at most one attachment (an
evidence object under the candidate's key); written once, anchored by its
``proctoring.contested`` audit entry. One per flag and one per outcome.

``review_decisions.answers``: the contest a review decision answers (at
most one decision answers a contest).

Revision ID: 0048
Revises: 0047
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import append_only, grant_dml, run, tenant_rls

revision = "0048"
down_revision = "0047"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE portal_links (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            candidate_id uuid NOT NULL,
            token_hash bytea NOT NULL,
            expires_at timestamptz NOT NULL,
            ended_at timestamptz,
            ended_reason varchar(16),
            CONSTRAINT pk_portal_links PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_portal_links_tenant_id_token_hash UNIQUE (tenant_id, token_hash),
            CONSTRAINT fk_portal_links_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_portal_links_tenant_id_candidate_id_candidates
                FOREIGN KEY (tenant_id, candidate_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_portal_links_ended CHECK (
                (ended_at IS NULL AND ended_reason IS NULL)
                OR (ended_at IS NOT NULL AND ended_reason IN ('revoked', 'replaced'))
            )
        )
    """)
    run("""
        CREATE UNIQUE INDEX uq_portal_links_live ON portal_links (tenant_id, candidate_id)
            WHERE ended_at IS NULL
    """)
    for stmt in tenant_rls("portal_links"):
        run(stmt)
    run(grant_dml("portal_links", app, "SELECT, INSERT, UPDATE"))

    run("""
        CREATE TABLE proctoring_contests (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            action_id uuid,
            text text NOT NULL,
            attachment_id uuid,
            attachment_sha256 varchar(64),
            language varchar(16) NOT NULL,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_proctoring_contests PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_proctoring_contests_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_contests_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_contests_tenant_id_action_id_proctoring_actions
                FOREIGN KEY (tenant_id, action_id)
                REFERENCES proctoring_actions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_contests_tenant_id_attachment_id_evidence_objects
                FOREIGN KEY (tenant_id, attachment_id)
                REFERENCES evidence_objects (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_proctoring_contests_text
                CHECK (btrim(text) <> '' AND char_length(text) <= 4000),
            CONSTRAINT ck_proctoring_contests_attachment
                CHECK ((attachment_id IS NULL) = (attachment_sha256 IS NULL))
        )
    """)
    run("""
        CREATE UNIQUE INDEX uq_proctoring_contests_flag
            ON proctoring_contests (tenant_id, attempt_id, action_id)
            WHERE action_id IS NOT NULL
    """)
    run("""
        CREATE UNIQUE INDEX uq_proctoring_contests_outcome
            ON proctoring_contests (tenant_id, attempt_id)
            WHERE action_id IS NULL
    """)
    for stmt in append_only("proctoring_contests") + tenant_rls("proctoring_contests"):
        run(stmt)
    run(grant_dml("proctoring_contests", app, "SELECT, INSERT"))

    run("ALTER TABLE review_decisions ADD COLUMN answers uuid")
    run("""
        ALTER TABLE review_decisions
            ADD CONSTRAINT fk_review_decisions_tenant_id_answers_proctoring_contests
            FOREIGN KEY (tenant_id, answers)
            REFERENCES proctoring_contests (tenant_id, id) ON DELETE RESTRICT
    """)
    run("""
        CREATE UNIQUE INDEX uq_review_decisions_answers ON review_decisions (tenant_id, answers)
            WHERE answers IS NOT NULL
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
