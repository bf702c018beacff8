"""The one data table of the staff pages: sort, search, filters, page size,
first / previous / next by keyset cursors, and a CSV export of the same view.

Every list page declares a :class:`Table` (its columns, which of them sort,
what the search box matches, its filters) and hands it a ``SELECT``; this
module reads the query string, refuses anything out of bounds with a 400
that names the parameter (never a 500, never a silently ignored value), and
runs the query ordered by the chosen column with the row's id as tiebreak.
Paging is by keyset (:class:`invigil.pagination.Keyset`): a cursor holds the
sort it was made for and the key of the row it starts after (``n``: the
next page) or before (``p``: the previous page, read in reversed order),
so pages stay stable while rows are added and never skip or repeat a row.
The CSV export runs the same filtered, sorted query from the start and
writes through :mod:`invigil.security.safe_csv` (no cell becomes a formula).
The template side is one macro, ``_table.html``. A table's words (caption,
column and filter labels, options, empty states) are written ``N_("...")``
where the table is declared and shown in the reader's language by the macro.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response
from sqlalchemy import Select, or_

from invigil.db.uow import UnitOfWork
from invigil.errors import DomainError, Invalid
from invigil.i18n import N_
from invigil.pagination import Keyset, decode_cursor, encode_cursor, plain_key
from invigil.security import safe_csv

SIZES = (10, 25, 50, 100)
DEFAULT_SIZE = 25
MAX_SEARCH = 100
MAX_CURSOR = 500
MAX_VALUE = 100
MAX_EXPORT = 10_000
NEXT, PREVIOUS = "n", "p"


class BadParameter(DomainError):
    """A query parameter out of bounds: a 400 that names it."""

    status = 400
    slug = "bad-parameter"

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(f"the parameter \u201c{name}\u201d is not valid: {detail}", parameter=name)


@dataclass(frozen=True)
class Column:
    """One column. ``sort``: the SQL expression it sorts by (None: not
    sortable), ``parse`` turning a cursor's value back into its type;
    ``nullable`` if that expression may be NULL (NULLs sort last);
    ``export``: the cell's text in the CSV export (None: not exported)."""

    key: str
    label: str
    sort: Any = None
    parse: Callable[[Any], Any] = str
    nullable: bool = False
    export: Callable[[Any], object] | None = None
    numeric: bool = False


@dataclass(frozen=True)
class Filter:
    """A select above the table. ``options``: (value, label) pairs, the
    only values accepted (None: a text field, at most :data:`MAX_VALUE`
    characters, which ``check`` may refuse by raising ``Invalid``);
    ``apply`` narrows the query to one value."""

    name: str
    label: str
    options: Sequence[tuple[str, str]] | None
    apply: Callable[[Any, str], Any]
    all_label: str = N_("All")
    check: Callable[[str], object] | None = None
    hint: str = ""


@dataclass(frozen=True)
class Table:
    """A list page's table. ``path``: the page's URL (links are built on
    it); ``id``: the unique tiebreak (a UUID column); ``default_sort``: a
    column key, ``-key`` for descending; ``search``: the expressions the
    search box matches (case-insensitive, anywhere in the text)."""

    name: str
    path: str
    caption: str
    columns: Sequence[Column]
    id: Any
    default_sort: str
    search: Sequence[Any] = ()
    search_label: str = N_("Search")
    filters: Sequence[Filter] = ()
    empty: str = N_("Nothing here yet.")
    empty_filtered: str = N_("Nothing matches this search or these filters.")
    export: bool = True

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key and c.sort is not None), None)


@dataclass(frozen=True)
class View:
    """What the query string asked for, validated."""

    table: Table
    sort: str
    descending: bool
    size: int
    q: str = ""
    filters: Mapping[str, str] = field(default_factory=dict)
    cursor: tuple[str, tuple[Any, ...]] | None = None
    csv: bool = False

    @property
    def sort_param(self) -> str:
        return ("-" if self.descending else "") + self.sort

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.filters)

    def params(self, **changes: Any) -> dict[str, str]:
        """The view's query parameters (defaults left out), with ``changes``."""
        out: dict[str, str] = {}
        if self.q:
            out["q"] = self.q
        out.update(self.filters)
        if self.sort_param != self.table.default_sort:
            out["sort"] = self.sort_param
        if self.size != DEFAULT_SIZE:
            out["size"] = str(self.size)
        for name, value in changes.items():
            if value is None or value == "":
                out.pop(name, None)
            else:
                out[name] = str(value)
        if out.get("sort") == self.table.default_sort:
            del out["sort"]
        if out.get("size") == str(DEFAULT_SIZE):
            del out["size"]
        return out

    def href(self, **changes: Any) -> str:
        query = urlencode(self.params(**changes))
        return self.table.path + ("?" + query if query else "")


