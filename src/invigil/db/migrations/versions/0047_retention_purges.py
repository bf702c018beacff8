"""Purges under the retention policy, and their signed deletion receipts.

``retention_receipts``: one row per batch of subjects purged (or per class
of one person erased): the policy version, the class, why ('policy' or
'erasure', the request), the subjects' ids, the counts, the data keys
destroyed and the evidence objects deleted (ids only), the sha256 of the
canonical receipt document and its Ed25519 signature (the audit-checkpoint
ring). Written once, anchored by ``retention.purged``.

``retention_purges``: which (class, subject) a receipt purged; a subject is
purged once per class (the purge is idempotent and resumes where it
stopped). Written once.

``retention_purged_records``: the anchored records (kind, id) a purge
deleted or altered, so that ``invigil audit verify`` reports them as purged
under their receipt instead of missing. Written once.

``retention_object_deletions``: evidence objects whose stored bytes are to
be deleted once the purge's transaction has committed (store deletes cannot
roll back); ``deleted_at`` is set when the store has let them go, so a
crash between the commit and the deletes is resumed by the next run.

Append-only tables that hold personal data (``proctoring_events`` details
and bodies, ``consents`` addresses and user agents, the responses inside
``attempt_results`` documents) and ``attempt_answers`` of submitted
attempts are changed by the purge only through the narrow ``platform_retention_*``
functions below (SECURITY DEFINER, still bound by RLS to the caller's
tenant): they raise a transaction-local flag that the tables' guards accept
only from inside such a function (current_user is then not the session's
role). ``mail_outbox``: the app role may now delete rows (a purged
invitation's mail).

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import append_only, grant_dml, run, tenant_rls

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None

CLASSES = (
    "'candidate_identity', 'evidence', 'proctoring_events', 'answers', 'results', "
    "'invitations_mail'"
)

# A change to an append-only table is allowed only while a purge function
# runs: the flag is transaction-local and the function runs as its owner,
# so the app role (current_user = session_user) can never pass.
GUARD = """
    CREATE FUNCTION retention_guarded_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF current_setting('invigil.retention_purge', true) = 'on'
         AND current_user <> session_user THEN
        IF TG_OP = 'DELETE' THEN
          RETURN OLD;
        END IF;
        RETURN NEW;
      END IF;
      RAISE EXCEPTION 'audit records are append-only: % on % is not allowed',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
    END $$
"""

ANSWERS_GUARD = """
    CREATE OR REPLACE FUNCTION answers_reject_when_submitted() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND current_setting('invigil.retention_purge', true) = 'on'
         AND current_user <> session_user THEN
        RETURN OLD;
      END IF;
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        IF NOT EXISTS (SELECT 1 FROM public.attempts t
                       WHERE t.tenant_id = OLD.tenant_id AND t.id = OLD.attempt_id
                         AND t.status <> 'submitted') THEN
          RAISE EXCEPTION 'the answers of a submitted attempt are immutable: % is not allowed',
            TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        IF NOT EXISTS (SELECT 1 FROM public.attempts t
                       WHERE t.tenant_id = NEW.tenant_id AND t.id = NEW.attempt_id
                         AND t.status <> 'submitted') THEN
          RAISE EXCEPTION 'the answers of a submitted attempt are immutable: % is not allowed',
            TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END IF;
      RETURN OLD;
    END $$
