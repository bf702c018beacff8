"""Keyset pagination: lists answer ``{"items": [...], "next": cursor | null}``."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, and_, false, or_, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from invigil.errors import Invalid

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])
BAD_CURSOR = "the cursor is not valid; start again without it"

MAX_LIMIT = 200
# A list route's page size, with its bounds in the OpenAPI document.
PageLimit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
# The cursor a page's ``next`` gave (a few keys, base64: far below this).
PageCursor = Annotated[
    str | None, Query(max_length=500, description="the previous page's next, for the page after it")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next: str | None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise Invalid(BAD_CURSOR) from exc
    if not isinstance(value, list):
        raise Invalid(BAD_CURSOR)
    return value


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


class Keyset:
    """Keyset pagination over one or more sort columns, the last unique (an
    id): the cursor holds the last row's values, and the next page starts
    strictly after them. ``parse`` turns each cursor value back into its
    type; a cursor that does not parse is refused with a clear 400, never a
    500.

    A column named in ``nullable`` may hold NULL: its NULLs sort after every
    value (``nulls_first`` puts them before), so a walk meets them exactly
    once. :meth:`reversed` is the same order backwards (direction and NULL
    placement flipped): walking it from a page's first row gives the rows
    before that page, nearest first, which is how "previous" works. Without
    nullable columns the bound is one row comparison, which an index on the
    same columns serves."""

    def __init__(
        self,
        *columns: ColumnElement[Any] | InstrumentedAttribute[Any],
        parse: Sequence[Callable[[Any], Any]],
        descending: bool = False,
        nullable: Sequence[bool] | None = None,
        nulls_first: bool = False,
    ) -> None:
        if len(parse) != len(columns):
            raise ValueError("one parser per column")
        if nullable is not None and len(nullable) != len(columns):
            raise ValueError("one nullable flag per column")
        self.columns = columns
        self.parse = parse
        self.descending = descending
        self.nullable = tuple(nullable) if nullable is not None else (False,) * len(columns)
        self.nulls_first = nulls_first

    def reversed(self) -> Keyset:
        """The same order, backwards."""
        return Keyset(
            *self.columns,
            parse=self.parse,
            descending=not self.descending,
            nullable=self.nullable,
            nulls_first=not self.nulls_first,
        )

    def after(self, cursor: str | None) -> tuple[Any, ...] | None:
        values = decode_cursor(cursor)
        if values is None:
            return None
        return self.values(values)

    def values(self, values: Sequence[Any]) -> tuple[Any, ...]:
        """A cursor's decoded values, each parsed back into its type."""
        if len(values) != len(self.columns):
            raise Invalid(BAD_CURSOR)
        parsed: list[Any] = []
        for parse, value, nullable in zip(self.parse, values, self.nullable, strict=True):
            if value is None:
                if not nullable:
                    raise Invalid(BAD_CURSOR)
                parsed.append(None)
                continue
            try:
                parsed.append(parse(value))
            except (ValueError, TypeError, AttributeError) as exc:
                raise Invalid(BAD_CURSOR) from exc
        return tuple(parsed)

    def order(self) -> list[Any]:
        order = []
        for column, nullable in zip(self.columns, self.nullable, strict=True):
            term = column.desc() if self.descending else column.asc()
            if nullable:
                term = term.nulls_first() if self.nulls_first else term.nulls_last()
            order.append(term)
        return order

    def beyond(self, after: Sequence[Any]) -> ColumnElement[bool]:
        """Rows strictly after the key ``after`` in this order."""
        if not any(self.nullable):
            row, bound = tuple_(*self.columns), tuple_(*after)
            return row < bound if self.descending else row > bound
        # Lexicographic, spelled out: equal on the columns before, past on this one.
        clauses: list[ColumnElement[bool]] = []
        equal: list[ColumnElement[bool]] = []
        for column, value, nullable in zip(self.columns, after, self.nullable, strict=True):
            clauses.append(and_(*equal, self._past(column, value, nullable)))
            equal.append(column.is_(None) if value is None else column == value)
        return or_(*clauses)

    def _past(self, column: Any, value: Any, nullable: bool) -> ColumnElement[bool]:
        if value is None:  # after a NULL come only the non-NULLs, if NULLs go first
            return column.is_not(None) if self.nulls_first else false()
        past = column < value if self.descending else column > value
        return or_(past, column.is_(None)) if nullable and not self.nulls_first else past

    def apply(self, stmt: S, cursor: str | None, limit: int | None) -> S:
        """Order, start after the cursor, and fetch one row more than a page
        (to know whether there is a next one)."""
        return self.apply_after(stmt, self.after(cursor), limit)

    def apply_after(self, stmt: S, after: Sequence[Any] | None, limit: int | None) -> S:
        stmt = stmt.order_by(*self.order())
        if after is not None:
            stmt = stmt.where(self.beyond(after))
        return stmt.limit(limit + 1) if limit is not None else stmt

    def page(
        self, rows: Sequence[R], limit: int | None, key: Callable[[R], Sequence[Any]]
    ) -> tuple[list[R], str | None]:
        """The page and the cursor of the next one (None on the last page)."""
        if limit is None or len(rows) <= limit:
            return list(rows), None
        return list(rows[:limit]), encode_cursor(plain_key(key(rows[limit - 1])))


def plain_key(key: Sequence[Any]) -> list[Any]:
    """A row's key as JSON values (a cursor's content)."""
    return [_plain(v) for v in key]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value if isinstance(value, int | str) else str(value)


def newest_first(model: Any) -> Keyset:
    """The usual list order: newest first, by ``created_at`` then ``id``."""
    return Keyset(
        model.created_at, model.id, parse=(datetime.fromisoformat, uuid.UUID), descending=True
    )


def created_key(row: Any) -> tuple[datetime, uuid.UUID]:
    return row.created_at, row.id
