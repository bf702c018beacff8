"""The analytics cache: one row per exam holding its result figures (summary,
histogram, categories, item analysis) and what they cover (the number of
result rows and the newest one's time). Derived data, recomputed when a
result is recorded after it (docs/adr/0033-item-analysis.md).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE analytics_cache (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            exam_id uuid NOT NULL,
            format integer NOT NULL,
            results integer NOT NULL CHECK (results >= 0),
            newest_result_at timestamptz,
            figures jsonb NOT NULL CHECK (jsonb_typeof(figures) = 'object'),
            computed_at timestamptz NOT NULL,
            CONSTRAINT pk_analytics_cache PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_analytics_cache_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT uq_analytics_cache_tenant_id_exam_id UNIQUE (tenant_id, exam_id),
            CONSTRAINT fk_analytics_cache_tenant_id_exam_id_exams
                FOREIGN KEY (tenant_id, exam_id) REFERENCES exams (tenant_id, id)
                ON DELETE CASCADE
        )
    """)
    for stmt in tenant_rls("analytics_cache"):
        run(stmt)
    run(grant_dml("analytics_cache", app, "SELECT, INSERT, UPDATE"))
    # An exam's attempts (its cohort and its funnel) are found through
    # ix_attempts_exam_submitted (0027), which leads with (tenant_id, exam_id).


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