"""

FUNCTIONS = (
    # An attempt's proctoring events: 'delete' every row, or 'anonymise':
    # keep kind, phase, times and links for statistics, drop details and
    # the browser's body (addresses, user agents, window titles).
    """
    CREATE FUNCTION platform_retention_events(p_attempt uuid, p_mode text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      IF p_mode NOT IN ('delete', 'anonymise') THEN
        RAISE EXCEPTION 'unknown mode %', p_mode;
      END IF;
      PERFORM set_config('invigil.retention_purge', 'on', true);
      IF p_mode = 'delete' THEN
        DELETE FROM public.proctoring_events WHERE attempt_id = p_attempt;
      ELSE
        -- a browser's event keeps an empty body (its row must have one)
        UPDATE public.proctoring_events
        SET details = '{}'::jsonb, body = CASE WHEN seq > 0 THEN '' END
        WHERE attempt_id = p_attempt
          AND (details <> '{}'::jsonb OR coalesce(body, '') <> '');
      END IF;
      GET DIAGNOSTICS n = ROW_COUNT;
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
    """,
    # An attempt's answers: the responses repeated in its result documents
    # and in its result cells (scores and times stay), and with ``p_rows``
    # the answer rows themselves.
    """
    CREATE FUNCTION platform_retention_answers(p_attempt uuid, p_rows boolean) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer := 0;
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      IF p_rows THEN
        DELETE FROM public.attempt_answers WHERE attempt_id = p_attempt;
        GET DIAGNOSTICS n = ROW_COUNT;
      END IF;
      UPDATE public.attempt_results SET document = jsonb_set(document, '{questions}', (
          SELECT coalesce(jsonb_agg(q - 'response' - 'canonical_response' ORDER BY i), '[]')
          FROM jsonb_array_elements(document->'questions') WITH ORDINALITY AS x(q, i)))
      WHERE attempt_id = p_attempt AND jsonb_typeof(document->'questions') = 'array';
      UPDATE public.result_cells SET canonical_response = NULL
      WHERE attempt_id = p_attempt AND canonical_response IS NOT NULL;
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
    """,
    # The network address and user agent a consent was given from.
    """
    CREATE FUNCTION platform_retention_consents(p_invitations uuid[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    DECLARE n integer;
    BEGIN
      PERFORM set_config('invigil.retention_purge', 'on', true);
      UPDATE public.consents SET address = '', user_agent = ''
      WHERE invitation_id = ANY(p_invitations) AND (address <> '' OR user_agent <> '');
      GET DIAGNOSTICS n = ROW_COUNT;
      PERFORM set_config('invigil.retention_purge', 'off', true);
      RETURN n;
    END $$
    """,
)


def upgrade() -> None:
    config = op.get_context().config.attributes  # type: ignore[union-attr]
    app = config["app_role"]
    run(f"""
        CREATE TABLE retention_receipts (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            policy_version integer NOT NULL,
            data_class varchar(32) NOT NULL,
            trigger varchar(16) NOT NULL,
            request_id uuid,
            reason text NOT NULL,
            subjects jsonb NOT NULL,
            counts jsonb NOT NULL,
            keys_destroyed jsonb NOT NULL,
            objects_deleted jsonb NOT NULL,
            purged_at timestamptz NOT NULL,
            sha256 varchar(64) NOT NULL,
            key_id varchar(100) NOT NULL,
            signature bytea NOT NULL,
            CONSTRAINT pk_retention_receipts PRIMARY KEY (tenant_id, id),
            CONSTRAINT ck_retention_receipts_class CHECK (data_class IN ({CLASSES})),
            CONSTRAINT ck_retention_receipts_trigger CHECK (trigger IN ('policy', 'erasure')),
            CONSTRAINT ck_retention_receipts_reason
                CHECK (btrim(reason) <> '' AND char_length(reason) <= 2000),
            CONSTRAINT ck_retention_receipts_subjects CHECK (jsonb_typeof(subjects) = 'array'),
            CONSTRAINT fk_retention_receipts_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT
        )
    """)
    run("CREATE INDEX ix_retention_receipts_list ON retention_receipts (tenant_id, created_at)")
    run(f"""
        CREATE TABLE retention_purges (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            data_class varchar(32) NOT NULL,
            subject_type varchar(16) NOT NULL,
            subject_id uuid NOT NULL,
            receipt_id uuid NOT NULL,
            CONSTRAINT pk_retention_purges PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_retention_purges_subject
                UNIQUE (tenant_id, data_class, subject_type, subject_id),
            CONSTRAINT ck_retention_purges_class CHECK (data_class IN ({CLASSES})),
            CONSTRAINT ck_retention_purges_subject_type
                CHECK (subject_type IN ('attempt', 'candidate')),
            CONSTRAINT fk_retention_purges_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_retention_purges_receipt FOREIGN KEY (tenant_id, receipt_id)
                REFERENCES retention_receipts (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TABLE retention_purged_records (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            kind varchar(40) NOT NULL,
            record_id varchar(80) NOT NULL,
            receipt_id uuid NOT NULL,
            CONSTRAINT pk_retention_purged_records PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_retention_purged_records_record UNIQUE (tenant_id, kind, record_id),
            CONSTRAINT fk_retention_purged_records_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_retention_purged_records_receipt FOREIGN KEY (tenant_id, receipt_id)
                REFERENCES retention_receipts (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run("""
        CREATE TABLE retention_object_deletions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            object_id uuid NOT NULL,
            receipt_id uuid NOT NULL,
            region varchar(40) NOT NULL,
            store_key varchar(300) NOT NULL,
            deleted_at timestamptz,
            CONSTRAINT pk_retention_object_deletions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_retention_object_deletions_object UNIQUE (tenant_id, object_id),
            CONSTRAINT fk_retention_object_deletions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_retention_object_deletions_object FOREIGN KEY (tenant_id, object_id)
                REFERENCES evidence_objects (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_retention_object_deletions_receipt FOREIGN KEY (tenant_id, receipt_id)
                REFERENCES retention_receipts (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run(
        "CREATE INDEX ix_retention_object_deletions_pending ON retention_object_deletions "
        "(tenant_id, created_at) WHERE deleted_at IS NULL"
    )
    for table in ("retention_receipts", "retention_purges", "retention_purged_records"):
        for stmt in append_only(table) + tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT"))
    for stmt in tenant_rls("retention_object_deletions"):
        run(stmt)
    run(grant_dml("retention_object_deletions", app, "SELECT, INSERT"))
    run(f"GRANT UPDATE (deleted_at) ON retention_object_deletions TO {app}")
    run(grant_dml("mail_outbox", app, "DELETE"))

    run(GUARD)
    for table in ("proctoring_events", "consents", "attempt_results"):
        run(f"DROP TRIGGER {table}_append_only ON {table}")
        run(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION retention_guarded_change()"
        )
    run(ANSWERS_GUARD)
    for sql in FUNCTIONS:
        run(sql)
    for signature in (
        "platform_retention_events(uuid, text)",
        "platform_retention_answers(uuid, boolean)",
        "platform_retention_consents(uuid[])",
    ):
        run(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        run(f"GRANT EXECUTE ON FUNCTION {signature} TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
