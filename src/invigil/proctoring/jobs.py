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


async def finalise_reviews(context: procrastinate.JobContext, timestamp: int) -> None:
    """Make final the violations held by a contest window that has closed
    (every contest answered): ``invigil.proctoring.reviews.finalise``."""
    await asyncio.to_thread(finalise_held, context.additional_context["db"])


def finalise_held(db: Any) -> int:
    """One pass over every tenant; the number of outcomes made final."""
    from invigil.db import platform
    from invigil.db.uow import Actor
    from invigil.proctoring import reviews

    done = 0
    for tenant_id in platform.tenant_ids(db):
        with db.unit_of_work(tenant_id, Actor.system("proctoring.finalise_reviews")) as uow:
            ids = reviews.held_attempts(uow)
        for attempt_id in ids:
            with db.unit_of_work(tenant_id, Actor.system("proctoring.finalise_reviews")) as uow:
                attempt = reviews.require_attempt(uow, attempt_id, lock=True)
                done += reviews.finalise(uow, attempt)
    return done


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(
        name="proctoring.recheck_snapshot",
        queue="recheck",
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=3, wait=30),
    )(recheck_snapshot)
    blueprint.periodic(cron="*/5 * * * *")(
        blueprint.task(name="proctoring.finalise_reviews", queue="maintenance", pass_context=True)(
            finalise_reviews
        )
    )
