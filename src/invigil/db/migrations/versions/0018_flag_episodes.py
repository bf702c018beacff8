"""Flags merge into one per episode: each action the policy takes names the
flag it belongs to (``flag_id``, the first action of the episode; itself
when it starts one) and the span of the events it counted (``window_start``
to ``window_end``, their starts). An action of a rule whose span overlaps or
touches a stored one of the same rule joins that one's flag, so one run of
full-screen exits is one flag whose count grows, decided once
(docs/adr/0023-one-flag-per-episode.md).

Actions stay append-only: a flag grows by new rows, never by an update.
Actions stored before this migration have neither (each is its own flag).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("ALTER TABLE proctoring_actions ADD COLUMN flag_id uuid")
    run("ALTER TABLE proctoring_actions ADD COLUMN window_start timestamptz")
    run("ALTER TABLE proctoring_actions ADD COLUMN window_end timestamptz")
    run("""
        ALTER TABLE proctoring_actions ADD CONSTRAINT fk_proctoring_actions_tenant_id_flag_id
            FOREIGN KEY (tenant_id, flag_id) REFERENCES proctoring_actions (tenant_id, id)
            ON DELETE RESTRICT
    """)
    run("""
        ALTER TABLE proctoring_actions ADD CONSTRAINT ck_proctoring_actions_window
            CHECK ((window_start IS NULL) = (window_end IS NULL) AND window_start <= window_end)
    """)
    run("""
        CREATE INDEX ix_proctoring_actions_flag ON proctoring_actions (tenant_id, flag_id)
            WHERE flag_id IS NOT NULL
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
