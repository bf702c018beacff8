"""The storage charge as a periodic job (registered with
:mod:`invigil.jobs.queue` when the ledger package is imported).

Hourly, though days are daily: each day is measured once (its row is
unique), so a run finds nothing to do until a day is over, and a missed
night (a worker restarting) is caught up by the next run. The task reads
the real clock; :mod:`invigil.ledger.storage` takes ``now``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import procrastinate

from invigil.logs import get_logger

log = get_logger(__name__)

NAME = "ledger.storage"
CRON = "47 * * * *"  # hourly, off the hour; the first run after midnight UTC takes the day


async def charge_storage(context: procrastinate.JobContext, timestamp: int) -> None:
    """Measure and charge every tenant's evidence storage for the days now over."""
    from invigil.ledger import storage

    done = await asyncio.to_thread(
        storage.run_all, context.additional_context["db"], now=datetime.now(UTC)
    )
    log.info("ledger.storage_run", **done)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.periodic(cron=CRON)(
        blueprint.task(name=NAME, queue="maintenance", pass_context=True)(charge_storage)
    )


def install() -> None:
    from invigil.jobs import queue

    queue.register(add_tasks)
