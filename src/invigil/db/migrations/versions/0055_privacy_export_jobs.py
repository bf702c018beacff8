"""An access request's export is built by a job, not in the request.

A person's export holds every snapshot and screen recording of theirs; for
someone with hours of recordings building it takes minutes, which an HTTP
request (and its open transaction) should not wait for. The request now
records the export's state: ``queued`` when an administrator asks,
``building`` once the job claimed it (``export_started_at``, ``export_tries``),
``ready`` with the object (the existing ``export_*`` columns), or ``failed``
with the reason (``export_error``), which can be asked again. Requests whose
export was built before this migration are ``ready``.

Revision ID: 0055
Revises: 0054
Create Date: 2026-12-07
"""

from __future__ import annotations

from invigil.db.ddl import run

revision = "0055"
down_revision = "0054"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("""
        ALTER TABLE privacy_requests
            ADD COLUMN export_state varchar(16),
            ADD COLUMN export_asked_at timestamptz,
            ADD COLUMN export_started_at timestamptz,
            ADD COLUMN export_tries integer NOT NULL DEFAULT 0,
            ADD COLUMN export_error text
    """)
    run("""
        UPDATE privacy_requests SET export_state = 'ready', export_asked_at = completed_at,
            export_started_at = completed_at, export_tries = 1
        WHERE export_object_id IS NOT NULL
    """)
    run("""
        ALTER TABLE privacy_requests
            ADD CONSTRAINT ck_privacy_requests_export_state
                CHECK (export_state IN ('queued', 'building', 'ready', 'failed')),
            ADD CONSTRAINT ck_privacy_requests_export_kind
                CHECK (export_state IS NULL OR kind = 'access'),
            ADD CONSTRAINT ck_privacy_requests_export_ready
                CHECK (coalesce(export_state = 'ready', false) = (export_object_id IS NOT NULL)),
            ADD CONSTRAINT ck_privacy_requests_export_error CHECK (
                coalesce(export_state = 'failed', false) = (export_error IS NOT NULL)
                AND char_length(coalesce(export_error, '')) <= 500
            ),
            ADD CONSTRAINT ck_privacy_requests_export_tries CHECK (export_tries >= 0)
    """)


def downgrade() -> None:
    raise NotImplementedError("Invigil migrations move forward only")
