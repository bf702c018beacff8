"""Retention's records anchored in the audit log, for ``invigil audit
verify``: every policy version, hold and lift and every finished
data-subject request, recomputed from its row, and every deletion receipt
(its hash recomputed, its signature checked)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork
from invigil.retention import holds, policy, receipts, requests


def _source(
    kind: str, action: str, sql: str, fields: tuple[str, ...],
    document: Callable[[Mapping[str, Any]], dict[str, Any]],
) -> Source:  # fmt: skip
    def read(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
        for r in stream(uow, sql, {}, f"records_{kind}"):
            row = dict(zip(fields, r, strict=True))
            body = document(row)
            yield Record(kind, str(row["id"]), kind, action, document_sha256(body),
                         body=body if keep else None, stated=row["sha256"])  # fmt: skip

    return Source(kind, read)


SOURCES = (
    _source(
        policy.SUBJECT, policy.ACTION,
        "SELECT id, version, document, reason, created_by, sha256 FROM retention_policies "
        "ORDER BY id::text COLLATE \"C\"",
        ("id", "version", "document", "reason", "created_by", "sha256"),
        policy.policy_document,
    ),
    _source(
        holds.HOLD, holds.PLACED,
        "SELECT id, scope, subject_id, reason, placed_by, sha256 FROM retention_holds "
        "ORDER BY id::text COLLATE \"C\"",
        ("id", "scope", "subject_id", "reason", "placed_by", "sha256"),
        holds.hold_document,
    ),
    _source(
        holds.LIFT, holds.LIFTED,
        "SELECT id, hold_id, reason, lifted_by, sha256 FROM retention_hold_lifts "
        "ORDER BY id::text COLLATE \"C\"",
        ("id", "hold_id", "reason", "lifted_by", "sha256"),
        holds.lift_document,
    ),
    *requests.SOURCES,
    *receipts.SOURCES,
)  # fmt: skip


def every_source() -> tuple[Source, ...]:
    """Every kind of record anchored in the audit log, by the domains that
    keep them: what ``invigil audit verify``, the audit export and the trust
    report check. Retention sits above every domain that anchors records, so
    the one list lives here."""
    from invigil.ai.verify import SOURCES as AI
    from invigil.audit.bundle_records import SOURCES as BUNDLES
    from invigil.certification.records import SOURCES as CERTIFICATION
    from invigil.delivery.records import SOURCES as DELIVERY
    from invigil.delivery.voids import SOURCES as VOIDS
    from invigil.ledger.verify import SOURCES as LEDGER
    from invigil.proctoring.live import SOURCES as LIVE
    from invigil.proctoring.records import SOURCES as PROCTORING
    from invigil.results.records import SOURCES as RESULTS
    from invigil.shortlists.records import SOURCES as SHORTLISTS

    return (
        *AI, *BUNDLES, *CERTIFICATION, *DELIVERY, *LEDGER, *LIVE, *PROCTORING, *RESULTS, *SOURCES,
        *SHORTLISTS, *VOIDS,
    )  # fmt: skip
