"""Translated question versions and the language an attempt is delivered in.

``question_translations``: per question version and language, the text a
candidate reads (prompt, choices, items, pairs, criteria names; accepted
answers of a short-text question), with the same structure as the version
it translates. A translation belongs to one version: editing the question
makes a new version, and the old translations stay with the old version
(shown to staff as outdated, never delivered with the new one). Staff may
correct a translation in place, so the row is updatable; publishing an
exam copies the text into the exam version, which never changes.

``question_versions.language``: the language the version is written in
(English for every version written before this migration).

``attempts.language``: the language the attempt's questions are delivered
in, fixed when the candidate begins (NULL: begun before this migration,
delivered as authored).

Revision ID: 0022
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import grant_dml, run, tenant_rls

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

CODE = "'^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'"


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run("ALTER TABLE question_versions ADD COLUMN language varchar(16) NOT NULL DEFAULT 'en'")
    run(f"""
        ALTER TABLE question_versions ADD CONSTRAINT ck_question_versions_language
            CHECK (language ~ {CODE})
    """)
    run(f"""
        CREATE TABLE question_translations (
            tenant_id uuid NOT NULL,
            id uuid NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            question_id uuid NOT NULL,
            question_version_id uuid NOT NULL,
            language varchar(16) NOT NULL,
            body jsonb NOT NULL,
            created_by varchar(80) NOT NULL,
            updated_by varchar(80) NOT NULL,
            CONSTRAINT pk_question_translations PRIMARY KEY (tenant_id, id),
            CONSTRAINT uq_question_translations_version_language
                UNIQUE (tenant_id, question_version_id, language),
            CONSTRAINT fk_question_translations_tenant_id_tenants FOREIGN KEY (tenant_id)
                REFERENCES tenants (id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_translations_question
                FOREIGN KEY (tenant_id, question_id)
                REFERENCES questions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT fk_question_translations_version
                FOREIGN KEY (tenant_id, question_version_id)
                REFERENCES question_versions (tenant_id, id) ON DELETE RESTRICT,
            CONSTRAINT ck_question_translations_language CHECK (language ~ {CODE})
        )
    """)
    run("""
        CREATE INDEX ix_question_translations_question
            ON question_translations (tenant_id, question_id)
    """)
    for statement in tenant_rls("question_translations"):
        run(statement)
    run(grant_dml("question_translations", app, "SELECT, INSERT"))
    run(f"GRANT UPDATE (body, updated_at, updated_by) ON question_translations TO {app}")

    run("ALTER TABLE attempts ADD COLUMN language varchar(16)")
    run(f"""
        ALTER TABLE attempts ADD CONSTRAINT ck_attempts_language
            CHECK (language IS NULL OR language ~ {CODE})
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
