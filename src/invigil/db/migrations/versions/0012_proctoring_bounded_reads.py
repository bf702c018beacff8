"""Proctoring: indexes for deciding over a bounded part of an attempt's
event stream (the kinds a batch touched, back as far as their rules look).

- starts and instants by kind and time: the episodes of one kind from a
  moment on, and the starts of a kind that are still open;
- ends by the start they name, latest first: an episode's end, without
  reading the stream;
- actions by episode: what already fired for the episodes read (this one
  serves every query the (tenant_id, attempt_id) index served, so it goes).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("""
        CREATE INDEX ix_proctoring_events_kind ON proctoring_events
            (tenant_id, attempt_id, kind, at) WHERE phase <> 'end'
    """)
    run("""
        CREATE INDEX ix_proctoring_events_ends ON proctoring_events
            (tenant_id, attempt_id, ends, seq) WHERE phase = 'end'
    """)
    run("""
        CREATE INDEX ix_proctoring_actions_episode ON proctoring_actions
            (tenant_id, attempt_id, episode_seq)
    """)
    run("DROP INDEX ix_proctoring_actions_attempt")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
