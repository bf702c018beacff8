"""The results records anchored in the audit log: each release of a result.

A release is its row as a document (every column but the tenant's),
anchored by ``result.released`` (record kind ``release``). ``invigil audit
verify`` reads the rows again and compares their hashes with the anchors
(:mod:`invigil.audit.anchored`): a changed row (the append-only trigger
stops the app, not someone with the owner's password) no longer matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork

_RELEASES = """
    SELECT id, attempt_id, result_id, revision, how, released_by, released_at
    FROM result_releases {where} ORDER BY id
"""
_RELEASE_FIELDS = ("id", "attempt_id", "result_id", "revision", "how", "released_by",
                   "released_at")  # fmt: skip


def _releases(uow: UnitOfWork, keep: bool, release_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params = "", {}
    name: str | None = "records_releases"
    if release_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": release_id}, None
    for row in stream(uow, _RELEASES.format(where=where), params, name):
        document = jsonable(dict(zip(_RELEASE_FIELDS, row, strict=True)))
        yield Record(
            "release",
            str(row[0]),
            "result_release",
            "result.released",
            document_sha256(document),
            body=document if keep else None,
        )


def release(uow: UnitOfWork, release_id: uuid.UUID) -> Record:
    """One release as its row holds it (to anchor when it is recorded)."""
    (record,) = _releases(uow, False, release_id)
    return record


SOURCES = (Source("release", _releases),)
