"""Nothing a client sends reaches the database unchecked, generated from the
app itself: every route (API, pages, the candidate's), each of its path and
query parameters (and one it does not declare) given a NUL byte, a very long
string and huge numbers. None may answer 5xx; a NUL is a 422 naming the
parameter. A new route or parameter is covered without anyone writing a test."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.access import RouteInfo, iter_routes
from tests.conftest import BoundDatabase, bearer, make_user
from tests.delivery.test_attempts import begun, invited
from tests.identity.test_authorization import FACTORIES, PARAM
from tests.identity.test_pages import page_sign_in
from tests.test_pages_matrix import web_client

NUL = "a\x00b"
OTHERS = {
    "long": "a" * 50_000,
    "huge": "9" * 30,
    "negative": "-" + "9" * 30,
    "bigint+1": str(2**63),
}
UNDECLARED = "zz"
ENDS_SESSIONS = ("/signout", "/api/v1/auth/logout")


def query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= query_names(sub)
    return names


def walked(app: FastAPI) -> list[tuple[RouteInfo, str, list[str]]]:
    out = []
    for r in iter_routes(app.routes):
        query = sorted(query_names(r.route.dependant) | {UNDECLARED})
        for method in sorted(r.methods - {"HEAD"}):
            if r.path not in ENDS_SESSIONS:
                out.append((r, method, query))
    return out


class Callers:
    """A client and real values for each kind of route, so that a bad
    parameter is judged where it would reach the database."""

    def __init__(self, app: FastAPI, db: BoundDatabase, tenant: Tenant, settings: Settings) -> None:
        self.api = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        self.api.headers.update(bearer(app, db, make_user(db, tenant.id, ["tenant_admin"])))
        self.pages, self.csrf = web_client(app, db, tenant.id, ["tenant_admin"])
        _, self.token = invited(db, settings)
        self.candidate, _ = begun(app, self.token)
        self.candidate.headers.update({"content-type": "application/json"})
        self.ids = {name: make(db, tenant) for name, make in FACTORIES.items()}
        self.ids |= {"token": self.token, "kind": "snapshot"}
        del self.ids["object_id"]  # its master key is another process's: a 503 before any input

    def send(
        self, route: RouteInfo, method: str, path: dict[str, str], query: dict[str, str]
    ) -> Any:
        url = PARAM.sub(
            lambda m: (
                quote(path[m.group(1)], safe="")
                if m.group(1) in path
                else self.ids.get(m.group(1)) or str(uuid.uuid4())
            ),
            route.path,
        )
        if route.path.startswith("/take/"):
            client, kwargs = self.candidate, {"content": b"{}"}
        elif route.path.startswith("/api/"):
            client, kwargs = self.api, {"json": {}}
        else:
            client, kwargs = self.pages, {"data": {"csrf": self.csrf}}
        if method == "GET":
            kwargs = {}
        return client.request(method, url, params=query, **kwargs)


@pytest.mark.slow
def test_no_parameter_of_any_route_gives_a_server_error(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    callers = Callers(app, db, tenant_a, settings)
    routes = walked(app)
    assert len(routes) > 100
    wrong = []
    for route, method, query in routes:
        for name in [*PARAM.findall(route.path), *query]:
            where = "path" if name in PARAM.findall(route.path) else "query"
            for label, value in {"NUL": NUL, **OTHERS}.items():
                if where == "path":
                    r = callers.send(route, method, {name: value}, {})
                else:
                    r = callers.send(route, method, {}, {name: value})
                said = f"{method} {route.path} {where}.{name}={label}: {r.status_code}"
                if r.status_code >= 500:
                    wrong.append(f"{said} {r.text[:200]}")
                elif label == "NUL" and (r.status_code != 422 or name not in r.text):
                    wrong.append(f"{said} (a NUL must be a 422 naming {name})")
    assert wrong == []


def test_a_nul_in_a_filter_is_a_problem_naming_it(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    for name in ("q", "category", "tag"):
        r = client.get("/api/v1/questions", params={name: NUL}, headers=h)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["location"] == ["query", name]
        assert "NUL" in r.json()["errors"][0]["message"]
    r = client.get("/api/v1/audit/events", params={"action": NUL}, headers=h)
    assert r.status_code == 422 and "query.action" in r.json()["detail"]


def test_a_json_body_that_cannot_be_stored_is_a_problem_naming_the_field(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    for bad in ("Bank\x00", "Bank\ud800"):
        r = client.post(
            "/api/v1/banks",
            content=f'{{"name": {json_string(bad)}, "description": "d"}}',
            headers=h | {"content-type": "application/json"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["location"] == ["body", "name"]
    r = client.post("/api/v1/banks", json={"name": "Bank", "description": "d"}, headers=h)
    assert r.status_code == 201


def json_string(text: str) -> str:
    return '"' + "".join(c if " " <= c < "\x7f" else f"\\u{ord(c):04x}" for c in text) + '"'


def test_a_form_field_that_cannot_be_stored_is_refused_before_sign_in_reads_it(
    app: FastAPI, client: TestClient, tenant_a: Tenant
) -> None:
    """The sign-in form looks the tenant up before anything else (the form's
    own CSRF token sent, so that the field check is what answers)."""
    r = page_sign_in(client, f"{tenant_a.slug}\x00", "a", "b")
    assert r.status_code == 422 and "body.tenant" in r.text
    r = page_sign_in(client, tenant_a.slug, "a", "b")
    assert r.status_code == 401
