"""The OpenAPI document's error answers (invigil.web.contract, ADR 0072) and
the Allow header of a 405, checked on the document itself; the property-based
run against it is tests/test_api_conformance.py."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from invigil.errors import PROBLEM_MEDIA_TYPE
from invigil.security.permissions import Permission
from invigil.web.access import Public, requires
from invigil.web.contract import install

METHODS = {"get", "put", "post", "delete", "patch"}


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (m, p, op) for p, item in doc["paths"].items() for m, op in item.items() if m in METHODS
    ]


def test_every_error_answer_is_a_documented_problem(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    ops = operations(doc)
    assert len(ops) >= 200
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    problem = doc["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"instance", "errors"} <= set(problem["properties"])
    wrong = []
    for method, path, op in ops:
        codes = {int(c) for c in op["responses"] if c.isdigit()}
        if not {422, 503} <= codes:
            wrong.append(f"{method} {path}: {sorted(codes)}")
        for code in {c for c in codes if c >= 400}:
            content = op["responses"][str(code)].get("content", {})
            if list(content) != [PROBLEM_MEDIA_TYPE]:
                wrong.append(f"{method} {path} {code}: {list(content)}")
    assert wrong == []


def test_paging_parameters_name_their_bounds(client: TestClient) -> None:
    doc = client.get("/api/openapi.json").json()
    unbounded = [
        f"{m} {p} {prm['name']}"
        for m, p, op in operations(doc)
        for prm in op.get("parameters", [])
        if prm["name"] in ("limit", "offset") and not {"minimum", "maximum"} <= set(prm["schema"])
    ] + [
        f"{m} {p} cursor"
        for m, p, op in operations(doc)
        for prm in op.get("parameters", [])
        if prm["name"] == "cursor" and "maxLength" not in str(prm["schema"])
    ]
    assert unbounded == []


def test_a_route_added_later_gets_the_standard_answers() -> None:
    router = APIRouter(prefix="/api/v1")

    @router.post("/widgets/{widget_id}")
    def change(widget_id: int, uow: Any = requires(Permission.ATTEMPT_MANAGE)) -> dict[str, str]:
        return {}

    @router.get("/hello", dependencies=[Public])
    def hello() -> dict[str, str]:
        return {}

    app = FastAPI(openapi_url="/api/openapi.json")
    app.include_router(router)
    install(app)
    doc = app.openapi()
    changed = doc["paths"]["/api/v1/widgets/{widget_id}"]["post"]
    assert set(changed["responses"]) >= {"401", "403", "404", "409", "422", "503"}
    assert changed["security"] == [{"bearer": []}]
    public = doc["paths"]["/api/v1/hello"]["get"]
    assert "401" not in public["responses"]
    assert "security" not in public
    assert app.openapi() is doc  # built once


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("DELETE", "/api/v1/users", "GET, HEAD, POST"),
        ("PATCH", "/api/v1/exams", "GET, HEAD, POST"),
        ("PUT", "/healthz", "GET, HEAD"),
        ("OPTIONS", "/api/v1/certification/groups/import", "POST"),
    ],
)
def test_a_405_allows_every_method_of_the_path(
    client: TestClient, method: str, path: str, allow: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.headers["allow"] == allow
    assert r.headers["content-type"] == PROBLEM_MEDIA_TYPE
