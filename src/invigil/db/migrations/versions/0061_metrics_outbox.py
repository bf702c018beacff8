"""Metrics: the mail outbox's backlog across tenants, as two numbers.

- ``platform_mail_outbox_backlog()``: how many mails wait to be sent and
  when the oldest of them was queued, over every tenant; counts and a time
  only, nothing of any mail (the metrics scrape reads it, ADR 0070). Mail
  held because no SMTP server is configured is not waiting (nothing sends
  it later) and is left out.
- ``ix_mail_outbox_unsent``: the unsent rows alone, so that the read stays
  small however much mail was ever sent.

Revision ID: 0061
Revises: 0059
Create Date: 2026-12-09
"""

from __future__ import annotations

from alembic import op

from invigil.db.ddl import run

revision = "0061"
down_revision = "0060"
branch_labels = None
depends_on = None

# invigil.delivery.mail.NOT_CONFIGURED, as stored (tests hold them equal).
HELD = "not sent: SMTP not configured"


def upgrade() -> None:
    app = op.get_context().config.attributes["app_role"]  # type: ignore[union-attr]
    run(
        "CREATE INDEX ix_mail_outbox_unsent ON mail_outbox (tenant_id, created_at)"
        " WHERE sent_at IS NULL"
    )
    run(
        f"""
        CREATE FUNCTION platform_mail_outbox_backlog()
        RETURNS TABLE (waiting bigint, oldest timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = pg_catalog, public, pg_temp
        AS $$
          SELECT count(*), min(m.created_at) FROM public.mail_outbox m
          WHERE m.sent_at IS NULL AND m.error IS DISTINCT FROM '{HELD}'
        $$
        """
    )
    run("REVOKE ALL ON FUNCTION platform_mail_outbox_backlog() FROM PUBLIC")
    run(f"GRANT EXECUTE ON FUNCTION platform_mail_outbox_backlog() TO {app}")


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
