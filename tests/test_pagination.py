"""Keyset pagination: every paged list refuses a cursor it did not make with
a clear 422, never a 500, and pages through rows that share a sort key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.errors import Invalid
from invigil.pagination import Keyset, encode_cursor, newest_first
from invigil.tenants.models import Tenant
from invigil.web.access import iter_routes
from tests.conftest import BoundDatabase, bearer, make_user

# Cursors that decode (base64 JSON lists) but are not what any list made.
FORGED = [
    encode_cursor(["not a time", "not an id"]),
    encode_cursor(["2026-11-29T10:00:00+00:00", "not an id"]),
    encode_cursor([{"a": 1}, [2]]),
    encode_cursor([]),
    encode_cursor(["x", "y", "z", "w"]),
    "%%%",
    encode_cursor([None]),
]


def paged_routes(app: FastAPI) -> list[str]:
    """GET routes of the API that take a cursor and no path parameter."""
    return sorted(
        r.path
        for r in iter_routes(app.routes)
        if "GET" in r.methods
        and r.path.startswith("/api/")
        and "{" not in r.path
        and any(p.name == "cursor" for p in r.route.dependant.query_params)
    )


def test_the_api_has_paged_lists(app: FastAPI) -> None:
    found = paged_routes(app)
    assert {"/api/v1/users", "/api/v1/attempts", "/api/v1/audit/events"} <= set(found)


@pytest.mark.parametrize("cursor", FORGED)
def test_every_paged_list_refuses_a_forged_cursor(
    client: TestClient, app: FastAPI, db: BoundDatabase, tenant_a: Tenant, cursor: str
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    for path in paged_routes(app):
        response = client.get(path, params={"cursor": cursor}, headers=h)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), path
        assert "cursor" in response.json()["detail"], path


def test_keyset_parses_its_own_cursor_and_refuses_others() -> None:
    order = Keyset(*newest_first_columns(), parse=(datetime.fromisoformat, uuid.UUID))
    at, ident = datetime(2026, 11, 29, 10, tzinfo=UTC), uuid.uuid4()
    rows, nxt = order.page([(at, ident), (at, uuid.uuid4())], 1, lambda r: r)
    assert rows == [(at, ident)] and nxt is not None
    assert order.after(nxt) == (at, ident)
    assert order.page([(at, ident)], 1, lambda r: r) == ([(at, ident)], None)
    assert order.page([(at, ident)], None, lambda r: r) == ([(at, ident)], None)
    for forged in FORGED:
        with pytest.raises(Invalid, match="cursor"):
            order.after(forged)


def newest_first_columns() -> tuple[object, ...]:
    from invigil.delivery.models import Attempt

    keyset = newest_first(Attempt)
    assert keyset.descending
    return keyset.columns
