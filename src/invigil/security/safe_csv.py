"""The one way Invigil writes CSV: safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula to Excel, LibreOffice and Google Sheets (CSV injection:
``=HYPERLINK(...)`` in a question's prompt or a candidate's name runs on the
reviewer's machine). Following OWASP, such a cell is written with a single
quote in front, which spreadsheets show as plain text. A cell that starts
with a quote gets one more, so :func:`restore` can undo exactly what
:func:`neutralise` did and an importer reads back the text that was exported.
A test keeps every other CSV writer out of ``src/``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence

QUOTE = "'"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    """``cell`` as a spreadsheet shows it as text (see the module's docstring)."""
    return QUOTE + cell if cell.startswith((*FORMULA, QUOTE)) else cell


def restore(cell: str) -> str:
    """The text :func:`neutralise` was given. A leading quote followed by
    anything else is left alone: people write "'Twas" by hand."""
    if cell.startswith(QUOTE) and cell[1:2] and cell[1:2] in (*FORMULA, QUOTE):
        return cell[1:]
    return cell


def dump(header: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """A CSV document (CRLF line ends, as RFC 4180 says): the header row,
    then each row's cells in the header's order (missing: empty), every
    cell neutralised."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([neutralise(name) for name in header])
    for row in rows:
        writer.writerow([neutralise(_text(row.get(name))) for name in header])
    return buf.getvalue()


def lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The same document as :func:`dump`, one CSV line at a time (rows as
    sequences in the header's order): for an export that streams with
    constant memory."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def line(cells: Iterable[object]) -> str:
        buf.seek(0)
        buf.truncate()
        writer.writerow([neutralise(_text(c)) for c in cells])
        return buf.getvalue()

    yield line(header)
    for row in rows:
        yield line(row)


def _text(value: object) -> str:
    return "" if value is None else str(value)
