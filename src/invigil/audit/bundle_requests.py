"""Asking for an evidence bundle, following its job, and reading it (ADR 0041).

A request is a row (``bundle_requests``) and a job, created in one
transaction with the audit entry ``bundle.requested``; the job
(:mod:`invigil.audit.bundle_jobs`) streams the bundle into the tenant's
regional store and, when done, records its size and SHA-256 in the row
and in the entry ``bundle.ready``, which anchors them (record kind
``bundle``), so ``invigil audit verify`` notices a changed hash.

What a bundle carries is fixed when it is asked for: decrypted evidence
when the asker then held ``evidence:view``, hashes only otherwise; a
bundle with decrypted evidence is only ever handed to a viewer who holds
``evidence:view`` when they download it. A viewer sees a tenant's bundle
only if they may see its subject (the kind's finder,
:mod:`invigil.audit.bundle_registry`); any other id answers as missing.

Reading is through a signed link bound to the bundle, the viewer and GET
(:mod:`invigil.evidence.signed_urls`, scope ``bundle``); issuing the link
(``bundle.url_issued``) and every download (``bundle.downloaded``) is
audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select

from invigil import audit
from invigil.audit import bundle_records
from invigil.audit import bundle_registry as registry
from invigil.audit.models import BundleRequest
from invigil.audit.records import anchor
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Forbidden, Gone, NotFound
from invigil.evidence import crypto
from invigil.evidence.keys import open_data_key
from invigil.evidence.service import Evidence
from invigil.evidence.signed_urls import SignedUrl

TASK = "invigil:audit.build_bundle"
QUEUE = "bundles"


def request(
    uow: UnitOfWork, kind: str, subject_id: uuid.UUID, *, with_evidence: bool
) -> BundleRequest:
    """Queue a bundle of a subject the caller may see, audited."""
    registry.builder_for(kind)  # a kind nobody builds here is refused now, not in the job
    registry.find_subject(uow, kind, subject_id)
    row = BundleRequest(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        kind=kind,
        subject_id=subject_id,
        requested_by=uuid.UUID(uow.actor.id),
        with_evidence=with_evidence,
        state="queued",
        done=0,
        attempts=0,
    )
    uow.add(row)
    uow.flush()
    audit.record(
        uow,
        "bundle.requested",
        row,
        {"kind": kind, "subject_id": subject_id, "with_evidence": with_evidence},
    )
    _queue(uow, row)
    return row


def _queue(uow: UnitOfWork, row: BundleRequest) -> None:
    uow.defer(TASK, queue=QUEUE, tenant_id=str(uow.tenant), bundle_id=str(row.id))


def get(uow: UnitOfWork, bundle_id: uuid.UUID, *, lock: bool = False) -> BundleRequest:
    """A bundle of this tenant whose subject the caller may see, else NotFound."""
    stmt = select(BundleRequest).where(BundleRequest.id == bundle_id)
    row = uow.scalar(stmt.with_for_update() if lock else stmt)
    if row is None:
        raise NotFound(f"bundle {bundle_id} was not found")
    try:
        registry.find_subject(uow, row.kind, row.subject_id)
    except NotFound:
        raise NotFound(f"bundle {bundle_id} was not found") from None
    return row


def of_subject(uow: UnitOfWork, kind: str, subject_id: uuid.UUID) -> list[BundleRequest]:
    """The subject's bundles, newest first (for its page)."""
    return uow.scalars(
        select(BundleRequest)
        .where(BundleRequest.kind == kind, BundleRequest.subject_id == subject_id)
        .order_by(BundleRequest.created_at.desc(), BundleRequest.id)
        .limit(20)
    )


def retry(uow: UnitOfWork, bundle_id: uuid.UUID) -> BundleRequest:
    """Queue a failed bundle again (same contents: the asker's choice stands)."""
    row = get(uow, bundle_id, lock=True)
    if row.state != "failed":
        raise Conflict(f"only a failed bundle can be retried; this one is {row.state}")
    row.state, row.done, row.total, row.error = "queued", 0, None, None
    row.started_at = row.finished_at = None
    uow.flush()
    audit.record(uow, "bundle.retried", row, {"attempts": row.attempts})
    _queue(uow, row)
    return row


def _downloadable(row: BundleRequest, permissions: frozenset[str]) -> None:
    if row.with_evidence and "evidence:view" not in permissions:
        raise Forbidden(
            "this bundle carries decrypted evidence: only a viewer allowed to view "
            "evidence may download it"
        )
    if row.state == "purged":
        raise Gone(
            "this bundle was destroyed with the data it was built from (a retention "
            "purge or an erasure request); its hash stays in the audit log"
        )
    if row.state == "expired" or (
        row.expires_at is not None and row.expires_at <= datetime.now(UTC)
    ):
        raise Gone("this bundle has expired and was purged; build a new one")
    if row.state != "ready":
        raise Conflict(f"this bundle is not ready yet ({row.state})")


def issue_link(
    uow: UnitOfWork, evidence: Evidence, bundle_id: uuid.UUID, permissions: frozenset[str]
) -> tuple[BundleRequest, SignedUrl]:
    """A link that downloads the bundle, for the caller only, for a few minutes."""
    row = get(uow, bundle_id)
    _downloadable(row, permissions)
    viewer = uuid.UUID(uow.actor.id)
    signed = evidence.signer.issue(row.id, viewer, scope="bundle")
    audit.record(
        uow,
        "bundle.url_issued",
        row,
        {
            "viewer": viewer,
            "method": signed.method,
            "expires_at": datetime.fromtimestamp(signed.expires, UTC),
        },
    )
    return row, signed


def open_download(
    uow: UnitOfWork, evidence: Evidence, bundle_id: uuid.UUID, permissions: frozenset[str]
) -> tuple[BundleRequest, Iterator[bytes]]:
    """The bundle's bytes (decrypted from the store), audited as downloaded."""
    row = get(uow, bundle_id)
    _downloadable(row, permissions)
    assert row.data_key_id and row.region and row.store_key
    key = open_data_key(uow, evidence.master, row.data_key_id)
    source = evidence.stores.for_region(row.region).get(row.store_key)
    audit.record(
        uow,
        "bundle.downloaded",
        row,
        {"viewer": uuid.UUID(uow.actor.id), "size": row.size, "sha256": row.sha256},
    )
    return row, crypto.decrypt(key.secret, row.id, source)


def ready_payload(uow: UnitOfWork, row: BundleRequest) -> dict[str, object]:
    """The ``bundle.ready`` entry (after the row is flushed): the hash people
    compare, and its anchor (:mod:`invigil.audit.bundle_records`)."""
    record = bundle_records.bundle(uow, row.id)
    return {
        "kind": row.kind,
        "subject_id": row.subject_id,
        "size": row.size,
        "sha256": row.sha256,
        "with_evidence": row.with_evidence,
        "expires_at": row.expires_at,
        "anchor": anchor(bundle_records.KIND, record.sha256),
    }
