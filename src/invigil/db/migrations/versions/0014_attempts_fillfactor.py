"""Attempts leave room on their pages for the updates of a running exam.

Every save, heartbeat and batch of proctoring events updates its attempt's
row (last_seen_at, last_seq, the event chain's head): none of those columns
is indexed, so PostgreSQL can write the new version on the same page and
skip the table's five indexes (a HOT update) -- when the page has room. With
the default fill factor (100) pages are full from the start and most of
those updates touch every index. 70 keeps room for a few versions of each
row (docs/adr/0010-events-hot-path.md). Pages written before this keep
their layout until the table is rewritten.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("ALTER TABLE attempts SET (fillfactor = 70)")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
