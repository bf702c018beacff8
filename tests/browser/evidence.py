"""Helpers for the evidence-capture browser tests: what the server stored for
an attempt (snapshots, recording segments, their encrypted objects), the
server's re-check run the way its job runs it, and what the browser still
holds in IndexedDB for the server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from playwright.sync_api import Page
from sqlalchemy import select

from invigil.evidence.models import EvidenceObject
from invigil.evidence.service import Evidence
from invigil.proctoring import recheck
from invigil.proctoring.models import RecordingSegment, Snapshot
from invigil.proctoring.presets import STRICT
from tests.browser import candidate as c

T = TypeVar("T")

JPEG = b"\xff\xd8\xff"
WEBM = b"\x1a\x45\xdf\xa3"


def strict(**changes: Any) -> dict[str, Any]:
    """The strict preset as a custom policy, with `changes` (e.g. a shorter
    snapshot interval); pass it with ``proctoring_preset="strict"`` so that
    the consent and the system check stay the strict ones."""
    policy: dict[str, Any] = STRICT.model_copy(update=changes).model_dump(mode="json")
    return policy


def wait(
    found: Callable[[], T | None],
    what: str,
    timeout: float = 40,
    page: Page | None = None,
) -> T:
    """Poll `found()` until it answers something truthy; fail naming `what`.
    With `page`, Playwright's loop runs while waiting (routes, listeners)."""
    deadline = time.monotonic() + timeout
    while True:
        got = found()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s (last: {got!r})")
        if page is not None:
            page.wait_for_timeout(250)
        else:
            time.sleep(0.25)


def snapshots(org: c.Org, attempt_id: str) -> list[Snapshot]:
    with org.database.unit_of_work(org.tenant_id) as uow:
        rows = uow.scalars(
            select(Snapshot)
            .where(Snapshot.attempt_id == uuid.UUID(attempt_id))
            .order_by(Snapshot.taken_at)
        )
        uow.session.expunge_all()
        return rows


def segments(org: c.Org, attempt_id: str) -> list[RecordingSegment]:
    with org.database.unit_of_work(org.tenant_id) as uow:
        rows = uow.scalars(
            select(RecordingSegment)
            .where(RecordingSegment.attempt_id == uuid.UUID(attempt_id))
            .order_by(RecordingSegment.segment_index)
        )
        uow.session.expunge_all()
        return rows


def objects(org: c.Org, attempt_id: str, kind: str | None = None) -> list[EvidenceObject]:
    """The attempt's evidence objects (its subject), oldest first."""
    with org.database.unit_of_work(org.tenant_id) as uow:
        query = select(EvidenceObject).where(
            EvidenceObject.subject_type == "attempt", EvidenceObject.subject_id == attempt_id
        )
        if kind is not None:
            query = query.where(EvidenceObject.kind == kind)
        rows = uow.scalars(query.order_by(EvidenceObject.created_at))
        uow.session.expunge_all()
        return rows


def stored_bytes(evidence: Evidence, obj: EvidenceObject) -> bytes:
    """What the store holds for the object: the ciphertext."""
    return b"".join(evidence.stores.for_region(obj.region).get(obj.store_key))


def plaintext(org: c.Org, evidence: Evidence, obj: EvidenceObject) -> bytes:
    from invigil.evidence import service

    with org.database.unit_of_work(org.tenant_id) as uow:
        return service.read_all(uow, evidence, obj.id)


def recheck_all(org: c.Org, evidence: Evidence, attempt_id: str) -> list[Snapshot]:
    """What the re-check job does for each snapshot still pending, run here
    (the test server runs no job worker); then the snapshots as stored."""
    for s in snapshots(org, attempt_id):
        if s.server_status == "pending":
            recheck.run(org.database, evidence, org.tenant_id, s.id)
    return snapshots(org, attempt_id)


def pending(page: Page) -> list[dict[str, Any]]:
    """The evidence this browser holds for the server (IndexedDB), oldest first."""
    name = f"invigil-evidence:{c.boot(page)['attempt_id']}"
    found: list[dict[str, Any]] = page.evaluate(
        """async (name) => {
          const known = await indexedDB.databases();
          if (!known.some((d) => d.name === name)) return [];
          return await new Promise((resolve, reject) => {
            const req = indexedDB.open(name);
            req.onerror = () => reject(req.error);
            req.onsuccess = () => {
              const db = req.result;
              if (!db.objectStoreNames.contains("pending")) { db.close(); resolve([]); return; }
              const all = db.transaction("pending").objectStore("pending").getAll();
              all.onerror = () => reject(all.error);
              all.onsuccess = () => {
                db.close();
                resolve(all.result.map((r) => ({
                  id: r.id, type: r.type, size: r.size, blob: r.blob instanceof Blob,
                  index: r.index ?? null, upload_id: r.upload_id ?? null, reason: r.reason ?? null,
                })));
              };
            };
          });
        }""",
        name,
    )
    return found
