"""The results records anchored in the audit log: each mark and each release.

A mark or a release is its row as a document, every column but the
tenant's, anchored by the entry that records it: a mark by
``grading.marked``, ``grading.moderated`` or ``grading.regraded`` (record
kind ``mark``), a release by ``result.released`` (record kind ``release``).
``invigil audit verify`` reads the rows back and compares their hashes with
the anchors (:mod:`invigil.audit.anchored`), so a changed total, level,
comment or released revision, or a deleted row, is found (the append-only
triggers stop the app, not someone with the owner's password).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork

MARK_FIELDS = ("id", "attempt_id", "slot", "kind", "grader_id", "marks", "total", "max_points",
                "reason", "created_at")  # fmt: skip
_MARK_RECORDED_BY = {"moderation": "grading.moderated", "regrade": "grading.regraded"}
_RELEASE_FIELDS = ("id", "attempt_id", "result_id", "revision", "how", "released_by",
                   "released_at")  # fmt: skip


def _rows(
    uow: UnitOfWork,
    keep: bool,
    row_id: uuid.UUID | None,
    *,
    kind: str,
    table: str,
    fields: tuple[str, ...],
    recorded_by: Callable[[dict[str, Any]], str],
) -> Iterator[Record]:
    where, params = "", {}
    name: str | None = f"records_{table}"
    if row_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": row_id}, None
    sql = f"SELECT {', '.join(fields)} FROM {table} {where} ORDER BY id"
    for row in stream(uow, sql, params, name):
        document = jsonable(dict(zip(fields, row, strict=True)))
        yield Record(
            kind,
            str(row[0]),
            table.removesuffix("s"),
            recorded_by(document),
            document_sha256(document),
            body=document if keep else None,
        )


def _marks(uow: UnitOfWork, keep: bool, mark_id: uuid.UUID | None = None) -> Iterator[Record]:
    return _rows(
        uow, keep, mark_id, kind="mark", table="grading_marks", fields=MARK_FIELDS,
        recorded_by=lambda d: _MARK_RECORDED_BY.get(d["kind"], "grading.marked"),
    )  # fmt: skip


def _releases(uow: UnitOfWork, keep: bool, release_id: uuid.UUID | None = None) -> Iterator[Record]:
    return _rows(
        uow, keep, release_id, kind="release", table="result_releases", fields=_RELEASE_FIELDS,
        recorded_by=lambda d: "result.released",
    )  # fmt: skip


def mark(uow: UnitOfWork, mark_id: uuid.UUID, keep: bool = False) -> Record:
    """One mark as its row holds it (to anchor when it is recorded)."""
    (record,) = _marks(uow, keep, mark_id)
    return record


def release(uow: UnitOfWork, release_id: uuid.UUID, keep: bool = False) -> Record:
    """One release as its row holds it (to anchor when it is recorded)."""
    (record,) = _releases(uow, keep, release_id)
    return record


SOURCES = (Source("mark", _marks), Source("release", _releases))
