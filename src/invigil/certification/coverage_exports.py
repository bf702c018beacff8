"""The coverage summary and matrix as files: CSV or XLSX
(docs/formats/coverage-export.md).

Written with the results exports' writers (:mod:`invigil.results.exports`:
byte order mark, CRLF, every text cell neutralised against spreadsheet
formulas, XLSX in write-only mode). Group, program and people's names are
the tenant's own text, so they pass through the same guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import StreamingResponse

from invigil.certification.coverage import STATUSES, Person, Summary
from invigil.results import exports

FORMATS = exports.FORMATS
VIEWS = ("summary", "matrix")

SUMMARY_HEADER = ["group_id", "group", "kind", "program_id", "program", "members", *STATUSES]
MATRIX_FIXED = ["candidate_id", "name", "email", "external_ref"]


def summary_rows(found: Summary) -> Iterator[list[Any]]:
    for line in found.lines:
        yield [str(line.group_id), line.group_name, line.kind, str(line.program_id),
               line.program_name, line.members, *(line.counts[s] for s in STATUSES)]  # fmt: skip


def matrix_header(programs: list[tuple[Any, str]]) -> list[str]:
    """The fixed columns, then one per required program, named after it
    (the program's id follows in the second header row of neither format:
    names are unique per tenant)."""
    return [*MATRIX_FIXED, *(name for _, name in programs)]


def matrix_rows(programs: list[tuple[Any, str]], people: list[Person]) -> Iterator[list[Any]]:
    """A cell is the status (``expiring_30`` ...), or empty where the
    program is not required of the person."""
    for p in people:
        cells = [p.cells.get(str(pid), {}).get("status", "") for pid, _ in programs]
        yield [str(p.candidate_id), p.name, p.email, p.external_ref, *cells]


def response(
    view: str, fmt: str, head: list[str], rows: Iterator[list[Any]], now: datetime
) -> StreamingResponse:
    """The file as an attachment named after the view and the minute."""
    stamp = now.astimezone(UTC).strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        body, media = exports.table_csv(head, rows), "text/csv; charset=utf-8"
    else:
        sheet = "Coverage" if view == "summary" else "Matrix"
        body, media = exports.table_xlsx(sheet, head, rows), exports.XLSX_TYPE
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="coverage-{view}-{stamp}.{fmt}"',
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
        },
    )
