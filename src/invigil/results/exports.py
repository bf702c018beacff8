"""The results view of one exam as a file: CSV or XLSX, the same rows in
the same order as the page or the API shows with the same filters, streamed
with constant memory (docs/formats/results-export.md).

Rows come through a server-side cursor (``yield_per``) in a unit of work
of their own, opened when the response starts sending: the request's unit
of work has committed by then. The CSV goes out line by line; an XLSX is a
ZIP whose directory comes last, so it is written (openpyxl's write-only
mode, rows flushed to disk as they come) into a temporary file and then
sent from it: memory stays flat, the disk holds one compressed copy until
the response ends.

Every text cell that a spreadsheet would read as a formula (it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a
quote in front (:mod:`invigil.security.safe_csv`), in the XLSX too: openpyxl
stores a string starting with ``=`` as a formula.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import StreamingResponse
from openpyxl import Workbook
from sqlalchemy import Select

from invigil.db.uow import UnitOfWork
from invigil.results.listing import Row, row
from invigil.security import safe_csv

BATCH = 1000  # rows per fetch from the server-side cursor
CHUNK = 64 * 1024  # bytes per piece of the response
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("csv", "xlsx")

Opener = Callable[[], AbstractContextManager[UnitOfWork]]


def header(identities: bool) -> list[str]:
    """The column names (stable, English: a program reads them)."""
    who = ["candidate_name", "candidate_email"] if identities else []
    return [
        "attempt_id",
        "pseudonym",
        *who,
        "attempt",
        "status",
        "score",
        "max_score",
        "percentage",
        "passed",
        "integrity",
        "time_taken_seconds",
        "submitted_at",
        "grading",
    ]


def cells(r: Row, identities: bool) -> list[Any]:
    """One row's values, typed (numbers, booleans, times in UTC)."""
    who = [r.name, r.email] if identities else []
    return [
        str(r.attempt_id),
        r.pseudonym,
        *who,
        r.number,
        "voided" if r.voided else r.status,
        r.awarded,
        r.max_points,
        r.percent,
        r.passed,
        r.integrity,
        r.seconds_taken,
        r.submitted_at.astimezone(UTC) if r.submitted_at is not None else None,
        r.grading,
    ]


def rows(open_uow: Opener, stmt: Select[*tuple[Any, ...]]) -> Iterator[Row]:
    """Every row of ``stmt``, fetched :data:`BATCH` at a time."""
    with open_uow() as uow:
        for values in uow.session.execute(stmt.execution_options(yield_per=BATCH)):
            yield row(values)


def _csv_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds").replace("+00:00", "Z")
    return value


def table_csv(head: list[str], found: Iterable[list[Any]]) -> Iterator[bytes]:
    """Any table as CSV: UTF-8 with a byte order mark (spreadsheets then
    read it as UTF-8), CRLF line ends, every cell neutralised."""
    pending = ["\ufeff"]
    size = 0
    for line in safe_csv.lines(head, ([_csv_text(c) for c in r] for r in found)):
        pending.append(line)
        size += len(line)
        if size >= CHUNK:
            yield "".join(pending).encode()
            pending, size = [], 0
    yield "".join(pending).encode()


def csv_bytes(found: Iterator[Row], identities: bool) -> Iterator[bytes]:
    return table_csv(header(identities), (cells(r, identities) for r in found))


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, str):
        return safe_csv.neutralise(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # the header says UTC; XLSX has no zones
    if isinstance(value, Decimal):
        return float(value)  # two decimals at most: exact enough as a double
    return value


def table_xlsx(sheet: str, head: list[str], found: Iterable[list[Any]]) -> Iterator[bytes]:
    """Any table as one XLSX sheet, written to a temporary file as it comes."""
    with tempfile.TemporaryFile() as out:
        book = Workbook(write_only=True)
        page = book.create_sheet(sheet)
        page.append(head)
        for r in found:
            page.append([_xlsx_cell(c) for c in r])
        book.save(out)
        out.seek(0)
        while piece := out.read(CHUNK):
            yield piece


def xlsx_bytes(found: Iterator[Row], identities: bool) -> Iterator[bytes]:
    """One sheet, ``Results``: the header, then one row per attempt."""
    return table_xlsx("Results", header(identities), (cells(r, identities) for r in found))


def response(
    fmt: str,
    exam_id: uuid.UUID,
    open_uow: Opener,
    stmt: Select[*tuple[Any, ...]],
    *,
    identities: bool,
) -> StreamingResponse:
    """The export as an attachment named after the exam and the minute."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    found = rows(open_uow, stmt)
    if fmt == "csv":
        body, media = csv_bytes(found, identities), "text/csv; charset=utf-8"
    else:
        body, media = xlsx_bytes(found, identities), XLSX_TYPE
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="results-{exam_id}-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