def _one(params: Mapping[str, str], name: str, limit: int) -> str:
    value = params.get(name, "")
    if len(value) > limit:
        raise BadParameter(name, f"it has at most {limit} characters")
    return value


def read(table: Table, params: Mapping[str, str]) -> View:
    """The view the query string asks for; :class:`BadParameter` when a
    parameter is out of bounds. Parameters the table does not know are left
    to the page (a notice key, say)."""
    sort = _one(params, "sort", MAX_VALUE) or table.default_sort
    descending = sort.startswith("-")
    if table.column(sort.removeprefix("-")) is None:
        sortable = ", ".join(c.key for c in table.columns if c.sort is not None)
        raise BadParameter("sort", f"sort by one of {sortable} (with - in front: descending)")
    size_text = _one(params, "size", 3) or str(DEFAULT_SIZE)
    if not size_text.isdigit() or int(size_text) not in SIZES:
        raise BadParameter("size", "show " + ", ".join(map(str, SIZES)) + " rows per page")
    q = _one(params, "q", MAX_SEARCH).strip()
    if q and not table.search:
        raise BadParameter("q", "this table has no search")
    filters: dict[str, str] = {}
    for f in table.filters:
        value = _one(params, f.name, MAX_VALUE).strip()
        if value and f.options is not None and value not in {v for v, _ in f.options}:
            raise BadParameter(f.name, f"choose {f.label.lower()} from the list")
        if value and f.check is not None:
            try:
                f.check(value)
            except Invalid as exc:
                raise BadParameter(f.name, exc.detail) from None
        if value:
            filters[f.name] = value
    fmt = _one(params, "format", 8)
    if fmt not in ("", "csv") or (fmt and not table.export):
        raise BadParameter("format", "the only export is format=csv")
    view = View(table, sort.removeprefix("-"), descending, int(size_text), q, filters)
    cursor = _one(params, "cursor", MAX_CURSOR)
    if cursor and not fmt:
        view = replace(view, cursor=_cursor(view, cursor))
    return replace(view, csv=fmt == "csv")


def _cursor(view: View, cursor: str) -> tuple[str, tuple[Any, ...]]:
    try:
        values = decode_cursor(cursor)
        if values is None or len(values) != 3 or values[0] not in (NEXT, PREVIOUS):
            raise Invalid("malformed")
        if values[1] != view.sort_param:
            raise BadParameter("cursor", "it belongs to another sort order; start again without it")
        key = _keyset(view).values(values[2] if isinstance(values[2], list) else [])
    except Invalid:
        raise BadParameter(
            "cursor", "it is not one this page made; start again without it"
        ) from None
    return values[0], key


def _keyset(view: View) -> Keyset:
    column = view.table.column(view.sort)
    assert column is not None  # read() checked it
    return Keyset(
        column.sort,
        view.table.id,
        parse=(column.parse, uuid.UUID),
        descending=view.descending,
        nullable=(column.nullable, False),
    )


