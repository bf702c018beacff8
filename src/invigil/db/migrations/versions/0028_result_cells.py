"""Result cells: one row per question of each attempt's latest result
revision (docs/adr/0036-result-cells.md).

``result_cells (tenant_id, attempt_id, slot)``: what the cohort's figures
aggregate (item analysis, category means, time medians), taken from the
latest result document's ``questions`` (slot = position on the paper, the
section from the attempt's paper at that position) with the revision they
come from. Derived data, not a record: the write path
(invigil.delivery.results) replaces an attempt's cells in the transaction
that stores each new revision; the document stays the audited record.
Indexes: ``(tenant_id, exam_id, exam_version)`` for an exam's cohort and
``(tenant_id, question_id, exam_id)`` for the exams that used a question.

Data: the cells of every attempt's latest revision, one INSERT ... SELECT
per tenant (RLS is forced on the owner too, so the statement visits each
tenant the way the app does, as 0025 does).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


# The same cells as the write path stores (a test compares them): each
# question of the latest revision's document, in paper order.
BACKFILL = """
DO $$
DECLARE
    caller text := current_setting('app.tenant_id', true);
    t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants ORDER BY id LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        INSERT INTO result_cells (
            tenant_id, attempt_id, slot, result_id, revision, exam_id, exam_version,
            section, question_id, version_id, category, type, awarded, max,
            needs_grading, time_ms, canonical_response)
        SELECT r.tenant_id, r.attempt_id, (e.n - 1)::int, r.id, r.revision,
               a.exam_id, a.exam_version,
               (a.paper -> (e.n - 1)::int ->> 'section')::int,
               (e.q ->> 'question_id')::uuid, (e.q ->> 'version_id')::uuid,
               e.q ->> 'category', e.q ->> 'type',
               (e.q ->> 'awarded')::numeric, (e.q ->> 'max')::numeric,
               (e.q ->> 'needs_grading')::boolean, (e.q ->> 'time_ms')::bigint,
               e.q -> 'canonical_response'
          FROM attempt_results r
          JOIN attempts a ON a.tenant_id = r.tenant_id AND a.id = r.attempt_id
         CROSS JOIN LATERAL jsonb_array_elements(r.document -> 'questions')
               WITH ORDINALITY AS e(q, n)
         WHERE r.tenant_id = t
           AND NOT EXISTS (SELECT 1 FROM attempt_results later
                            WHERE later.tenant_id = r.tenant_id
                              AND later.attempt_id = r.attempt_id
                              AND later.revision > r.revision);
    END LOOP;
    PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
END
$$
"""


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE result_cells (
            tenant_id uuid NOT NULL,
            attempt_id uuid NOT NULL,
            slot integer NOT NULL,
            result_id uuid NOT NULL,
            revision integer NOT NULL,
            exam_id uuid NOT NULL,
            exam_version integer NOT NULL,
            section integer,
            question_id uuid,
            version_id uuid,
            category text,
            type text,
            awarded numeric,
            max numeric,
            needs_grading boolean,
            time_ms bigint,
            canonical_response jsonb,
            CONSTRAINT pk_result_cells PRIMARY KEY (tenant_id, attempt_id, slot),
            CONSTRAINT fk_result_cells_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_result_cells_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT fk_result_cells_tenant_id_result_id_attempt_results
                FOREIGN KEY (tenant_id, result_id)
                REFERENCES attempt_results (tenant_id, id) ON DELETE CASCADE
        )
    """)
    run("CREATE INDEX ix_result_cells_exam ON result_cells (tenant_id, exam_id, exam_version)")
    run("CREATE INDEX ix_result_cells_question ON result_cells (tenant_id, question_id, exam_id)")
    for stmt in tenant_rls("result_cells"):
        run(stmt)
    run(grant_dml("result_cells", app, "SELECT, INSERT, DELETE"))
    run(BACKFILL)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
