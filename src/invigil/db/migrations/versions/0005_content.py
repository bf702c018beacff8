"""Content: question banks, questions with immutable versions, exams with
immutable published versions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

QUESTION_TYPES = (
    "single_choice",
    "multiple_choice",
    "true_false",
    "numeric",
    "short_text",
    "essay",
    "ordering",
    "matching",
)


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    types = ", ".join(f"'{t}'" for t in QUESTION_TYPES)

    run("""
        CREATE TABLE question_banks (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            name varchar(200) NOT NULL,
            description varchar(2000) NOT NULL DEFAULT '',
            CONSTRAINT pk_question_banks PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_question_banks_tenant_id_name UNIQUE (tenant_id, name),
            CONSTRAINT fk_question_banks_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_question_banks_name_not_blank CHECK (btrim(name) <> '')
        )
    """)
    run(f"""
        CREATE TABLE questions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            bank_id uuid NOT NULL,
            type varchar(32) NOT NULL,
            current_version integer NOT NULL,
            archived_at timestamptz,
            CONSTRAINT pk_questions PRIMARY KEY (tenant_id, id),
            CONSTRAINT fk_questions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_questions_tenant_id_bank_id_question_banks FOREIGN KEY (tenant_id, bank_id)
                REFERENCES question_banks (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_questions_type CHECK (type IN ({types})),
            CONSTRAINT ck_questions_current_version CHECK (current_version >= 1)
        )
    """)
    run("CREATE INDEX ix_questions_bank ON questions (tenant_id, bank_id, created_at)")
    # Written once, never changed: the app role may only INSERT and SELECT.
    run("""
        CREATE TABLE question_versions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            question_id uuid NOT NULL,
            version integer NOT NULL,
            body jsonb NOT NULL,
            points numeric(8, 2) NOT NULL,
            category varchar(100) NOT NULL,
            tags text[] NOT NULL DEFAULT '{}',
            difficulty varchar(8) NOT NULL,
            created_by varchar(80) NOT NULL,
            CONSTRAINT pk_question_versions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_question_versions_tenant_id_question_id_version
                UNIQUE (tenant_id, question_id, version),
            CONSTRAINT fk_question_versions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_versions_tenant_id_question_id_questions
                FOREIGN KEY (tenant_id, question_id)
                REFERENCES questions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_question_versions_points CHECK (points > 0),
            CONSTRAINT ck_question_versions_version CHECK (version >= 1),
            CONSTRAINT ck_question_versions_difficulty
                CHECK (difficulty IN ('easy', 'medium', 'hard'))
        )
    """)
    run("""
        CREATE TABLE exams (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            slug varchar(64) NOT NULL,
            title varchar(200) NOT NULL,
            description text NOT NULL DEFAULT '',
            consent_text text NOT NULL DEFAULT '',
            settings jsonb NOT NULL,
            sections jsonb NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'draft',
            published_version integer,
            has_draft_changes boolean NOT NULL DEFAULT true,
            CONSTRAINT pk_exams PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_exams_tenant_id_slug UNIQUE (tenant_id, slug),
            CONSTRAINT fk_exams_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT ck_exams_status CHECK (status IN ('draft', 'published', 'retired')),
            CONSTRAINT ck_exams_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9-]{1,63}$')
        )
    """)
    run("""
        CREATE TABLE exam_versions (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            exam_id uuid NOT NULL,
            version integer NOT NULL,
            title varchar(200) NOT NULL,
            description text NOT NULL,
            consent_text text NOT NULL,
            settings jsonb NOT NULL,
            sections jsonb NOT NULL,
            content_hash varchar(64) NOT NULL,
            created_by varchar(80) NOT NULL,
            CONSTRAINT pk_exam_versions PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_exam_versions_tenant_id_exam_id_version UNIQUE (tenant_id, exam_id, version),
            CONSTRAINT fk_exam_versions_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_exam_versions_tenant_id_exam_id_exams FOREIGN KEY (tenant_id, exam_id)
                REFERENCES exams (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_exam_versions_version CHECK (version >= 1)
        )
    """)

    for table in ("question_banks", "questions", "exams"):
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT, UPDATE"))
    for table in ("question_versions", "exam_versions"):
        for stmt in tenant_rls(table):
            run(stmt)
        run(grant_dml(table, app, "SELECT, INSERT"))


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
