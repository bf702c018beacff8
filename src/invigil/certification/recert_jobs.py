"""The recertification pass as a periodic job (registered with
:mod:`invigil.jobs.queue` when the certification package is imported).

Hourly, though the steps are daily: each step is taken once (its notice is
unique), so running more often only makes a step go out closer to the
moment it falls due, and a missed hour (a worker restarting) costs nothing.
Every tenant in turn (``platform.tenant_ids``), each in batches of its
own transactions; one tenant's failure is logged and does not stop the
others. The task reads the real clock; everything below it takes ``now``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import procrastinate

from invigil.logs import get_logger

log = get_logger(__name__)

CRON = "23 * * * *"  # hourly, off the hour


async def recertify(context: procrastinate.JobContext, timestamp: int) -> None:
    """Take the recertification steps due now, for every tenant."""
    await asyncio.to_thread(
        recertify_all,
        context.additional_context["db"],
        context.additional_context["services"],
        datetime.now(UTC),
    )


def recertify_all(db: Any, services: Any, now: datetime) -> dict[str, int]:
    """Run the pass for each tenant at ``now``; the steps taken, by kind."""
    from collections import Counter

    from invigil.certification.recertification import daily_pass
    from invigil.db import platform
    from invigil.delivery.invitations import Kit

    kit = Kit.of(services)
    total: Counter[str] = Counter()
    for tenant_id in platform.tenant_ids(db):
        try:
            total.update(daily_pass(db, tenant_id, kit, now=now).steps)
        except Exception:
            log.exception("certification.recertify_failed", tenant=str(tenant_id))
    return dict(total)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.periodic(cron=CRON)(
        blueprint.task(name="certification.recertify", queue="maintenance", pass_context=True)(
            recertify
        )
    )


def install() -> None:
    from invigil.jobs import queue

    queue.register(add_tasks)
