"""Mail without a guest link, with attachments: certificates, reminders,
escalations.

``mail_outbox.attachments``: what the send job attaches, by reference
(``[{"kind": "certificate_pdf", "id": "<uuid>"}]``), rendered when the mail
is sent by the renderer its domain registered (the row keeps ids only,
never the files). ``mail_outbox.locale``: the language of a mail that
belongs to no invitation (an invitation's mail speaks the invitation's).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-07
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("ALTER TABLE mail_outbox ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'::jsonb")
    run("ALTER TABLE mail_outbox ADD COLUMN locale varchar(16)")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
