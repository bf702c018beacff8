"""The server keeps what linear navigation and consent need to be enforced.

``attempts.furthest``: the furthest question an attempt under linear
navigation has reached (moved to, or answered); NULL when the exam's
navigation is free. Saves before it and moves back are refused
(docs/candidate-api.md). Attempts started before this migration keep NULL,
that is free navigation, until they end.

``consents.captures``: what the candidate consented to have captured (the
list derived from the attempt's proctoring policy); evidence of any other
kind is refused. NULL on consents recorded before this migration.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("ALTER TABLE attempts ADD COLUMN furthest integer")
    run("""
        ALTER TABLE attempts ADD CONSTRAINT ck_attempts_furthest
            CHECK (furthest IS NULL OR furthest >= 0)
    """)
    run("ALTER TABLE consents ADD COLUMN captures jsonb")
    run("""
        ALTER TABLE consents ADD CONSTRAINT ck_consents_captures
            CHECK (captures IS NULL OR jsonb_typeof(captures) = 'array')
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