def _narrow(view: View, stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    if view.q:
        pattern = "%" + view.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(or_(*(e.ilike(pattern, escape="\\") for e in view.table.search)))
    for f in view.table.filters:
        if f.name in view.filters:
            stmt = f.apply(stmt, view.filters[f.name])
    return stmt


def _rows(
    uow: UnitOfWork, stmt: Select[*tuple[Any, ...]]
) -> list[tuple[tuple[Any, ...], list[Any]]]:
    """Each row without its two trailing key columns, and its key."""
    out = []
    for row in uow.session.execute(stmt):
        values = tuple(row)
        out.append((values[:-2], [values[-2], values[-1]]))
    return out


@dataclass(frozen=True)
class Shown:
    """One page of a table, for ``_table.html``."""

    view: View
    rows: list[Any]
    first_href: str | None
    prev_href: str | None
    next_href: str | None

    @property
    def table(self) -> Table:
        return self.view.table

    def sort_href(self, column: Column) -> str:
        if column.key == self.view.sort:
            flipped = ("" if self.view.descending else "-") + column.key
            return self.view.href(sort=flipped, cursor=None)
        return self.view.href(sort=column.key, cursor=None)

    def aria_sort(self, column: Column) -> str | None:
        if column.key != self.view.sort:
            return None
        return "descending" if self.view.descending else "ascending"

    def with_rows(self, rows: list[Any]) -> Shown:
        """The same page, each row made into what the template shows."""
        return replace(self, rows=rows)

    def size_options(self) -> Sequence[int]:
        return SIZES

    @property
    def clear_href(self) -> str:
        """The same sort and size, no search and no filter."""
        return self.view.href(q=None, cursor=None, **dict.fromkeys(self.view.filters))

    @property
    def csv_href(self) -> str:
        return self.view.href(format="csv", cursor=None)


def _unwrap(values: tuple[Any, ...]) -> Any:
    return values[0] if len(values) == 1 else values


@dataclass(frozen=True)
class Paged:
    """One page of rows and the cursors of its neighbours (None: no such
    page), for an API that answers cursors rather than links."""

    rows: list[Any]
    prev_cursor: str | None
    next_cursor: str | None


def page(uow: UnitOfWork, view: View, stmt: Select[*tuple[Any, ...]]) -> Paged:
    """One page of ``stmt`` narrowed, sorted and paged as ``view`` says."""
    order = _keyset(view)
    column = view.table.column(view.sort)
    assert column is not None
    keyed = _narrow(view, stmt).add_columns(column.sort, view.table.id)
    direction, after = view.cursor if view.cursor is not None else (NEXT, None)
    walk = order if direction == NEXT else order.reversed()
    found = _rows(uow, walk.apply_after(keyed, after, view.size))
    more = len(found) > view.size
    found = found[: view.size]
    if direction == PREVIOUS:
        found.reverse()
    has_prev = more if direction == PREVIOUS else view.cursor is not None
    has_next = more if direction == NEXT else True
    if not found:  # an emptied page (rows deleted under a cursor): offer a fresh start
        has_prev, has_next = view.cursor is not None, False

    def cursor(kind: str, key: list[Any]) -> str:
        return encode_cursor([kind, view.sort_param, plain_key(key)])

    return Paged(
        rows=[_unwrap(values) for values, _ in found],
        prev_cursor=cursor(PREVIOUS, found[0][1]) if has_prev and found else None,
        next_cursor=cursor(NEXT, found[-1][1]) if has_next and found else None,
    )


def fetch(uow: UnitOfWork, view: View, stmt: Select[*tuple[Any, ...]]) -> Shown:
    """One page of ``stmt`` narrowed, sorted and paged as ``view`` says."""
    found = page(uow, view, stmt)
    return Shown(
        view=view,
        rows=found.rows,
        first_href=view.href(cursor=None) if view.cursor is not None else None,
        prev_href=view.href(cursor=found.prev_cursor) if found.prev_cursor else None,
        next_href=view.href(cursor=found.next_cursor) if found.next_cursor else None,
    )


def ordered(view: View, stmt: Select[*tuple[Any, ...]]) -> Select[*tuple[Any, ...]]:
    """Every row of the view (same search, filters and order; no paging):
    for an export that streams it through a server-side cursor."""
    return _keyset(view).apply_after(_narrow(view, stmt), None, None)


def all_rows(uow: UnitOfWork, view: View, stmt: Select[*tuple[Any, ...]]) -> list[Any]:
    """Every row of the view (same search, filters and order; no paging),
    for an export; :class:`BadParameter` beyond :data:`MAX_EXPORT` rows."""
    order = _keyset(view)
    column = view.table.column(view.sort)
    assert column is not None
    keyed = _narrow(view, stmt).add_columns(column.sort, view.table.id)
    found = _rows(uow, order.apply_after(keyed, None, MAX_EXPORT))
    if len(found) > MAX_EXPORT:
        raise BadParameter(
            "format", f"the export holds at most {MAX_EXPORT} rows; narrow the view first"
        )
    return [_unwrap(values) for values, _ in found]


def csv_response(view: View, rows: Sequence[Any]) -> Response:
    """``rows`` as CSV, one column per exported column, every cell safe."""
    columns = [(c.label, c.export) for c in view.table.columns if c.export is not None]
    body = safe_csv.dump(
        [label for label, _ in columns],
        ({label: export(row) for label, export in columns} for row in rows),
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{view.table.name}-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


def export(uow: UnitOfWork, view: View, stmt: Select[*tuple[Any, ...]]) -> Response:
    """The whole view (every page, same filters and order) as CSV."""
    return csv_response(view, all_rows(uow, view, stmt))
