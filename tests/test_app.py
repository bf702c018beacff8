"""The HTTP shell: health, OpenAPI, problem+json, declared permissions."""

from __future__ import annotations

import gc

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from invigil.app import create_app
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings
from invigil.web.access import iter_routes


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_readyz_reports_database_and_store(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and "schema at" in body["checks"]["database"]["detail"]
    assert body["checks"]["object_store"]["ok"]


def test_readyz_is_a_problem_when_the_database_is_gone(
    settings: Settings, urls: DatabaseUrls
) -> None:
    broken = Database.connect(
        DatabaseUrls(
            admin=urls.admin, owner=urls.owner, app=urls.app.set(database="no_such_database")
        )
    )
    with TestClient(create_app(settings, broken, run_jobs=False)) as c:
        r = c.get("/readyz")
    broken.dispose()
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["checks"]["database"]["ok"] is False
    assert "database unreachable" in r.json()["detail"]


def test_a_server_settles_its_heap_once_started(settings: Settings, database: Database) -> None:
    """A server process (``invigil serve``, a uvicorn worker) freezes what it
    holds once started, so full collections stop walking it; an app built
    otherwise (tests, tools) leaves the collector alone."""
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings, database, run_jobs=False)) as c:
        assert c.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
    try:
        with TestClient(create_app(settings, database, run_jobs=False, settle_heap=True)) as c:
            assert c.get("/healthz").status_code == 200
            assert gc.get_freeze_count() > 10_000  # modules, the app, its routes
    finally:
        gc.unfreeze()


def test_openapi_is_served(client: TestClient) -> None:
    r = client.get("/api/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["title"] == "Invigil" and "/healthz" in r.json()["paths"]


def test_unknown_path_is_problem_json(client: TestClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "urn:invigil:problem:not-found"
    assert body["status"] == 404 and "/api/v1/nothing-here" in body["detail"]


def test_wrong_method_is_problem_json(client: TestClient) -> None:
    r = client.post("/healthz")
    assert r.status_code == 405 and r.json()["type"].endswith("method-not-allowed")


def _with_extra_routes(app: FastAPI) -> FastAPI:
    extra = APIRouter()

    @extra.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    @extra.get("/api/typed/{n}")
    def typed(n: int) -> int:
        return n

    app.include_router(extra)
    return app


def test_validation_errors_and_crashes_are_problem_json(app: FastAPI) -> None:
    with TestClient(_with_extra_routes(app), raise_server_exceptions=False) as c:
        invalid = c.get("/api/typed/abc")
        page = c.get("/account/set-password", params={"token": "x" * 500})
        crash = c.get("/api/boom")
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["location"] == ["path", "n"]
    assert page.headers["content-type"].startswith("text/html")  # people get pages
    assert crash.status_code == 500
    assert crash.headers["content-type"] == "application/problem+json"
    assert "secret internals" not in crash.text


def test_home_page_renders(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "Invigil" in r.text


def test_every_route_declares_exactly_one_permission(app: FastAPI) -> None:
    routes = list(iter_routes(app.routes))
    assert {"/healthz", "/readyz", "/"} <= {r.path for r in routes}
    undeclared = {r.path: r.permissions for r in routes if len(r.permissions) != 1}
    assert undeclared == {}


def test_the_permission_walk_catches_an_undeclared_route(app: FastAPI) -> None:
    app = _with_extra_routes(app)
    missing = [r.path for r in iter_routes(app.routes) if not r.permissions]
    assert "/api/boom" in missing
