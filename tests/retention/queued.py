"""Jobs a test queued, taken off the queue as the worker would take them
(the test then runs their work itself: the test servers run no worker)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, text


def take(conn: Connection, task: str, tenant: uuid.UUID) -> list[dict[str, Any]]:
    """The arguments of ``tenant``'s queued ``task`` jobs, oldest first,
    each marked done so that it is taken once."""
    rows = conn.execute(
        text(
            "UPDATE procrastinate_jobs SET status = 'succeeded' "
            "WHERE task_name = :t AND status = 'todo' AND args->>'tenant_id' = :tenant "
            "RETURNING id, args"
        ),
        {"t": task, "tenant": str(tenant)},
    ).all()
    return [args for _, args in sorted(rows, key=lambda row: row[0])]
