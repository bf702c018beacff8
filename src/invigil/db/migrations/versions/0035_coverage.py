"""Coverage: the index the dashboard's statement reads certificates by.

``ix_certificates_latest``: each holder's certificates of a program, newest
first, so ``DISTINCT ON (holder_id, program_id) ... ORDER BY holder_id,
program_id, issued_at DESC, id`` (the holder's latest certificate, ADR
0045) walks the index instead of sorting every certificate.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run(
        "CREATE INDEX ix_certificates_latest ON certificates "
        "(tenant_id, holder_id, program_id, issued_at DESC, id) "
        "INCLUDE (state, expires_at, state_changed_at)"
    )


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
