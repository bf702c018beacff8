"""The exam's own words in other languages.

``exams.text_translations``: the exam's title, description and section
titles in other languages than the tenant's default (``{"de": {"title":
..., "description": ..., "sections": [...]}}``).

``exam_versions.text_translations`` and ``exam_versions.text_language``:
those translations frozen at publish for the languages the tenant enabled
then, and the language the exam's own words are written in. Both NULL on
versions published without translations (and before this migration): their
words are shown as written, marked with the tenant's default language.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

CODE = "'^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'"


def upgrade() -> None:
    run("ALTER TABLE exams ADD COLUMN text_translations jsonb NOT NULL DEFAULT '{}'")
    run("""
        ALTER TABLE exams ADD CONSTRAINT ck_exams_text_translations
            CHECK (jsonb_typeof(text_translations) = 'object')
    """)
    run("ALTER TABLE exam_versions ADD COLUMN text_translations jsonb")
    run("""
        ALTER TABLE exam_versions ADD CONSTRAINT ck_exam_versions_text_translations
            CHECK (text_translations IS NULL OR jsonb_typeof(text_translations) = 'object')
    """)
    run("ALTER TABLE exam_versions ADD COLUMN text_language varchar(16)")
    run(f"""
        ALTER TABLE exam_versions ADD CONSTRAINT ck_exam_versions_text_language
            CHECK (text_language IS NULL OR text_language ~ {CODE})
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
