"""Recertification: the staff page lists the latest steps taken.

``ix_cert_notices_done``: ``cert_notices`` newest first per tenant (the
recertification page's "recent" list), without sorting every notice ever
written. The daily pass itself reads notices by certificate and step (the
unique key of 0032).

Revision ID: 0037
Revises: 0033
Create Date: 2026-12-07
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0037"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("CREATE INDEX ix_cert_notices_done ON cert_notices (tenant_id, done_at)")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
