"""Shortlists: positions, versioned rule sets, frozen runs, stages.

``shortlist_positions`` (+ ``shortlist_position_exams``): a job or position
the tenant defines to group exams, the usual cohort of a run.
``shortlist_rule_sets`` and ``shortlist_rule_set_versions``: a named rule
set and its versions; a version is written once (its canonical JSON and its
sha256), an edit is a new version. ``shortlist_runs`` and
``shortlist_entries``: one run freezes the rules and the cohort and stores
every candidate considered, ranked or excluded with the first rule they
failed; both written once, the run anchored in the audit log.
``shortlist_stage_changes``: append-only moves of an entry through the
tenant's stages (``shortlist_settings``, one row per tenant at most: the
default stages apply without one).

Append-only tables: the app role has SELECT and INSERT, and the trigger of
0024's grading_marks rejects UPDATE, DELETE and TRUNCATE for everyone
(docs/adr/0037-shortlists.md).

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

APPEND_ONLY = (
    "shortlist_rule_set_versions",
    "shortlist_runs",
    "shortlist_entries",
    "shortlist_stage_changes",
)


def _tenant_fk(table: str) -> str:
    return (
        f"CONSTRAINT fk_{table}_tenant_id_tenants FOREIGN KEY (tenant_id) "
        "REFERENCES tenants (id) ON DELETE RESTRICT"
    )


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run(f"""
        CREATE TABLE shortlist_positions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            name varchar(200) NOT NULL,
            description text NOT NULL,
            CONSTRAINT pk_shortlist_positions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_shortlist_positions_tenant_id_name UNIQUE (tenant_id, name),
            {_tenant_fk("shortlist_positions")}
        )
    """)
    run(f"""
        CREATE TABLE shortlist_position_exams (
            tenant_id uuid NOT NULL,
            position_id uuid NOT NULL,
            exam_id uuid NOT NULL,
            CONSTRAINT pk_shortlist_position_exams PRIMARY KEY (tenant_id, position_id, exam_id),
            {_tenant_fk("shortlist_position_exams")},
            CONSTRAINT fk_shortlist_position_exams_position
                FOREIGN KEY (tenant_id, position_id)
                REFERENCES shortlist_positions (tenant_id, id) ON DELETE CASCADE,
            CONSTRAINT fk_shortlist_position_exams_tenant_id_exam_id_exams
                FOREIGN KEY (tenant_id, exam_id) REFERENCES exams (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run(f"""
        CREATE TABLE shortlist_rule_sets (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            name varchar(200) NOT NULL,
            position_id uuid,
            CONSTRAINT pk_shortlist_rule_sets PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_shortlist_rule_sets_tenant_id_name UNIQUE (tenant_id, name),
            {_tenant_fk("shortlist_rule_sets")},
            CONSTRAINT fk_shortlist_rule_sets_position
                FOREIGN KEY (tenant_id, position_id)
                REFERENCES shortlist_positions (tenant_id, id) ON DELETE RESTRICT
        )
    """)
    run(f"""
        CREATE TABLE shortlist_rule_set_versions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            rule_set_id uuid NOT NULL,
            version integer NOT NULL,
            rules jsonb NOT NULL,
            rules_sha256 varchar(64) NOT NULL,
            created_by uuid,
            CONSTRAINT pk_shortlist_rule_set_versions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_shortlist_rule_set_versions_tenant_id_rule_set_id_version
                UNIQUE (tenant_id, rule_set_id, version),
            {_tenant_fk("shortlist_rule_set_versions")},
            CONSTRAINT fk_shortlist_rule_set_versions_rule_set
                FOREIGN KEY (tenant_id, rule_set_id)
                REFERENCES shortlist_rule_sets (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_shortlist_rule_set_versions_version CHECK (version >= 1)
        )
    """)
    run(f"""
        CREATE TABLE shortlist_runs (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            rule_set_version_id uuid NOT NULL,
            position_id uuid,
            exam_ids jsonb NOT NULL,
            rules jsonb NOT NULL,
            rules_sha256 varchar(64) NOT NULL,
            rerun_of uuid,
            run_by uuid,
            completed_at timestamptz NOT NULL,
            considered integer NOT NULL,
            shortlisted integer NOT NULL,
            CONSTRAINT pk_shortlist_runs PRIMARY KEY (tenant_id, id),
            {_tenant_fk("shortlist_runs")},
            CONSTRAINT fk_shortlist_runs_rule_set_version
                FOREIGN KEY (tenant_id, rule_set_version_id)
                REFERENCES shortlist_rule_set_versions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_shortlist_runs_tenant_id_position_id_shortlist_positions
                FOREIGN KEY (tenant_id, position_id)
                REFERENCES shortlist_positions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_shortlist_runs_tenant_id_rerun_of_shortlist_runs
                FOREIGN KEY (tenant_id, rerun_of)
                REFERENCES shortlist_runs (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_shortlist_runs_exam_ids CHECK (jsonb_typeof(exam_ids) = 'array'),
            CONSTRAINT ck_shortlist_runs_counts
                CHECK (shortlisted >= 0 AND shortlisted <= considered)
        )
    """)
    run("CREATE INDEX ix_shortlist_runs_created ON shortlist_runs (tenant_id, created_at)")
    run(f"""
        CREATE TABLE shortlist_entries (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            run_id uuid NOT NULL,
            position integer NOT NULL,
            attempt_id uuid NOT NULL,
            exam_id uuid NOT NULL,
            candidate_id uuid NOT NULL,
            rank integer,
            percent numeric(5, 2),
            passed boolean,
            integrity varchar(16) NOT NULL,
            seconds integer,
            submitted_at timestamptz,
            categories jsonb NOT NULL,
            met jsonb NOT NULL,
            failed jsonb,
            sha256 varchar(64) NOT NULL,
            CONSTRAINT pk_shortlist_entries PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_shortlist_entries_tenant_id_run_id_attempt_id
                UNIQUE (tenant_id, run_id, attempt_id),
            CONSTRAINT uq_shortlist_entries_tenant_id_run_id_position
                UNIQUE (tenant_id, run_id, position),
            {_tenant_fk("shortlist_entries")},
            CONSTRAINT fk_shortlist_entries_tenant_id_run_id_shortlist_runs
                FOREIGN KEY (tenant_id, run_id)
                REFERENCES shortlist_runs (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_shortlist_entries_tenant_id_attempt_id_attempts
                FOREIGN KEY (tenant_id, attempt_id)
                REFERENCES attempts (tenant_id, id) ON DELETE RESTRICT,
            -- Ranked, or excluded with the first rule it failed: never both, never neither.
            CONSTRAINT ck_shortlist_entries_ranked_or_failed
                CHECK ((rank IS NULL) = (failed IS NOT NULL)),
            CONSTRAINT ck_shortlist_entries_position CHECK (position >= 1)
        )
    """)
    run(f"""
        CREATE TABLE shortlist_stage_changes (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            run_id uuid NOT NULL,
            attempt_id uuid NOT NULL,
            seq integer NOT NULL,
            from_stage varchar(40) NOT NULL,
            stage varchar(40) NOT NULL,
            note text NOT NULL,
            changed_by uuid,
            changed_at timestamptz NOT NULL,
            CONSTRAINT pk_shortlist_stage_changes PRIMARY KEY (tenant_id, id),
            -- One change per step: two people moving one entry at once cannot both win.
            CONSTRAINT uq_shortlist_stage_changes_tenant_id_run_id_attempt_id_seq
                UNIQUE (tenant_id, run_id, attempt_id, seq),
            {_tenant_fk("shortlist_stage_changes")},
            CONSTRAINT fk_shortlist_stage_changes_entry
                FOREIGN KEY (tenant_id, run_id, attempt_id)
                REFERENCES shortlist_entries (tenant_id, run_id, attempt_id) ON DELETE RESTRICT,
            CONSTRAINT fk_shortlist_stage_changes_tenant_id_changed_by_users
                FOREIGN KEY (tenant_id, changed_by) REFERENCES users (tenant_id, id)
                ON DELETE RESTRICT,
            CONSTRAINT ck_shortlist_stage_changes_seq CHECK (seq >= 1),
            CONSTRAINT ck_shortlist_stage_changes_moved CHECK (stage <> from_stage)
        )
    """)
    run(f"""
        CREATE TABLE shortlist_settings (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            stages jsonb NOT NULL,
            final_stages jsonb NOT NULL,
            CONSTRAINT pk_shortlist_settings PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_shortlist_settings_tenant_id UNIQUE (tenant_id),
            {_tenant_fk("shortlist_settings")}
        )
    """)
    for table in APPEND_ONLY:
        run(f"""
            CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION audit_reject_change()
        """)
        run(f"""
            CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()
        """)
    for table in (
        "shortlist_positions",
        "shortlist_position_exams",
        "shortlist_rule_sets",
        *APPEND_ONLY,
        "shortlist_settings",
    ):
        for stmt in tenant_rls(table):
            run(stmt)
    run(grant_dml("shortlist_positions", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("shortlist_position_exams", app, "SELECT, INSERT, DELETE"))
    run(grant_dml("shortlist_rule_sets", app, "SELECT, INSERT, UPDATE"))
    run(grant_dml("shortlist_settings", app, "SELECT, INSERT, UPDATE"))
    for table in APPEND_ONLY:
        run(grant_dml(table, app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
