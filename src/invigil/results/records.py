"""The grading records anchored in the audit log: each mark.

A mark is its row as a document, every column but the tenant's, anchored
by the entry that records it (``grading.marked``, ``grading.moderated`` or
``grading.regraded``). ``invigil audit verify`` reads the rows back and
compares their hashes with the anchors, so a changed total, level or
comment, or a deleted mark, is found (:mod:`invigil.audit.anchored`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork

_MARKS = """
    SELECT id, attempt_id, slot, kind, grader_id, marks, total, max_points, reason, created_at
    FROM grading_marks {where} ORDER BY id
"""
_FIELDS = ("id", "attempt_id", "slot", "kind", "grader_id", "marks", "total", "max_points",
           "reason", "created_at")  # fmt: skip
_RECORDED_BY = {"moderation": "grading.moderated", "regrade": "grading.regraded"}


def _marks(uow: UnitOfWork, keep: bool, mark_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params = "", {}
    name: str | None = "records_marks"
    if mark_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": mark_id}, None
    for row in stream(uow, _MARKS.format(where=where), params, name):
        document = jsonable(dict(zip(_FIELDS, row, strict=True)))
        yield Record(
            "mark",
            str(row[0]),
            "grading_mark",
            _RECORDED_BY.get(document["kind"], "grading.marked"),
            document_sha256(document),
            body=document if keep else None,
        )


def mark(uow: UnitOfWork, mark_id: uuid.UUID) -> Record:
    """One mark as its row holds it (to anchor when it is recorded)."""
    (record,) = _marks(uow, False, mark_id)
    return record


SOURCES = (Source("mark", _marks),)
