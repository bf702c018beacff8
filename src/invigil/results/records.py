"""The results records anchored in the audit log: each mark, each release,
each AI suggestion of rubric marks and each discard of one.

A mark or a release is its row as a document, every column but the
tenant's, anchored by the entry that records it: a mark by
``grading.marked``, ``grading.moderated`` or ``grading.regraded`` (record
kind ``mark``), a release by ``result.released`` (record kind ``release``),
a suggestion by ``grading.suggested`` (kind ``rubric_suggestion``), a
discard by ``grading.suggestion_discarded`` (kind ``suggestion_discard``).
A mark's AI columns (added with suggestions) enter its document only when
set, so marks anchored before they existed still verify.
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
AI_MARK_FIELDS = ("ai_suggestion_id", "ai_influence")
SUGGESTION_FIELDS = ("id", "attempt_id", "slot", "requested_by", "usage_id", "criteria",
                     "overall_rationale", "total", "max_points", "created_at")  # fmt: skip
_DISCARD_FIELDS = ("id", "suggestion_id", "discarded_by", "created_at")
_RELEASE_FIELDS = ("id", "attempt_id", "result_id", "revision", "how", "released_by",
                   "released_at")  # fmt: skip


def without_unset_ai(document: dict[str, Any]) -> dict[str, Any]:
    """A mark's document keeps its AI columns only when set (see the module docstring)."""
    return {k: v for k, v in document.items() if not (k in AI_MARK_FIELDS and v is None)}


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
        document = without_unset_ai(jsonable(dict(zip(fields, row, strict=True))))
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
        uow, keep, mark_id, kind="mark", table="grading_marks", fields=MARK_FIELDS + AI_MARK_FIELDS,
        recorded_by=lambda d: _MARK_RECORDED_BY.get(d["kind"], "grading.marked"),
    )  # fmt: skip


def _releases(uow: UnitOfWork, keep: bool, release_id: uuid.UUID | None = None) -> Iterator[Record]:
    return _rows(
        uow, keep, release_id, kind="release", table="result_releases", fields=_RELEASE_FIELDS,
        recorded_by=lambda d: "result.released",
    )  # fmt: skip


def _suggestions(
    uow: UnitOfWork, keep: bool, suggestion_id: uuid.UUID | None = None
) -> Iterator[Record]:
    return _rows(
        uow, keep, suggestion_id, kind="rubric_suggestion", table="rubric_suggestions",
        fields=SUGGESTION_FIELDS, recorded_by=lambda d: "grading.suggested",
    )  # fmt: skip


def _discards(uow: UnitOfWork, keep: bool, discard_id: uuid.UUID | None = None) -> Iterator[Record]:
    return _rows(
        uow, keep, discard_id, kind="suggestion_discard", table="rubric_suggestion_discards",
        fields=_DISCARD_FIELDS, recorded_by=lambda d: "grading.suggestion_discarded",
    )  # fmt: skip


def suggestion(uow: UnitOfWork, suggestion_id: uuid.UUID, keep: bool = False) -> Record:
    """One suggestion as its row holds it (to anchor when it is recorded)."""
    (record,) = _suggestions(uow, keep, suggestion_id)
    return record


def discard(uow: UnitOfWork, discard_id: uuid.UUID, keep: bool = False) -> Record:
    (record,) = _discards(uow, keep, discard_id)
    return record


def mark(uow: UnitOfWork, mark_id: uuid.UUID, keep: bool = False) -> Record:
    """One mark as its row holds it (to anchor when it is recorded)."""
    (record,) = _marks(uow, keep, mark_id)
    return record


def release(uow: UnitOfWork, release_id: uuid.UUID, keep: bool = False) -> Record:
    """One release as its row holds it (to anchor when it is recorded)."""
    (record,) = _releases(uow, keep, release_id)
    return record


SOURCES = (
    Source("mark", _marks),
    Source("release", _releases),
    Source("rubric_suggestion", _suggestions),
    Source("suggestion_discard", _discards),
)
