"""Attempts: consent records, the attempt bound to one browser, answers
saved with a per-attempt sequence, and immutable results.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]

    # One row per "Start exam": the paper (slots) is fixed here, from the
    # pinned exam version and the seed, so a dispute can replay it.
    run("""
        CREATE TABLE attempts (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            invitation_id uuid NOT NULL,
            candidate_id uuid NOT NULL,
            exam_id uuid NOT NULL,
            exam_version integer NOT NULL,
            number integer NOT NULL,
            seed bigint NOT NULL,
            paper jsonb NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'ready',
            binding_hash bytea,
            bound_at timestamptz,
            started_at timestamptz,
            deadline timestamptz,
            grace_seconds integer NOT NULL,
            submitted_at timestamptz,
            submit_reason varchar(16),
            last_seq bigint NOT NULL DEFAULT 0,
            position integer NOT NULL DEFAULT 0,
            last_seen_at timestamptz,
            CONSTRAINT pk_attempts PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_attempts_tenant_id_invitation_id_number
                UNIQUE (tenant_id, invitation_id, number),
            CONSTRAINT fk_attempts_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempts_tenant_id_invitation_id_invitations
                FOREIGN KEY (tenant_id, invitation_id)
                REFERENCES invitations (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempts_tenant_id_candidate_id_candidates
                FOREIGN KEY (tenant_id, candidate_id)
                REFERENCES candidates (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempts_exam_version FOREIGN KEY (tenant_id, exam_id, exam_version)
                REFERENCES exam_versions (tenant_id, exam_id, version) ON DELETE RESTRICT,
            CONSTRAINT ck_attempts_status CHECK (status IN ('ready', 'in_progress', 'submitted')),
            CONSTRAINT ck_attempts_number CHECK (number >= 1),
            CONSTRAINT ck_attempts_binding CHECK (octet_length(binding_hash) = 32),
            CONSTRAINT ck_attempts_grace CHECK (grace_seconds BETWEEN 0 AND 3600),
            CONSTRAINT ck_attempts_started CHECK (
                (status = 'ready') = (started_at IS NULL)
            ),
            CONSTRAINT ck_attempts_submitted CHECK (
                (status = 'submitted') = (submitted_at IS NOT NULL)
                AND (submitted_at IS NULL) = (submit_reason IS NULL)
            ),
            CONSTRAINT ck_attempts_submit_reason CHECK (
                submit_reason IN ('candidate', 'deadline', 'proctoring', 'staff')
            )
        )
    """)
    run("CREATE INDEX ix_attempts_list ON attempts (tenant_id, created_at, id)")
    run("CREATE INDEX ix_attempts_invitation ON attempts (tenant_id, invitation_id)")
    # The closing job's sweep: only running attempts, by deadline.
    run(
        "CREATE INDEX ix_attempts_due ON attempts (tenant_id, deadline) "
        "WHERE status = 'in_progress' AND deadline IS NOT NULL"
    )

    # What the candidate agreed (or declined) to: the exact text and its hash.
    run("""
        CREATE TABLE consents (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            invitation_id uuid NOT NULL,
            attempt_id uuid,
            decision varchar(8) NOT NULL,
            text text NOT NULL,
            text_sha256 varchar(64) NOT NULL,
            address varchar(64) NOT NULL DEFAULT '',
            user_agent varchar(400) NOT NULL DEFAULT '',
            CONSTRAINT pk_consents PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_consents_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_consents_tenant_id_invitation_id_invitations
                FOREIGN KEY (tenant_id, invitation_id)
                REFERENCES invitations (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_consents_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_consents_decision CHECK (decision IN ('given', 'declined')),
            CONSTRAINT ck_consents_attempt CHECK ((decision = 'given') = (attempt_id IS NOT NULL))
        )
    """)
    run("CREATE INDEX ix_consents_invitation ON consents (tenant_id, invitation_id, created_at)")

    # The newest answer per question. A save only lands when its seq is
    # higher than the stored one (INSERT ... ON CONFLICT ... WHERE), so a
    # stale or repeated write can never overwrite a newer answer.
    run("""
        CREATE TABLE attempt_answers (
            tenant_id uuid NOT NULL,
            attempt_id uuid NOT NULL,
            slot integer NOT NULL,
            response jsonb,
            flagged boolean NOT NULL DEFAULT false,
            seq bigint NOT NULL,
            time_ms bigint NOT NULL DEFAULT 0,
            client_time timestamptz,
            saved_at timestamptz NOT NULL DEFAULT now(),
            late boolean NOT NULL DEFAULT false,
            CONSTRAINT pk_attempt_answers PRIMARY KEY (tenant_id, attempt_id, slot),
            CONSTRAINT fk_attempt_answers_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempt_answers_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_attempt_answers_seq CHECK (seq >= 1),
            CONSTRAINT ck_attempt_answers_slot CHECK (slot >= 0),
            CONSTRAINT ck_attempt_answers_time CHECK (time_ms >= 0)
        )
    """)

    # Results are written once and never changed: grading adds a revision.
    run("""
        CREATE TABLE attempt_results (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            revision integer NOT NULL,
            awarded numeric(10, 2) NOT NULL,
            max_points numeric(10, 2) NOT NULL,
            percent numeric(5, 2) NOT NULL,
            passed boolean,
            needs_grading boolean NOT NULL,
            document jsonb NOT NULL,
            document_sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_attempt_results PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_attempt_results_tenant_id_attempt_id_revision
                UNIQUE (tenant_id, attempt_id, revision),
            CONSTRAINT fk_attempt_results_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempt_results_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_attempt_results_revision CHECK (revision >= 1),
            CONSTRAINT ck_attempt_results_points CHECK (awarded >= 0 AND awarded <= max_points)
        )
    """)
    for table in ("consents", "attempt_results"):
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)

    for table in ("attempts", "consents", "attempt_answers", "attempt_results"):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("attempts", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("attempt_answers", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("consents", app, "SELECT, INSERT"))
    run(grant_dml("attempt_results", app, "SELECT, INSERT"))

    # The closing job finds due attempts across tenants: ids only. RLS is
    # forced on the owner too, so the function visits each tenant the way
    # the app does (binding app.tenant_id), then restores the caller's value.
    run("""
        CREATE FUNCTION platform_due_attempts(at timestamptz, max_rows integer)
        RETURNS TABLE (tenant_id uuid, attempt_id uuid)
        LANGUAGE plpgsql VOLATILE SECURITY DEFINER
        SET search_path = pg_catalog, public, pg_temp
        AS $$
        DECLARE
            caller text := current_setting('app.tenant_id', true);
            t uuid;
        BEGIN
            FOR t IN SELECT id FROM public.tenants ORDER BY id LOOP
                PERFORM set_config('app.tenant_id', t::text, true);
                RETURN QUERY
                    SELECT a.tenant_id, a.id FROM public.attempts a
                    WHERE a.tenant_id = t AND a.status = 'in_progress'
                      AND a.deadline IS NOT NULL
                      AND a.deadline + make_interval(secs => a.grace_seconds) <= at
                    ORDER BY a.deadline
                    LIMIT max_rows;
            END LOOP;
            PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
        END
        $$
    """)
    run(f"GRANT EXECUTE ON FUNCTION platform_due_attempts(timestamptz, integer) TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
