"""Live monitoring: proctors step into an attempt while it runs.

- ``attempts`` gains the live state the server decides by: ``paused_at``
  (the clock is stopped; the deadline moves by the pause on resume),
  ``added_seconds`` (time granted live, already in ``deadline``),
  ``live_seq`` (bumped by every intervention: the player compares it), and
  the address and browser it was last heard from (``client_address``,
  ``client_agent``).
- ``live_interventions``: what a proctor did (a message, time added, a
  pause, a resume, an end, a room check) and what the candidate answered
  (a message read, a room-check clip), written once. A proctor's words
  about a person go with the person's identity (ADR 0063): only
  ``platform_retention_intervention_texts`` may empty them.
- ``attempt_client_changes``: each time an attempt was heard from another
  address or browser than before, written once; the person's identity
  purge blanks them (``platform_retention_client_changes``), with the
  attempt's own ``client_address`` and ``client_agent``.
- ``platform_due_attempts`` leaves a paused attempt alone: its deadline
  moves when it resumes.
- An attempt a proctor ends is submitted with the reason ``proctor``.
- ``exam_live_proctors``: who may watch an exam live, when it names anyone
  (otherwise everyone holding ``proctor:live``).

Revision ID: 0059
Revises: 0058
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0059"
down_revision = "0058"
branch_labels = None
depends_on = None

KINDS = ("message", "ack", "time", "pause", "resume", "end", "room_check", "room_clip")

TEXTS = """
    CREATE FUNCTION platform_retention_intervention_texts(p_candidate uuid) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      UPDATE public.live_interventions x SET text = ''
      FROM public.attempts a
      WHERE a.tenant_id = x.tenant_id AND a.id = x.attempt_id
        AND a.candidate_id = p_candidate AND x.text <> '';
      GET DIAGNOSTICS n = ROW_COUNT;
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
"""

CLIENTS = """
    CREATE FUNCTION platform_retention_client_changes(p_candidates uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      UPDATE public.attempt_client_changes x SET address = '', user_agent = ''
      FROM public.attempts a
      WHERE a.tenant_id = x.tenant_id AND a.id = x.attempt_id
        AND a.candidate_id = ANY(p_candidates) AND (x.address <> '' OR x.user_agent <> '');
      GET DIAGNOSTICS n = ROW_COUNT;
      UPDATE public.attempts a SET client_address = NULL, client_agent = NULL
      WHERE a.candidate_id = ANY(p_candidates)
        AND (a.client_address IS NOT NULL OR a.client_agent IS NOT NULL);
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
"""

DUE = """
    CREATE OR REPLACE FUNCTION platform_due_attempts(at timestamptz, max_rows integer)
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
                  AND a.deadline IS NOT NULL AND a.paused_at IS NULL
                  AND a.deadline + make_interval(secs => a.grace_seconds) <= at
                ORDER BY a.deadline
                LIMIT max_rows;
        END LOOP;
        PERFORM set_config('app.tenant_id', coalesce(caller, ''), true);
    END
    $$
"""


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run("""
        ALTER TABLE attempts
            ADD COLUMN paused_at timestamptz,
            ADD COLUMN added_seconds integer NOT NULL DEFAULT 0,
            ADD COLUMN live_seq integer NOT NULL DEFAULT 0,
            ADD COLUMN client_address varchar(64),
            ADD COLUMN client_agent varchar(400),
            ADD CONSTRAINT ck_attempts_added_seconds CHECK (added_seconds BETWEEN 0 AND 86400)
    """)
    kinds = ", ".join(f"'{k}'" for k in KINDS)
    run(f"""
        CREATE TABLE live_interventions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            kind varchar(16) NOT NULL,
            actor varchar(200) NOT NULL,
            text text NOT NULL DEFAULT '',
            text_sha256 varchar(64) NOT NULL DEFAULT '',
            seconds integer,
            refers_to uuid,
            object_id uuid,
            CONSTRAINT pk_live_interventions PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_live_interventions_kind CHECK (kind IN ({kinds})),
            CONSTRAINT ck_live_interventions_text CHECK (char_length(text) <= 1000),
            CONSTRAINT ck_live_interventions_seconds CHECK (seconds IS NULL OR seconds BETWEEN 1 AND 86400),
            CONSTRAINT fk_live_interventions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_live_interventions_tenant_id_attempt_id_attempts FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_live_interventions_refers_to FOREIGN KEY (tenant_id, refers_to)
                REFERENCES live_interventions (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_live_interventions_attempt "
        "ON live_interventions (tenant_id, attempt_id, created_at)"
    )
    # One acknowledgement per message, one clip per room check.
    run(
        "CREATE UNIQUE INDEX uq_live_interventions_answer ON live_interventions "
        "(tenant_id, refers_to) WHERE refers_to IS NOT NULL"
    )
    for stmt in tenant_rls("live_interventions"):
        run(stmt)
    run(
        "CREATE TRIGGER live_interventions_append_only BEFORE UPDATE OR DELETE "
        "ON live_interventions FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
    )
    run(
        "CREATE TRIGGER live_interventions_no_truncate BEFORE TRUNCATE ON live_interventions "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()"
    )
    run(grant_dml("live_interventions", app, "SELECT, INSERT"))
    run(TEXTS)
    run("REVOKE ALL ON FUNCTION platform_retention_intervention_texts(uuid) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_intervention_texts(uuid) TO {app}")

    run("""
        CREATE TABLE attempt_client_changes (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            attempt_id uuid NOT NULL,
            address varchar(64) NOT NULL,
            user_agent varchar(400) NOT NULL,
            CONSTRAINT pk_attempt_client_changes PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_attempt_client_changes_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_attempt_client_changes_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_attempt_client_changes_attempt "
        "ON attempt_client_changes (tenant_id, attempt_id, created_at)"
    )
    for stmt in tenant_rls("attempt_client_changes"):
        run(stmt)
    # Written once; where a person was heard from goes with their identity:
    # only platform_retention_client_changes may blank it.
    run(
        "CREATE TRIGGER attempt_client_changes_append_only BEFORE UPDATE OR DELETE "
        "ON attempt_client_changes FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
    )
    run(
        "CREATE TRIGGER attempt_client_changes_no_truncate BEFORE TRUNCATE "
        "ON attempt_client_changes FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()"
    )
    run(CLIENTS)
    run("REVOKE ALL ON FUNCTION platform_retention_client_changes(uuid[]) FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_retention_client_changes(uuid[]) TO {app}")
    run(grant_dml("attempt_client_changes", app, "SELECT, INSERT"))
    run(DUE)
    run("""
        CREATE TABLE exam_live_proctors (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            exam_id uuid NOT NULL,
            user_id uuid NOT NULL,
            CONSTRAINT pk_exam_live_proctors PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_exam_live_proctors UNIQUE (tenant_id, exam_id, user_id),
            CONSTRAINT fk_exam_live_proctors_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_exam_live_proctors_tenant_id_exam_id_exams FOREIGN KEY (tenant_id, exam_id)
                REFERENCES exams (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_exam_live_proctors_tenant_id_user_id_users FOREIGN KEY (tenant_id, user_id)
                REFERENCES users (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    for stmt in tenant_rls("exam_live_proctors"):
        run(stmt)
    run(grant_dml("exam_live_proctors", app, "SELECT, INSERT, DELETE"))
    # An attempt a proctor ended live: submitted as it stands, reason "proctor".
    run("ALTER TABLE attempts DROP CONSTRAINT ck_attempts_submit_reason")
    run("""
        ALTER TABLE attempts ADD CONSTRAINT ck_attempts_submit_reason CHECK (
            submit_reason IN ('candidate', 'deadline', 'proctoring', 'staff', 'voided', 'proctor')
        ) NOT VALID
    """)
    run("ALTER TABLE attempts VALIDATE CONSTRAINT ck_attempts_submit_reason")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
