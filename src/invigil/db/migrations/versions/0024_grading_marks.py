"""Grading marks: every mark a person gives a response, append-only.

One row per mark: the first and the second (independent) mark of a
response, a moderator's decision between two marks too far apart, and each
regrade. ``marks`` holds the per-criterion levels (essays) or the single
figure (short text) with their comments; ``total`` never exceeds
``max_points``, the question's worth on that paper. A moderation and a
regrade carry their reason. Rows are never updated or deleted (a trigger):
a changed mind is a new row (docs/adr/0031-grading-marks.md). Existing
tenants get the built-in ``moderator`` role.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("""
        CREATE TABLE grading_marks (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            slot integer NOT NULL,
            kind varchar(16) NOT NULL,
            grader_id uuid NOT NULL,
            marks jsonb NOT NULL,
            total numeric(10, 2) NOT NULL,
            max_points numeric(10, 2) NOT NULL,
            reason text,
            CONSTRAINT pk_grading_marks PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_grading_marks_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_grading_marks_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_grading_marks_tenant_id_grader_id_users
                FOREIGN KEY (tenant_id, grader_id)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_grading_marks_slot CHECK (slot >= 0),
            CONSTRAINT ck_grading_marks_kind
                CHECK (kind IN ('first', 'second', 'moderation', 'regrade')),
            CONSTRAINT ck_grading_marks_marks CHECK (jsonb_typeof(marks) = 'array'),
            CONSTRAINT ck_grading_marks_total CHECK (total >= 0 AND total <= max_points),
            CONSTRAINT ck_grading_marks_reason CHECK (
                (kind IN ('moderation', 'regrade'))
                = (reason IS NOT NULL AND btrim(reason) <> '')
            )
        )
    """)
    # One first and one second mark per response, never two by one grader,
    # one moderation: the database holds the rule under concurrent requests.
    run("""
        CREATE UNIQUE INDEX uq_grading_marks_response_kind
            ON grading_marks (tenant_id, attempt_id, slot, kind)
            WHERE kind IN ('first', 'second', 'moderation')
    """)
    run("""
        CREATE UNIQUE INDEX uq_grading_marks_response_grader
            ON grading_marks (tenant_id, attempt_id, slot, grader_id)
            WHERE kind IN ('first', 'second')
    """)
    run("""
        CREATE INDEX ix_grading_marks_response
            ON grading_marks (tenant_id, attempt_id, slot, created_at)
    """)
    run("CREATE INDEX ix_grading_marks_grader ON grading_marks (tenant_id, grader_id, created_at)")
    run("""
        CREATE TRIGGER grading_marks_append_only BEFORE UPDATE OR DELETE ON grading_marks
        FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
    """)
    run("""
        CREATE TRIGGER grading_marks_no_truncate BEFORE TRUNCATE ON grading_marks
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
    """)
    for stmt in tenant_rls("grading_marks"):
        run(stmt)
    run(grant_dml("grading_marks", app, "SELECT, INSERT"))

    # The built-in role that moderates (security/permissions.py) for tenants
    # that exist already; new tenants get it when they are created. RLS is
    # forced on the owner too, so each tenant is visited as the app does. A
    # tenant's own custom role of that name is left alone.
    run("""
        DO $$
        DECLARE
            caller text := current_setting('app.tenant_id', true);
            t uuid;
        BEGIN
            FOR t IN SELECT id FROM tenants ORDER BY id LOOP
                PERFORM set_config('app.tenant_id', t::text, true);
                INSERT INTO roles (tenant_id, id, name, builtin, description)
                VALUES (t, gen_random_uuid(), 'moderator', true, 'Moderator')
                ON CONFLICT (tenant_id, name) DO NOTHING;
            END LOOP;
            PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
        END
        $$
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
