"""Indexes that keep the home pages' questions bounded.

Each widget of a home page (docs/architecture.md, "Home pages") reads a
window of recent rows or a short list, never a whole table:

- ``proctoring_actions (tenant_id, created_at)``: flags by kind over the
  last 30 days;
- ``attempts (tenant_id, submitted_at)`` where submitted: the latest
  submissions;
- ``attempt_results (tenant_id, created_at)`` where a person must grade:
  the grader's queue (only the revisions that still wait, a small set).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("CREATE INDEX ix_proctoring_actions_recent ON proctoring_actions (tenant_id, created_at)")
    run("""
        CREATE INDEX ix_attempts_submitted ON attempts (tenant_id, submitted_at)
            WHERE submitted_at IS NOT NULL
    """)
    run("""
        CREATE INDEX ix_attempt_results_grading ON attempt_results (tenant_id, created_at)
            WHERE needs_grading
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
