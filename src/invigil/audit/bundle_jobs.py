"""The job that builds a requested evidence bundle, and the one that purges
expired bundles (ADR 0041).

Building runs in three kinds of transactions, none of them long while it
writes: one claims the request (``building``) and makes the bundle's own
data key; the builder reads in one read-only transaction while the ZIP
streams, encrypted, into the tenant's regional store
(:func:`invigil.evidence.streaming.put_written`: bounded memory, however
large the attempt); its progress is written in short transactions of
their own, at most every :data:`PROGRESS_SECONDS`, so a page polling the
row sees it move. The last one records size and SHA-256 with the anchored
entry ``bundle.ready``. A failure is recorded with its reason
(``bundle.failed``), leaves no object behind, and can be retried.

A bundle is encrypted like evidence, under a data key of its own
(subject ``bundle``/<id>) wrapped by the tenant's key, never under a
candidate's: purging destroys that key and deletes the object. Erasing the
person a bundle is about (or purging its attempt's evidence) does the same
before its expiry (``purged``, :func:`invigil.retention.purge._bundles`);
a bundle purged while it was being built has its object thrown away when
the build ends.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
from sqlalchemy import select, update

from invigil import audit
from invigil.audit import bundle_registry as registry
from invigil.audit import bundle_requests
from invigil.audit.models import BundleRequest
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import DomainError
from invigil.evidence.keys import data_key_for, destroy_subject_keys
from invigil.evidence.streaming import put_written
from invigil.jobs import queue
from invigil.logs import get_logger

log = get_logger(__name__)
PROGRESS_SECONDS = 0.5
MAX_ERROR = 500
KEY_SUBJECT = "bundle"


def _uow(db: Any, tenant_id: uuid.UUID, job: str) -> Any:
    return db.unit_of_work(tenant_id, Actor.system(job))


def _claim(db: Any, evidence: Any, tenant_id: uuid.UUID, bundle_id: uuid.UUID) -> Any:
    """Mark the request building and give it a data key; None when there is
    nothing to build (already built, failed, or gone)."""
    with _uow(db, tenant_id, "bundle.build") as uow:
        row = uow.scalar(
            select(BundleRequest).where(BundleRequest.id == bundle_id).with_for_update()
        )
        # "building": a worker died midway and procrastinate runs the job again
        if row is None or row.state not in ("queued", "building"):
            return None
        region, _ = evidence.store_of(uow)
        key = data_key_for(uow, evidence.master, KEY_SUBJECT, str(row.id))
        row.state, row.done, row.total = "building", 0, None
        row.attempts += 1
        row.started_at = datetime.now(UTC)
        row.data_key_id, row.region = key.id, region
        row.store_key = f"{tenant_id}/bundle/{row.id}"
        return (row.kind, row.subject_id, row.with_evidence, row.store_key, key.secret)


class _Progress:
    """Writes progress in its own short transactions, at most twice a second;
    remembers the latest figures it was told (``done``, ``total``) even when
    it did not write them, so the finished row states all of the work."""

    def __init__(self, db: Any, tenant_id: uuid.UUID, bundle_id: uuid.UUID) -> None:
        self.db, self.tenant_id, self.bundle_id = db, tenant_id, bundle_id
        self._last = 0.0
        self.done: int = 0
        self.total: int | None = None

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done, self.total = max(done, self.done), total if total is not None else self.total
        now = time.monotonic()
        if now - self._last < PROGRESS_SECONDS and (total is None or done < total):
            return
        self._last = now
        with _uow(self.db, self.tenant_id, "bundle.progress") as uow:
            uow.session.execute(
                update(BundleRequest)
                .where(BundleRequest.id == self.bundle_id, BundleRequest.state == "building")
                .values(done=max(done, 0), total=total)
            )


def build(db: Any, services: Any, tenant_id: uuid.UUID, bundle_id: uuid.UUID) -> str:
    """Build one requested bundle; returns the state it ended in."""
    evidence = services.evidence
    claimed = _claim(db, evidence, tenant_id, bundle_id)
    if claimed is None:
        return "skipped"
    kind, subject_id, with_evidence, store_key, secret = claimed
    subject = registry.BundleSubject(kind, subject_id, with_evidence, evidence, services)
    progress = _Progress(db, tenant_id, bundle_id)
    try:
        builder = registry.builder_for(kind)
        with _uow(db, tenant_id, "bundle.build") as uow:
            _, store = evidence.store_of(uow)
            written = put_written(
                store,
                store_key,
                secret,
                bundle_id,
                lambda sink: builder(uow, subject, sink, progress),
                kind="evidence_bundle",
            )
    except Exception as exc:
        _failed(db, tenant_id, bundle_id, exc)
        return "failed"
    with _uow(db, tenant_id, "bundle.build") as uow:
        row = uow.scalar(
            select(BundleRequest).where(BundleRequest.id == bundle_id).with_for_update()
        )
        if row is None or row.state != "building":
            # Purged while it was built (the person it is about was erased):
            # its key is gone, and the object just written goes too.
            store.delete(store_key)
            return "purged"
        row.state = "ready"
        row.size, row.sha256, row.stored_size = written.size, written.sha256, written.stored_size
        row.finished_at = datetime.now(UTC)
        row.expires_at = row.finished_at + timedelta(days=services.settings.bundle_days)
        row.done = max(row.done, progress.done, row.total or 0, progress.total or 0)
        row.total = progress.total or row.total or row.done  # never knew its total: all is done
        uow.flush()
        audit.record(uow, "bundle.ready", row, bundle_requests.ready_payload(uow, row))
    return "ready"


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return exc.detail[:MAX_ERROR]
    # no message of an unexpected error reaches a page: it may carry a path or a key
    return f"the bundle could not be built ({type(exc).__name__}); try again"


def _failed(db: Any, tenant_id: uuid.UUID, bundle_id: uuid.UUID, exc: Exception) -> None:
    log.warning("bundle.failed", bundle=str(bundle_id), error=repr(exc)[:300])
    reason = _reason(exc)
    with _uow(db, tenant_id, "bundle.build") as uow:
        row = uow.get(BundleRequest, bundle_id, label="bundle")
        row.state, row.error, row.finished_at = "failed", reason, datetime.now(UTC)
        uow.flush()
        audit.record(uow, "bundle.failed", row, {"reason": reason, "attempts": row.attempts})


def purge_expired(db: Any, services: Any, tenant_id: uuid.UUID, now: datetime | None = None) -> int:
    """Delete the objects of a tenant's expired bundles and destroy their
    keys; the rows stay (state ``expired``), audited. Returns how many."""
    moment = now or datetime.now(UTC)
    with _uow(db, tenant_id, "bundle.purge") as uow:
        due = uow.scalars(
            select(BundleRequest)
            .where(BundleRequest.state == "ready", BundleRequest.expires_at <= moment)
            .with_for_update(skip_locked=True)
        )
        for row in due:
            purge(uow, services.evidence, row, "expired")
    return len(due)


def purge(uow: UnitOfWork, evidence: Any, row: BundleRequest, reason: str) -> None:
    """Drop one bundle's object and key now (the row stays, ``expired``)."""
    if row.region and row.store_key:
        evidence.stores.for_region(row.region).delete(row.store_key)
    destroy_subject_keys(uow, KEY_SUBJECT, str(row.id), reason)
    row.state = "expired"
    uow.flush()
    audit.record(uow, "bundle.expired", row, {"reason": reason, "sha256": row.sha256})


async def build_bundle(context: procrastinate.JobContext, tenant_id: str, bundle_id: str) -> None:
    await asyncio.to_thread(
        build,
        context.additional_context["db"],
        context.additional_context["services"],
        uuid.UUID(tenant_id),
        uuid.UUID(bundle_id),
    )


async def purge_bundles(context: procrastinate.JobContext, timestamp: int) -> None:
    """Every hour: purge every tenant's expired bundles."""
    from invigil.db import platform

    db, services = context.additional_context["db"], context.additional_context["services"]
    for tenant_id in await asyncio.to_thread(platform.tenant_ids, db):
        await asyncio.to_thread(purge_expired, db, services, tenant_id)


def add_tasks(blueprint: procrastinate.Blueprint) -> None:
    blueprint.task(name="audit.build_bundle", queue=bundle_requests.QUEUE, pass_context=True)(
        build_bundle
    )
    blueprint.periodic(cron="41 * * * *")(
        blueprint.task(name="audit.purge_bundles", queue="maintenance", pass_context=True)(
            purge_bundles
        )
    )


queue.register(add_tasks)
