"""Retention's background jobs, as procrastinate tasks (registered by
:mod:`invigil.retention.hooks`): the daily purge, the store deletes an
erasure leaves for after its commit, the candidate portal's link
requests, the exports of access requests, and the verification of every
tenant's audit log (daily, or when an administrator asks from the trust
report; kept by
:mod:`invigil.audit.verifications`).

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
VERIFY_ALL = "audit.verify"
VERIFY_TENANT = "audit.verify_tenant"
# As deferred: the app adds the blueprint under the "invigil" namespace.
VERIFY_TENANT_TASK = f"invigil:{VERIFY_TENANT}"
BUILD_EXPORT = "retention.build_export"
VERIFY_CRON = "41 3 * * *"  # daily, 03:41 UTC (after the purge, so its receipts are checked)


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


async def verify_all(context: procrastinate.JobContext, timestamp: int) -> None:
    """Verify every tenant's audit log and the records it anchors."""
    extra = context.additional_context
    await asyncio.to_thread(_verify_all, extra["db"], extra["services"])


def _verify_all(db: Any, services: Any) -> None:
    from invigil.db import platform

    checked = failed = 0
    for tenant_id in platform.tenant_ids(db):
        try:
            ok = verify(db, services, tenant_id, trigger="schedule")
        except Exception:
            log.exception("audit.verification_error", tenant=str(tenant_id))
            failed += 1
            continue
        checked += 1
        failed += 0 if ok else 1
    log.info("audit.verified_all", tenants=checked, failed=failed)


def verify(
    db: Any, services: Any, tenant_id: Any, *, trigger: str, requested_by: Any = None
) -> bool:
    """One tenant's verification, kept (True: intact)."""
    import uuid

    from invigil.audit import verifications
    from invigil.db.uow import Actor
    from invigil.retention.records import every_source

    tenant = uuid.UUID(str(tenant_id))
    by = uuid.UUID(str(requested_by)) if requested_by is not None else None
    with db.unit_of_work(tenant, Actor.system(VERIFY_TENANT)) as uow:
        run = verifications.run(
            uow, services.keys.audit, every_source(), trigger=trigger, requested_by=by
        )
        return run.ok


async def verify_tenant(
    context: procrastinate.JobContext, tenant_id: str, requested_by: str
) -> None:
    """The verification an administrator asked for."""
    extra = context.additional_context
    await asyncio.to_thread(
        verify, extra["db"], extra["services"], tenant_id, trigger="request",
        requested_by=requested_by,
    )  # fmt: skip


async def build_export(context: procrastinate.JobContext, tenant_id: str, request_id: str) -> None:
    """Build an access request's export (:func:`run_export`)."""
    extra = context.additional_context
    await asyncio.to_thread(run_export, extra["db"], extra["services"], tenant_id, request_id)


def run_export(db: Any, services: Any, tenant_id: str, request_id: str) -> str:
    """Claim, build, or record the failure, each in its own transaction; the
    state the request's export ends in ("" when there was nothing to build)."""
    import uuid

    from invigil.db.uow import Actor
    from invigil.retention import requests

    tenant, rid = uuid.UUID(tenant_id), uuid.UUID(request_id)
    actor = Actor.system(BUILD_EXPORT)
    with db.unit_of_work(tenant, actor) as uow:
        if not requests.claim_export(uow, rid):
            return ""
    try:
        with db.unit_of_work(tenant, actor) as uow:
            requests.build_export(uow, services.evidence, rid)
    except Exception as exc:
        log.exception("retention.export_failed", tenant=tenant_id, request=request_id)
        reason = str(getattr(exc, "detail", "") or type(exc).__name__)
        with db.unit_of_work(tenant, actor) as uow:
            requests.export_failed(uow, rid, f"the build stopped: {reason}")
        return "failed"
    log.info("retention.export_built", tenant=tenant_id, request=request_id)
    return "ready"


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.periodic(cron=CRON)(
        blueprint.task(name=PURGE, queue="maintenance", pass_context=True)(purge_all)
    )
    blueprint.task(name=DELETE_OBJECTS, queue="maintenance", pass_context=True)(delete_objects)
    blueprint.task(name="retention.portal_request", queue="mail", pass_context=True)(portal_request)
    blueprint.periodic(cron=VERIFY_CRON)(
        blueprint.task(name=VERIFY_ALL, queue="maintenance", pass_context=True)(verify_all)
    )
    blueprint.task(name=VERIFY_TENANT, queue="maintenance", pass_context=True)(verify_tenant)
    blueprint.task(name=BUILD_EXPORT, queue="maintenance", pass_context=True)(build_export)
