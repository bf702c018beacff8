"""Change signals for live views: PostgreSQL NOTIFY, sent when the
transaction commits (never for one that rolls back).

A write that changes what a live console or a running player shows calls
:func:`attempt_changed` in its own transaction. Each server process holds
one listening connection (``invigil.proctoring.live_broker``) and fans the
signal out to the streams it serves, so every process behind a load
balancer hears every change. The payload names the tenant and the attempt,
nothing else: the listener reads what changed under the tenant's binding.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text

from invigil.db.uow import UnitOfWork

CHANNEL = "invigil_live"

# A statement can send it too: ``RETURNING pg_notify(...)`` costs no round trip.
NOTIFY_SQL = f"pg_notify('{CHANNEL}', a.tenant_id::text || ' ' || a.id::text)"


def attempt_changed(uow: UnitOfWork, attempt_id: uuid.UUID) -> None:
    """Signal, at commit, that the attempt's live state changed."""
    uow.session.execute(
        text(f"SELECT pg_notify('{CHANNEL}', CAST(:t AS text) || ' ' || CAST(:a AS text))"),
        {"t": str(uow.tenant), "a": str(attempt_id)},
    )


def parse(payload: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """(tenant id, attempt id) of a signal's payload; None if it is not one."""
    tenant, _, attempt = payload.partition(" ")
    try:
        return uuid.UUID(tenant), uuid.UUID(attempt)
    except ValueError:
        return None
