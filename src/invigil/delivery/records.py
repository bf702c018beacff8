"""The delivery records anchored in the audit log: each result revision,
the final answer sheet of each submitted attempt, and each consent given or
declined.

A result is its document, with the columns the API serves (points, percent,
passed, needs grading) read back into it: an honest row gives back the
document exactly, so its hash is the ``document_sha256`` that
``result.recorded`` has anchored from the start; a changed column or a
changed document gives another hash. An answer sheet is a chain of its
answers in slot order (:class:`invigil.audit.records.Chain`), anchored by
``attempt.submitted``. A consent is its row as a document, every column
but the tenant's, anchored by ``consent.given`` or ``consent.declined``;
its ``text_sha256`` must also be the sha256 of its ``text``.
``invigil audit verify`` reads both from the rows and
compares them with their anchors (:mod:`invigil.audit.anchored`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Chain, Record, digest_flaw, document_sha256, witnessed
from invigil.db.uow import UnitOfWork

# The columns of attempt_results that repeat a field of its document.
RESULT_COLUMNS = {
    "awarded": "awarded",
    "max_points": "max",
    "percent": "percent",
    "passed": "passed",
    "needs_grading": "needs_grading",
}

_RESULTS = """
    SELECT id, awarded, max_points, percent, passed, needs_grading, document, document_sha256
    FROM attempt_results ORDER BY id
"""


def _results(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
    for row in stream(uow, _RESULTS, {}, "records_results"):
        result_id, document, stored_sha = row[0], row[6], row[7]
        columns = dict(zip(RESULT_COLUMNS, row[1:6], strict=True))
        served = dict(document)
        differ = []
        for column, value in columns.items():
            field = RESULT_COLUMNS[column]
            served[field] = jsonable(value)
            if served[field] != document.get(field):
                differ.append(column)
        note = f"column {', '.join(differ)} disagrees with its document" if differ else None
        yield Record(
            "result",
            str(result_id),
            "attempt_result",
            "result.recorded",
            document_sha256(served),
            note=note or "its document was changed",
            body=served if keep else None,
            stated=stored_sha,
        )


_ANSWERS = """
    SELECT a.id, x.slot, x.response, x.flagged, x.seq, x.time_ms, x.client_time, x.late,
           x.saved_at
    FROM attempts AS a
    LEFT JOIN attempt_answers AS x ON x.tenant_id = a.tenant_id AND x.attempt_id = a.id
    WHERE {where}
    ORDER BY a.id, x.slot
"""
_ANSWER_FIELDS = ("slot", "response", "flagged", "seq", "time_ms", "client_time", "late",
                  "saved_at")  # fmt: skip


def _sheets(uow: UnitOfWork, keep: bool, attempt_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params = "a.status = 'submitted'", {}
    name: str | None = "records_answers"
    if attempt_id is not None:
        where, params, name = "a.id = %(attempt)s", {"attempt": attempt_id}, None
    rows = stream(uow, _ANSWERS.format(where=where), params, name)
    for attempt, answers in groupby(rows, key=lambda r: r[0]):
        chain = Chain("answers", str(attempt))
        kept: list[Any] = []
        for row in answers:
            if row[1] is None:  # no answer at all (the left join's empty side)
                continue
            item = jsonable(dict(zip(_ANSWER_FIELDS, row[1:], strict=True)))
            chain.add(item)
            if keep:
                kept.append(item)
        yield Record(
            "answers",
            str(attempt),
            "attempt",
            "attempt.submitted",
            chain.head,
            chain.count,
            body=kept if keep else None,
        )


def answer_sheet(uow: UnitOfWork, attempt_id: uuid.UUID, keep: bool = False) -> Record:
    """The answer sheet of one attempt as its rows hold it (to anchor at
    submission; with its items when ``keep``, for an evidence bundle)."""
    (sheet,) = _sheets(uow, keep, attempt_id)
    return sheet


_CONSENTS = """
    SELECT id, invitation_id, attempt_id, decision, text, text_sha256, language, captures,
           address, user_agent, created_at
    FROM consents {where} ORDER BY id
"""
_CONSENT_FIELDS = ("id", "invitation_id", "attempt_id", "decision", "text", "text_sha256",
                   "language", "captures", "address", "user_agent", "created_at")  # fmt: skip


def _consents(uow: UnitOfWork, keep: bool, consent_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params = "", {}
    name: str | None = "records_consents"
    if consent_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": consent_id}, None
    for row in stream(uow, _CONSENTS.format(where=where), params, name):
        document = jsonable(dict(zip(_CONSENT_FIELDS, row, strict=True)))
        yield Record(
            "consent",
            str(row[0]),
            "consent",
            f"consent.{document['decision']}",
            document_sha256(document),
            body=document if keep else None,
            flaw=digest_flaw("consent", document),
            witnessed=witnessed("consent", document),
        )


def consent(uow: UnitOfWork, consent_id: uuid.UUID, keep: bool = False) -> Record:
    """One consent as its row holds it (to anchor when it is recorded)."""
    (record,) = _consents(uow, keep, consent_id)
    return record


SOURCES = (
    Source("result", _results),
    Source("answers", _sheets),
    Source("consent", _consents),
)
