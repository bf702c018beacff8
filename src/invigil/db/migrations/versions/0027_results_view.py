"""The per-exam results view (ADR 0032): one index on attempts.

``ix_attempts_exam_submitted (tenant_id, exam_id, submitted_at, id)``: the
results list of one exam, newest submission first (its default order), is
read from this index a page at a time; every other order and filter reads
the exam's attempts through it. The latest result of each attempt is found
through ``attempt_results``' unique key (tenant_id, attempt_id, revision).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("""
        CREATE INDEX ix_attempts_exam_submitted
            ON attempts (tenant_id, exam_id, submitted_at, id)
    """)


def downgrade() -> None:
    run("DROP INDEX ix_attempts_exam_submitted")
