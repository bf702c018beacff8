"""Keyset pagination: lists answer ``{"items": [...], "next": cursor | null}``."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from invigil.errors import Invalid

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S", bound=Select[*tuple[Any, ...]])
BAD_CURSOR = "the cursor is not valid; start again without it"

MAX_LIMIT = 200


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
    strictly after them (a row comparison, which an index on the same
    columns serves). ``parse`` turns each cursor value back into its type; a
    cursor that does not parse is refused with a clear 400, never a 500."""

    def __init__(
        self,
        *columns: ColumnElement[Any] | InstrumentedAttribute[Any],
        parse: Sequence[Callable[[Any], Any]],
        descending: bool = False,
    ) -> None:
        if len(parse) != len(columns):
            raise ValueError("one parser per column")
        self.columns = columns
        self.parse = parse
        self.descending = descending

    def after(self, cursor: str | None) -> tuple[Any, ...] | None:
        values = decode_cursor(cursor)
        if values is None:
            return None
        if len(values) != len(self.columns):
            raise Invalid(BAD_CURSOR)
        try:
            return tuple(p(v) for p, v in zip(self.parse, values, strict=True))
        except (ValueError, TypeError, AttributeError) as exc:
            raise Invalid(BAD_CURSOR) from exc

    def apply(self, stmt: S, cursor: str | None, limit: int | None) -> S:
        """Order, start after the cursor, and fetch one row more than a page
        (to know whether there is a next one)."""
        order = [c.desc() for c in self.columns] if self.descending else list(self.columns)
        stmt = stmt.order_by(*order)
        after = self.after(cursor)
        if after is not None:
            row, bound = tuple_(*self.columns), tuple_(*after)
            stmt = stmt.where(row < bound if self.descending else row > bound)
        return stmt.limit(limit + 1) if limit is not None else stmt

    def page(
        self, rows: Sequence[R], limit: int | None, key: Callable[[R], Sequence[Any]]
    ) -> tuple[list[R], str | None]:
        """The page and the cursor of the next one (None on the last page)."""
        if limit is None or len(rows) <= limit:
            return list(rows), None
        return list(rows[:limit]), encode_cursor([_plain(v) for v in key(rows[limit - 1])])


def _plain(value: Any) -> Any:
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
