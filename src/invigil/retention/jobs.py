"""Retention's background jobs, as procrastinate tasks (registered by
:mod:`invigil.retention.hooks`): the daily purge, the store deletes an
erasure leaves for after its commit, and the candidate portal's link
requests.

The purge reads the real clock here; :mod:`invigil.retention.purge` takes
``now``. A missed night (a worker restarting) is caught up by the next run:
whatever is over is purged, however long ago it ended.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import procrastinate

from invigil.logs import get_logger

log = get_logger(__name__)

PURGE = "retention.purge"
DELETE_OBJECTS = "retention.delete_objects"
CRON = "23 2 * * *"  # daily, 02:23 UTC


async def purge_all(context: procrastinate.JobContext, timestamp: int) -> None:
    """Purge every tenant's data whose retention period is over."""
    await asyncio.to_thread(
        _purge_all, context.additional_context["db"], context.additional_context["services"]
    )


def _purge_all(db: Any, services: Any) -> None:
    from invigil.retention import purge, receipts

    receipts.use_ring(services.keys.audit)
    done = purge.run_all(db, services.evidence, now=datetime.now(UTC))
    log.info("retention.purge_run", **done)


async def delete_objects(context: procrastinate.JobContext, tenant_id: str) -> None:
    """Delete from the store the objects an erasure of this tenant purged."""
    await asyncio.to_thread(
        _delete_objects,
        context.additional_context["db"],
        context.additional_context["services"],
        tenant_id,
    )


def _delete_objects(db: Any, services: Any, tenant_id: str) -> None:
    import uuid

    from invigil.retention import purge

    deleted = purge.delete_pending(db, uuid.UUID(tenant_id), services.evidence)
    log.info("retention.objects_deleted", tenant=tenant_id, objects=deleted)


async def portal_request(context: procrastinate.JobContext, tenant_id: str, sealed: str) -> None:
    """A "See my data" request: look the address up, send a link if known
    (:func:`invigil.retention.portal_links.run_request`)."""
    from invigil.retention.portal_links import run_request

    extra = context.additional_context
    await asyncio.to_thread(run_request, extra["db"], extra["services"], tenant_id, sealed)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.periodic(cron=CRON)(
        blueprint.task(name=PURGE, queue="maintenance", pass_context=True)(purge_all)
    )
    blueprint.task(name=DELETE_OBJECTS, queue="maintenance", pass_context=True)(delete_objects)
    blueprint.task(name="retention.portal_request", queue="mail", pass_context=True)(portal_request)
