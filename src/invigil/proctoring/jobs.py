"""Proctoring's background jobs (registered with :mod:`invigil.jobs.queue` by
:mod:`invigil.proctoring.hooks`)."""

from __future__ import annotations

import asyncio
from typing import Any

import procrastinate


async def recheck_snapshot(
    context: procrastinate.JobContext, tenant_id: str, snapshot_id: str
) -> None:
    """The server's own look at one webcam snapshot (``invigil.proctoring.recheck``)."""
    await asyncio.to_thread(
        _recheck_snapshot,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
        snapshot_id,
    )


def _recheck_snapshot(db: Any, services: Any, tenant_id: str, snapshot_id: str) -> None:
    import uuid

    from invigil.proctoring import recheck

    recheck.run(db, services.evidence, uuid.UUID(tenant_id), uuid.UUID(snapshot_id))


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(
        name="proctoring.recheck_snapshot",
        queue="recheck",
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=3, wait=30),
    )(recheck_snapshot)
