"""AI question drafts: kept apart from questions until an author saves them.

``question_drafts``: one row per question an AI provider drafted into a
bank, with the usage record of the call that drafted it. A draft is not a
question: exams, exports and question counts read ``questions`` only, so an
unreviewed draft can reach none of them. The draft's content is written once
(what the provider proposed, already checked with the editor's validators);
only its decision changes, once: ``pending`` to ``accepted`` (naming the
question the author saved from it) or ``discarded``. A trigger refuses any
other change, for every role.

``question_versions.drafted_from``: the draft a question version was saved
from, so the version carries its provenance (drafted by AI, reviewed by the
version's author).

Revision ID: 0045
Revises: 0041
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0045"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        CREATE TABLE question_drafts (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            bank_id uuid NOT NULL,
            usage_id uuid NOT NULL,
            position integer NOT NULL,
            type varchar(32) NOT NULL,
            content jsonb NOT NULL,
            created_by varchar(80) NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'pending',
            decided_at timestamptz,
            decided_by varchar(80),
            question_id uuid,
            CONSTRAINT pk_question_drafts PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_question_drafts_status
                CHECK (status IN ('pending', 'accepted', 'discarded')),
            CONSTRAINT ck_question_drafts_decided
                CHECK ((status = 'pending') = (decided_at IS NULL)
                       AND (decided_at IS NULL) = (decided_by IS NULL)),
            CONSTRAINT ck_question_drafts_question
                CHECK ((status = 'accepted') = (question_id IS NOT NULL)),
            CONSTRAINT ck_question_drafts_position CHECK (position >= 0),
            CONSTRAINT ck_question_drafts_content CHECK (jsonb_typeof(content) = 'object'),
            CONSTRAINT fk_question_drafts_bank FOREIGN KEY (tenant_id, bank_id)
                REFERENCES question_banks (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_drafts_usage FOREIGN KEY (tenant_id, usage_id)
                REFERENCES ai_usage (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_drafts_question FOREIGN KEY (tenant_id, question_id)
                REFERENCES questions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_drafts_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_question_drafts_bank "
        "ON question_drafts (tenant_id, bank_id, status, created_at, id)"
    )
    run("""
        CREATE FUNCTION question_draft_decided_once() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'question drafts are kept: % % is refused', TG_OP, TG_TABLE_NAME;
            END IF;
            IF OLD.status <> 'pending'
               OR (NEW.tenant_id, NEW.id, NEW.created_at, NEW.bank_id, NEW.usage_id,
                   NEW.position, NEW.type, NEW.content, NEW.created_by)
                  IS DISTINCT FROM
                  (OLD.tenant_id, OLD.id, OLD.created_at, OLD.bank_id, OLD.usage_id,
                   OLD.position, OLD.type, OLD.content, OLD.created_by) THEN
                RAISE EXCEPTION 'a question draft is decided once and its content never changes';
            END IF;
            RETURN NEW;
        END $$
    """)
    run("""
        CREATE TRIGGER question_drafts_decided_once BEFORE UPDATE OR DELETE ON question_drafts
        FOR EACH ROW EXECUTE FUNCTION question_draft_decided_once()
    """)
    for stmt in tenant_rls("question_drafts"):
        run(stmt)
    run(grant_dml("question_drafts", app, "SELECT, INSERT, UPDATE"))
    run("ALTER TABLE question_versions ADD COLUMN drafted_from uuid")
    run("""
        ALTER TABLE question_versions ADD CONSTRAINT fk_question_versions_drafted_from
        FOREIGN KEY (tenant_id, drafted_from) REFERENCES question_drafts (tenant_id, id)
        ON DELETE RESTRICT
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
