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
