"""Proctoring evidence and review: snapshots with the server's re-check,
screen-recording segments, and the reviewers' decisions (append-only).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    # The outcome of review: NULL until a reviewer decides; final when the
    # policy's required number of reviewers concur.
    run("""
        ALTER TABLE attempts
            ADD COLUMN review_outcome varchar(20),
            ADD COLUMN review_final boolean NOT NULL DEFAULT false,
            ADD CONSTRAINT ck_attempts_review_outcome
                CHECK (review_outcome IN ('cleared', 'violation_fail', 'violation_invalidate'))
    """)

    # A webcam snapshot (an evidence object) and what each side saw on it.
    run("""
        CREATE TABLE proctoring_snapshots (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            object_id uuid NOT NULL,
            taken_at timestamptz NOT NULL,
            reason varchar(16) NOT NULL,
            event_seq bigint,
            client_faces integer,
            server_faces integer,
            server_status varchar(16) NOT NULL DEFAULT 'pending',
            brightness real,
            sharpness real,
            checked_at timestamptz,
            CONSTRAINT pk_proctoring_snapshots PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_proctoring_snapshots_tenant_id_object_id UNIQUE (tenant_id, object_id),
            CONSTRAINT fk_proctoring_snapshots_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_snapshots_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_proctoring_snapshots_tenant_id_object_id_evidence_objects
                FOREIGN KEY (tenant_id, object_id)
                REFERENCES evidence_objects (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_proctoring_snapshots_reason
                CHECK (reason IN ('periodic', 'event', 'start')),
            CONSTRAINT ck_proctoring_snapshots_server_status
                CHECK (server_status IN ('pending', 'agrees', 'mismatch', 'unreadable', 'failed'))
        )
    """)
    run(
        "CREATE INDEX ix_proctoring_snapshots_attempt "
        "ON proctoring_snapshots (tenant_id, attempt_id, taken_at)"
    )

    # A screen-recording segment: one evidence object of a few seconds.
    run("""
        CREATE TABLE recording_segments (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            segment_index integer NOT NULL,
            object_id uuid NOT NULL,
            started_at timestamptz NOT NULL,
            ended_at timestamptz NOT NULL,
            CONSTRAINT pk_recording_segments PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_recording_segments_tenant_id_attempt_id_segment_index
                UNIQUE (tenant_id, attempt_id, segment_index),
            CONSTRAINT fk_recording_segments_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_recording_segments_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_recording_segments_tenant_id_object_id_evidence_objects
                FOREIGN KEY (tenant_id, object_id)
                REFERENCES evidence_objects (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_recording_segments_segment_index CHECK (segment_index >= 0),
            CONSTRAINT ck_recording_segments_span CHECK (ended_at >= started_at)
        )
    """)

    # Reviewers' decisions: on one flag (an action of the policy) or on the
    # attempt's outcome. Never changed: a changed decision is a new row
    # that names the one it replaces.
    run("""
        CREATE TABLE review_decisions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            reviewer_id uuid NOT NULL,
            scope varchar(8) NOT NULL,
            action_id uuid,
            decision varchar(24) NOT NULL,
            reason text NOT NULL,
            supersedes uuid,
            CONSTRAINT pk_review_decisions PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_review_decisions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_review_decisions_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_review_decisions_tenant_id_reviewer_id_users
                FOREIGN KEY (tenant_id, reviewer_id)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_review_decisions_tenant_id_action_id_proctoring_actions
                FOREIGN KEY (tenant_id, action_id)
                REFERENCES proctoring_actions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_review_decisions_tenant_id_supersedes_review_decisions
                FOREIGN KEY (tenant_id, supersedes)
                REFERENCES review_decisions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_review_decisions_scope CHECK (scope IN ('flag', 'outcome')),
            CONSTRAINT ck_review_decisions_decision CHECK (
                (scope = 'flag' AND decision IN ('confirmed', 'dismissed') AND action_id IS NOT NULL)
                OR (scope = 'outcome' AND action_id IS NULL
                    AND decision IN ('cleared', 'violation_fail', 'violation_invalidate'))
            ),
            CONSTRAINT ck_review_decisions_reason CHECK (btrim(reason) <> '')
        )
    """)
    run(
        "CREATE INDEX ix_review_decisions_attempt "
        "ON review_decisions (tenant_id, attempt_id, created_at)"
    )

    for table in ("recording_segments", "review_decisions"):
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)
    for table in ("proctoring_snapshots", "recording_segments", "review_decisions"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("proctoring_snapshots", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("recording_segments", app, "SELECT, INSERT"))
    run(grant_dml("review_decisions", app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
