"""What a client sends is checked at the edge, before it can reach the database.

PostgreSQL stores no NUL character in ``text`` or ``jsonb`` and no lone
surrogate (JSON may carry ``"\\ud800"``), and its integer columns hold 64 bits
at most: such input used to fail inside a statement, as a 500 that rolled
back (and reset the connection of) whatever else shared the transaction. One
set of rules says what text and numbers are acceptable:

- :func:`text_problem` and :func:`json_problem` say what is wrong with a
  string or with decoded JSON (every string and key, every number);
- :func:`checked_request`, a dependency of every route of the app, applies
  them to the path and query parameters (names and values, each at most
  ``MAX_PARAM`` characters), form fields and file names, and the JSON body
  of a route that declares a model for it: a 422 naming the field, before
  authentication and before any lookup;
- a body the route reads item by item (the candidate's batches of answers
  and events) is not refused whole: its items are checked with the same
  functions and each is rejected with its reason, as that contract says.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, get_args

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.datastructures import UploadFile

MAX_PARAM = 2048  # characters of a path or query parameter (routes may say fewer)
INT64 = (-(2**63), 2**63 - 1)  # bigint, the widest integer column

Loc = tuple[str | int, ...]


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store ``value``, or None."""
    if "\x00" in value:
        return "must not contain a NUL character"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    return None


def json_problem(data: Any, loc: Loc = ()) -> tuple[Loc, str] | None:
    """The first string, key or number in decoded JSON that cannot be
    stored, with where it is, or None."""
    if isinstance(data, str):
        problem = text_problem(data)
        return None if problem is None else (loc, problem)
    if isinstance(data, bool) or data is None:
        return None
    if isinstance(data, int):
        if not INT64[0] <= data <= INT64[1]:
            return loc, "is too large a number (at most 2^63 - 1 either way)"
        return None
    if isinstance(data, float):
        return None if math.isfinite(data) else (loc, "must be a finite number")
    if isinstance(data, dict):
        for key, value in data.items():
            problem = text_problem(str(key))
            if problem is not None:
                return (*loc, str(key)), f"a key {problem}"
            found = json_problem(value, (*loc, str(key)))
            if found is not None:
                return found
        return None
    if isinstance(data, list):
        for n, value in enumerate(data):
            found = json_problem(value, (*loc, n))
            if found is not None:
                return found
    return None


def _refuse(loc: Loc, message: str, value: Any = None) -> RequestValidationError:
    return RequestValidationError(
        [{"type": "value_error", "loc": loc, "msg": f"Value error, {message}", "input": value}]
    )


def _param_problem(value: str) -> str | None:
    if len(value) > MAX_PARAM:
        return f"must be at most {MAX_PARAM} characters"
    return text_problem(value)


def _params(request: Request) -> Iterator[tuple[Loc, str]]:
    for name, value in request.path_params.items():
        yield ("path", name), str(value)
    for name, value in request.query_params.multi_items():
        yield ("query", name), name
        yield ("query", name), value


def _declares_model(route: Any) -> bool:
    """Whether the route's body is a model (refused whole when bad), not
    ``Any`` (read item by item by the route itself)."""
    field = getattr(route, "body_field", None) if isinstance(route, APIRoute) else None
    if field is None:
        return False
    kind = field.field_info.annotation
    return any(isinstance(k, type) and issubclass(k, BaseModel) for k in (kind, *get_args(kind)))


async def checked_request(request: Request) -> None:
    """Refuse a request whose parameters, form or JSON body hold what cannot
    be stored (see the module's docstring). FastAPI has read the body
    before its dependencies run; what it parsed is reused, not read again."""
    for loc, value in _params(request):
        problem = _param_problem(value)
        if problem is not None:
            raise _refuse(loc, problem)
    form = getattr(request, "_form", None)  # set by FastAPI for a route with form fields
    if form is not None:
        for name, value in form.multi_items():
            text = value.filename or "" if isinstance(value, UploadFile) else value
            problem = text_problem(name) or text_problem(text)
            if problem is not None:
                raise _refuse(("body", name), problem)
    if _declares_model(request.scope.get("route")) and hasattr(request, "_json"):
        found = json_problem(await request.json(), ("body",))
        if found is not None:
            raise _refuse(*found)
