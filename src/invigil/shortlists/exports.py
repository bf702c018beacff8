"""A shortlist run as a file: CSV or XLSX (docs/formats/shortlist-export.md).

One row per candidate considered, in the run's order: the ranked ones by
rank, then the excluded ones with the first rule they failed; each with the
rules met, in words and numbers, and the current stage. Written with the
results exports' writers (:mod:`invigil.results.exports`: byte order mark,
CRLF, every text cell neutralised against spreadsheet formulas, XLSX in
write-only mode). Names and emails only for a viewer holding
``candidate:view``; everyone else reads the pseudonym.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import StreamingResponse
from sqlalchemy import select

from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Candidate
from invigil.results import exports
from invigil.results.pseudonyms import code_of
from invigil.shortlists.service import RunView

FORMATS = exports.FORMATS


def describe(reason: dict[str, Any], met: bool = True) -> str:
    """One rule's reason in plain English (stable: programs may read it)."""
    rule = reason.get("rule")
    actual = reason.get("actual")
    need = reason.get("required")
    if rule == "final":
        return "final result" if met else f"not final yet ({actual})"
    if rule == "pass_required":
        return "passed" if actual else "not passed" if actual is False else "no pass decided"
    if rule == "min_percent":
        return f"{actual}% {'>=' if met else '<'} {need}%" if actual else f"no score < {need}%"
    if rule == "min_category_percent":
        name = reason.get("category")
        if actual is None:
            return f"{name}: no score"
        return f"{name} {actual}% {'>=' if met else '<'} {need}%"
    if rule == "integrity_allowed":
        return f"integrity {actual} {'in' if met else 'not in'} {', '.join(need or [])}"
    if rule == "max_minutes":
        took = reason.get("actual_seconds")
        if took is None:
            return "no time taken"
        return f"{took // 60} min {took % 60} s {'<=' if met else '>'} {need} min"
    if rule == "top_n":
        return f"rank {actual} {'within' if met else 'beyond'} top {need}"
    return str(rule)


def header(identities: bool) -> list[str]:
    who = ["candidate_name", "candidate_email"] if identities else []
    return ["run_id", "position", "rank", "status", "attempt_id", "pseudonym", *who,
            "exam_id", "exam", "percentage", "passed", "integrity", "time_taken_seconds",
            "submitted_at", "stage", "rules_met", "failed_rule", "failed_reason"]  # fmt: skip


def rows(uow: UnitOfWork, found: RunView, identities: bool) -> list[list[Any]]:
    """Every entry's cells, read now (the file is small: one row a candidate)."""
    everyone = [*found.ranked, *found.excluded]
    titles = dict(uow.session.execute(select(Exam.id, Exam.slug).where(
        Exam.id.in_({e.exam_id for e in everyone}))).all())  # fmt: skip
    people: dict[uuid.UUID, tuple[str, str]] = {}
    if identities:
        people = {i: (n, m) for i, n, m in uow.session.execute(
            select(Candidate.id, Candidate.name, Candidate.email).where(
                Candidate.id.in_({e.candidate_id for e in everyone})))}  # fmt: skip
    out = []
    for e in everyone:
        who = list(people.get(e.candidate_id, ("", ""))) if identities else []
        stage = found.stages.get(e.attempt_id)
        out.append([
            str(found.run.id), e.position, e.rank, "shortlisted" if e.rank else "excluded",
            str(e.attempt_id), code_of(e.attempt_id), *who, str(e.exam_id),
            titles.get(e.exam_id, ""), e.percent, e.passed, e.integrity, e.seconds,
            e.submitted_at.astimezone(UTC) if e.submitted_at else None,
            stage.stage if stage else None,
            "; ".join(describe(m) for m in e.met),
            e.failed["rule"] if e.failed else None,
            describe(e.failed, met=False) if e.failed else None,
        ])  # fmt: skip
    return out


def response(uow: UnitOfWork, fmt: str, found: RunView, *, identities: bool) -> StreamingResponse:
    table = rows(uow, found, identities)
    body: Iterator[bytes]
    if fmt == "csv":
        body, media = exports.table_csv(header(identities), table), "text/csv; charset=utf-8"
    else:
        body = exports.table_xlsx("Shortlist", header(identities), table)
        media = exports.XLSX_TYPE
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": (
                f'attachment; filename="shortlist-{found.run.id}-{stamp}.{fmt}"'
            ),
            "Cache-Control": "no-store",
        },
    )
