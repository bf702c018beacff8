"""AI-suggested rubric marks, their discards, and what each mark owes to one.

``rubric_suggestions``: one row per suggestion an AI provider gave a grader
for one response (attempt, slot): a level and a rationale per rubric
criterion, the overall rationale, the total those levels would give, and the
usage record of the call (``ai_usage``) that produced it. Never a mark.

``rubric_suggestion_discards``: a grader put a suggestion aside (at most once).

``grading_marks`` gains ``ai_suggestion_id`` and ``ai_influence``: the
suggestion the grader had been shown for that response when they gave the
mark, and whether the mark took its levels unchanged (``taken``), started
from them and changed some (``edited``) or did not use them (``ignored``).
Both NULL: no suggestion was shown.

All three are written once (``audit_reject_change()``; SELECT and INSERT
only), hashed and anchored in their audit entries.

Revision ID: 0042
Revises: 0045
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0042"
down_revision = "0045"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE rubric_suggestions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            slot integer NOT NULL,
            requested_by uuid NOT NULL,
            usage_id uuid NOT NULL,
            criteria jsonb NOT NULL,
            overall_rationale text NOT NULL,
            total numeric(10, 2) NOT NULL,
            max_points numeric(10, 2) NOT NULL,
            CONSTRAINT pk_rubric_suggestions PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_rubric_suggestions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_rubric_suggestions_attempt FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_rubric_suggestions_requested_by FOREIGN KEY (tenant_id, requested_by)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_rubric_suggestions_usage FOREIGN KEY (tenant_id, usage_id)
                REFERENCES ai_usage (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT uq_rubric_suggestions_tenant_id_usage_id UNIQUE (tenant_id, usage_id),
            CONSTRAINT ck_rubric_suggestions_slot CHECK (slot >= 0),
            CONSTRAINT ck_rubric_suggestions_criteria CHECK (jsonb_typeof(criteria) = 'array'),
            CONSTRAINT ck_rubric_suggestions_total CHECK (total >= 0 AND total <= max_points)
        )
    """)
    run("""
        CREATE INDEX ix_rubric_suggestions_response
            ON rubric_suggestions (tenant_id, attempt_id, slot, requested_by, created_at)
    """)
    run("""
        CREATE TABLE rubric_suggestion_discards (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            suggestion_id uuid NOT NULL,
            discarded_by uuid NOT NULL,
            CONSTRAINT pk_rubric_suggestion_discards PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_rubric_suggestion_discards_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_rubric_suggestion_discards_suggestion
                FOREIGN KEY (tenant_id, suggestion_id)
                REFERENCES rubric_suggestions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_rubric_suggestion_discards_discarded_by
                FOREIGN KEY (tenant_id, discarded_by)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT uq_rubric_suggestion_discards_tenant_id_suggestion_id
                UNIQUE (tenant_id, suggestion_id)
        )
    """)
    run("ALTER TABLE grading_marks ADD COLUMN ai_suggestion_id uuid")
    run("ALTER TABLE grading_marks ADD COLUMN ai_influence varchar(10)")
    run("""
        ALTER TABLE grading_marks
            ADD CONSTRAINT ck_grading_marks_ai_influence CHECK (
                (ai_suggestion_id IS NULL) = (ai_influence IS NULL)
                AND (ai_influence IS NULL OR ai_influence IN ('taken', 'edited', 'ignored'))
            ),
            ADD CONSTRAINT fk_grading_marks_ai_suggestion FOREIGN KEY (tenant_id, ai_suggestion_id)
                REFERENCES rubric_suggestions (tenant_id, id) ON DELETE RESTRICT
    """)
    for table in ("rubric_suggestions", "rubric_suggestion_discards"):
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
