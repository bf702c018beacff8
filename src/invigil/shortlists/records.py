"""The shortlist records anchored in the audit log (ADR 0014): each rule set
version, each run and each stage change.

A run's record is one document: the run row (the frozen rules and their
sha256, the cohort's exams, the counts) and its ordered list, each entry by
position, attempt and the sha256 of the entry's row as a document (rank,
numbers, the rules met or the first rule failed). Each entry row also keeps
that sha256 as written: when the run no longer hashes to its anchor, the
first entry whose columns no longer hash to their stored sha256 is named.
A rule set version is its row (the rules must still hash to its
``rules_sha256``), a stage change its row. ``invigil audit verify`` reads
the rows back and compares (:mod:`invigil.audit.anchored`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork

RUN_FIELDS = ("id", "rule_set_version_id", "position_id", "exam_ids", "rules", "rules_sha256",
              "rerun_of", "run_by", "completed_at", "considered", "shortlisted")  # fmt: skip
ENTRY_FIELDS = ("run_id", "position", "attempt_id", "exam_id", "candidate_id", "rank", "percent",
                "passed", "integrity", "seconds", "submitted_at", "categories", "met",
                "failed")  # fmt: skip
STAGE_FIELDS = ("id", "run_id", "attempt_id", "seq", "from_stage", "stage", "note", "changed_by",
                "changed_at")  # fmt: skip
RULES_FIELDS = ("id", "rule_set_id", "version", "rules", "rules_sha256", "created_by")


def entry_sha256(values: dict[str, Any]) -> str:
    """The sha256 of one entry as a document (``ENTRY_FIELDS``)."""
    return document_sha256(jsonable({f: values[f] for f in ENTRY_FIELDS}))


def _runs(uow: UnitOfWork, keep: bool, run_id: uuid.UUID | None = None) -> Iterator[Record]:
    run_cols = ", ".join(f"r.{f}" for f in RUN_FIELDS)
    entry_cols = ", ".join(f"e.{f}" for f in (*ENTRY_FIELDS, "sha256"))
    where, params, name = "", {}, "records_shortlist_runs"
    if run_id is not None:
        where, params, name = "WHERE r.id = %(id)s", {"id": run_id}, None  # type: ignore[assignment]
    sql = (
        f"SELECT {run_cols}, {entry_cols} FROM shortlist_runs r "
        "LEFT JOIN shortlist_entries e ON e.tenant_id = r.tenant_id AND e.run_id = r.id "
        f"{where} ORDER BY r.id, e.position"
    )
    n = len(RUN_FIELDS)
    for _, group in groupby(stream(uow, sql, params, name), key=lambda row: row[0]):
        rows = list(group)
        document = jsonable(dict(zip(RUN_FIELDS, rows[0][:n], strict=True)))
        entries, note = [], None
        for row in rows:
            if row[n] is None:
                continue  # a run that considered nobody
            values = dict(zip(ENTRY_FIELDS, row[n : n + len(ENTRY_FIELDS)], strict=True))
            digest = entry_sha256(values)
            entries.append([values["position"], str(values["attempt_id"]), digest])
            if note is None and digest != row[-1]:
                note = (
                    f"entry {values['position']} (attempt {values['attempt_id']}) no longer "
                    "hashes to the sha256 stored with it"
                )
        document["entries"] = entries
        yield Record(
            "shortlist_run",
            document["id"],
            "shortlist_run",
            "shortlist.run_completed",
            document_sha256(document),
            note=note,
            body=document if keep else None,
        )


def _simple(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None, *, kind: str, table: str,
            fields: tuple[str, ...], subject: str, action: str) -> Iterator[Record]:  # fmt: skip
    where, params, name = "", {}, f"records_{table}"
    if row_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": row_id}, None  # type: ignore[assignment]
    sql = f"SELECT {', '.join(fields)} FROM {table} {where} ORDER BY id"
    for row in stream(uow, sql, params, name):
        document = jsonable(dict(zip(fields, row, strict=True)))
        flaw = None
        if (
            kind == "shortlist_rules"
            and document_sha256(document["rules"]) != document["rules_sha256"]
        ):
            flaw = "its rules no longer hash to its rules_sha256"
        yield Record(kind, str(row[0]), subject, action, document_sha256(document),
                     body=document if keep else None, flaw=flaw)  # fmt: skip


def _stages(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    return _simple(uow, keep, row_id, kind="shortlist_stage", table="shortlist_stage_changes",
                   fields=STAGE_FIELDS, subject="shortlist_stage_change",
                   action="shortlist.stage_changed")  # fmt: skip


def _rules(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    return _simple(uow, keep, row_id, kind="shortlist_rules", table="shortlist_rule_set_versions",
                   fields=RULES_FIELDS, subject="shortlist_rule_set_version",
                   action="shortlist.rules_versioned")  # fmt: skip


def run(uow: UnitOfWork, run_id: uuid.UUID, keep: bool = False) -> Record:
    """One run as its rows hold it (to anchor when it is recorded; ``keep``:
    with its document, for an evidence bundle)."""
    (record,) = _runs(uow, keep, run_id)
    return record


def stage_change(uow: UnitOfWork, change_id: uuid.UUID, keep: bool = False) -> Record:
    (record,) = _stages(uow, keep, change_id)
    return record


def rules_version(uow: UnitOfWork, version_id: uuid.UUID, keep: bool = False) -> Record:
    (record,) = _rules(uow, keep, version_id)
    return record


SOURCES = (
    Source("shortlist_rules", _rules),
    Source("shortlist_run", _runs),
    Source("shortlist_stage", _stages),
)
