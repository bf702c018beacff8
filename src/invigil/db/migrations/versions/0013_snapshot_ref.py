"""Snapshots carry the browser's own reference, so a re-sent snapshot (its
answer lost to the network or a reload) is stored once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("ALTER TABLE proctoring_snapshots ADD COLUMN client_ref uuid")
    run("""
        CREATE UNIQUE INDEX uq_proctoring_snapshots_client_ref
            ON proctoring_snapshots (tenant_id, attempt_id, client_ref)
            WHERE client_ref IS NOT NULL
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
