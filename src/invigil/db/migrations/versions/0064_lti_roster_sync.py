"""LTI Names and Role Provisioning Services: roster sync
(docs/adr/0074-lti-roster-sync.md).

- ``lti_platforms.roster_sync``: the administrator lets Invigil read the
  platform's course rosters (off by default).
- ``lti_links.memberships_url``: the ``context_memberships_url`` the last
  launch from the resource link carried (null: none ever did).

Revision ID: 0064
Revises: 0063
Create Date: 2026-12-12
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0064"
down_revision = "0063"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("ALTER TABLE lti_platforms ADD COLUMN roster_sync boolean NOT NULL DEFAULT false")
    run("ALTER TABLE lti_links ADD COLUMN memberships_url varchar(2000)")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
