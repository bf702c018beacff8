"""The proctoring records anchored in the audit log: the event stream of
each submitted attempt and each review decision.

An event stream is a chain (:class:`invigil.audit.records.Chain`) of every
stored event in seq order, the server's own (negative seqs) first: every
column of each, the browser's body and hash included. ``proctoring.sealed``
anchors its head and count at submission; a snapshot re-checked after that
adds the server's finding to the stream and anchors the grown stream again
(``proctoring.rechecked``). A deleted or altered event breaks the head,
and the integrity summary says so. A review decision is its row as a
document, anchored by its ``review.decided`` entry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import ANCHOR, Anchor, Chain, Record, anchor_in, document_sha256
from invigil.db.uow import UnitOfWork

_EVENT_FIELDS = ("seq", "kind", "phase", "at", "ends", "details", "body", "prev", "hash",
                 "linked", "received_at")  # fmt: skip
_EVENTS = """
    SELECT a.id, e.seq, e.kind, e.phase, e.at, e.ends, e.details, e.body, e.prev, e.hash,
           e.linked, e.received_at
    FROM attempts AS a
    LEFT JOIN proctoring_events AS e ON e.tenant_id = a.tenant_id AND e.attempt_id = a.id
    WHERE {where}
    ORDER BY a.id, e.seq
"""


def _streams(uow: UnitOfWork, keep: bool, attempt_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params = "a.status = 'submitted'", {}
    name: str | None = "records_events"
    if attempt_id is not None:
        where, params, name = "a.id = %(attempt)s", {"attempt": attempt_id}, None
    rows = stream(uow, _EVENTS.format(where=where), params, name)
    for attempt, events in groupby(rows, key=lambda r: r[0]):
        chain = Chain("events", str(attempt))
        kept: list[Any] = []
        for row in events:
            if row[1] is None:  # no event at all
                continue
            item = jsonable(dict(zip(_EVENT_FIELDS, row[1:], strict=True)))
            chain.add(item)
            if keep:
                kept.append(item)
        yield Record(
            "events",
            str(attempt),
            "attempt",
            "proctoring.sealed",
            chain.head,
            chain.count,
            body=kept if keep else None,
        )


def event_stream(uow: UnitOfWork, attempt_id: uuid.UUID, keep: bool = False) -> Record:
    """The event stream of one attempt as its rows hold it now."""
    (record,) = _streams(uow, keep, attempt_id)
    return record


_SEALED = """
    SELECT action, subject_id, payload, seq FROM audit_events
    WHERE subject_type = 'attempt' AND subject_id = %(attempt)s
      AND payload->%(key)s->>'kind' = 'events'
    ORDER BY seq DESC LIMIT 1
"""


def sealed(uow: UnitOfWork, attempt_id: uuid.UUID) -> Anchor | None:
    """The latest anchor of an attempt's event stream (None before its seal)."""
    rows = list(stream(uow, _SEALED, {"attempt": str(attempt_id), "key": ANCHOR}))
    return anchor_in(*rows[0]) if rows else None


_DECISIONS = """
    SELECT id, attempt_id, reviewer_id, scope, action_id, decision, reason, supersedes, created_at,
           answers
    FROM review_decisions {where} ORDER BY id
"""
_DECISION_FIELDS = ("id", "attempt_id", "reviewer_id", "scope", "action_id", "decision", "reason",
                    "supersedes", "created_at", "answers")  # fmt: skip


def _decisions(
    uow: UnitOfWork, keep: bool, decision_id: uuid.UUID | None = None
) -> Iterator[Record]:
    where, params = "", {}
    name: str | None = "records_decisions"
    if decision_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": decision_id}, None
    for row in stream(uow, _DECISIONS.format(where=where), params, name):
        document = jsonable(dict(zip(_DECISION_FIELDS, row, strict=True)))
        if document["answers"] is None:
            del document["answers"]  # decisions that answer no contest hash as they always did
        yield Record(
            "review_decision",
            str(row[0]),
            "review_decision",
            "review.decided",
            document_sha256(document),
            body=document if keep else None,
        )


def decision(uow: UnitOfWork, decision_id: uuid.UUID, keep: bool = False) -> Record:
    """One review decision as its row holds it (to anchor when it is recorded)."""
    (record,) = _decisions(uow, keep, decision_id)
    return record


_CONTESTS = """
    SELECT id, attempt_id, action_id, text, attachment_id, attachment_sha256, language, sha256
    FROM proctoring_contests ORDER BY id::text COLLATE "C"
"""
_CONTEST_FIELDS = ("id", "attempt_id", "action_id", "text", "attachment_id", "attachment_sha256",
                   "language", "sha256")  # fmt: skip


def _contests(uow: UnitOfWork, keep: bool) -> Iterator[Record]:
    from invigil.proctoring.contests import ACTION, SUBJECT, contest_document

    for r in stream(uow, _CONTESTS, {}, "records_contests"):
        row = dict(zip(_CONTEST_FIELDS, r, strict=True))
        body = contest_document(row)
        yield Record(SUBJECT, str(row["id"]), SUBJECT, ACTION, document_sha256(body),
                     body=body if keep else None, stated=row["sha256"])  # fmt: skip


SOURCES = (
    Source("events", _streams),
    Source("review_decision", _decisions),
    Source("proctoring_contest", _contests),
)
