"""Consent in the candidate's language.

``exams.consent_translations``: the author's own consent text in other
languages than the tenant's default (``{"de": "...", "fr": "..."}``; the
exam's ``consent_text`` is in the default language).

``exam_versions.consent_texts``: the complete consent text (the author's
words and the sentences generated from the proctoring policy) frozen at
publish, for every language the tenant enabled then. NULL on versions
published before this migration: they keep their English text, generated
as it always was.

``consents.language``: the language of the recorded text. Every consent
recorded before this migration was shown in English: backfilled ``en``;
no default afterwards, so every new record names its language.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

CODE = "'^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$'"


def upgrade() -> None:
    run("ALTER TABLE exams ADD COLUMN consent_translations jsonb NOT NULL DEFAULT '{}'")
    run("""
        ALTER TABLE exams ADD CONSTRAINT ck_exams_consent_translations
            CHECK (jsonb_typeof(consent_translations) = 'object')
    """)
    run("ALTER TABLE exam_versions ADD COLUMN consent_texts jsonb")
    run("""
        ALTER TABLE exam_versions ADD CONSTRAINT ck_exam_versions_consent_texts
            CHECK (consent_texts IS NULL OR jsonb_typeof(consent_texts) = 'object')
    """)
    run("ALTER TABLE consents ADD COLUMN language varchar(16) NOT NULL DEFAULT 'en'")
    run("ALTER TABLE consents ALTER COLUMN language DROP DEFAULT")
    run(f"ALTER TABLE consents ADD CONSTRAINT ck_consents_language CHECK (language ~ {CODE})")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
