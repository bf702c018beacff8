"""Built evidence bundles as records anchored in the audit log.

A bundle that became ready is its row's fixed fields as a document (id,
kind, subject, who asked, whether it carries evidence, size, SHA-256, when
it was finished), anchored by the entry ``bundle.ready`` (record kind
``bundle``). ``invigil audit verify`` reads the rows back and compares
(:mod:`invigil.audit.anchored`): a bundle whose stated hash was changed in
the table, or whose row was deleted, is found. Queued, building and failed
requests have no hash yet and are no record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork

KIND = "bundle"
RECORDED_BY = "bundle.ready"
FIELDS = ("id", "kind", "subject_id", "requested_by", "with_evidence", "size", "sha256",
          "finished_at")  # fmt: skip


def _bundles(uow: UnitOfWork, keep: bool, bundle_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params = "WHERE sha256 IS NOT NULL", {}
    name: str | None = "records_bundle_requests"
    if bundle_id is not None:
        where, params, name = "WHERE id = %(id)s AND sha256 IS NOT NULL", {"id": bundle_id}, None
    sql = f"SELECT {', '.join(FIELDS)} FROM bundle_requests {where} ORDER BY id"
    for row in stream(uow, sql, params, name):
        document = jsonable(dict(zip(FIELDS, row, strict=True)))
        yield Record(
            KIND,
            str(row[0]),
            "bundle_request",
            RECORDED_BY,
            document_sha256(document),
            body=document if keep else None,
        )


def bundle(uow: UnitOfWork, bundle_id: uuid.UUID) -> Record:
    """One built bundle as its row holds it (to anchor when it is recorded)."""
    (record,) = _bundles(uow, False, bundle_id)
    return record


SOURCES = (Source(KIND, _bundles),)
