"""Pages, generated like the API matrix: every page route x every built-in
role, signed in with a real web session (cookie), and every page route that
takes an id x another tenant's id."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.db.engine import Database
from invigil.identity import auth
from invigil.identity.models import User
from invigil.security.permissions import BUILTIN_ROLES
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.access import CANDIDATE, PUBLIC, SCRAPER, RouteInfo, iter_routes
from invigil.web.session import COOKIE, csrf_token
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.identity.test_authorization import FACTORIES

PARAM = re.compile(r"{([a-z_]+)}")


def page_routes(app: FastAPI) -> list[tuple[RouteInfo, str]]:
    return [
        (r, m)
        for r in iter_routes(app.routes)
        for m in sorted(r.methods)
        if m != "HEAD"
        and not r.path.startswith("/api/")
        and r.permissions
        and r.permissions[0]
        not in (PUBLIC, CANDIDATE, SCRAPER)  # the scraper's: tests/test_metrics.py
    ]


def web_client(
    app: FastAPI, db: Database, tenant_id: uuid.UUID, roles: list[str]
) -> tuple[TestClient, str]:
    user = make_user(db, tenant_id, roles)
    with db.unit_of_work(tenant_id) as uow:
        session, secret = auth.open_session(
            uow,
            app.state.settings,
            user,
            kind="web",
            address="test",
            user_agent="pytest",
            enroll_only=False,
        )
        csrf = csrf_token(session.token_hash)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set(COOKIE, secret)
    return client, csrf


def fill(path: str, values: dict[str, str] | None = None) -> str:
    return PARAM.sub(lambda m: (values or {}).get(m.group(1), str(uuid.uuid4())), path)


def test_the_pages_are_in_the_matrix(app: FastAPI) -> None:
    assert len(page_routes(app)) >= 15


@pytest.mark.parametrize("role", sorted(BUILTIN_ROLES))
def test_every_page_allows_or_denies_exactly_as_the_role_table_says(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, role: str
) -> None:
    client, csrf = web_client(app, db, tenant_a.id, [role])
    granted = {p.value for p in BUILTIN_ROLES[role]}
    wrong = []
    for route, method in page_routes(app):
        if route.path == "/signout":
            continue  # would end the session the rest of the walk uses
        data = {"csrf": csrf} if method == "POST" else None
        status = client.request(method, fill(route.path), data=data).status_code
        allowed = route.permissions[0] in granted
        if (allowed and status in (401, 403)) or (not allowed and status != 403):
            wrong.append(f"{method} {route.path} ({route.permissions[0]}): {status}")
    assert wrong == []


def test_every_page_is_never_cached_and_never_leaks_its_url(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    """Staff pages show one-time links, secrets and candidates' data."""
    client, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    shown = 0
    for route, method in page_routes(app):
        if method != "GET" or PARAM.search(route.path):
            continue
        response = client.get(route.path)
        if response.status_code != 200:
            continue
        shown += 1
        assert response.headers["cache-control"] == "no-store", route.path
        assert response.headers["referrer-policy"] == "no-referrer", route.path
    assert shown >= 10


def test_without_a_session_every_page_sends_you_to_sign_in(app: FastAPI) -> None:
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    wrong = []
    for route, method in page_routes(app):
        r = client.request(method, fill(route.path))
        if r.status_code != 303 or not r.headers.get("location", "").startswith("/signin"):
            wrong.append(f"{method} {route.path}: {r.status_code}")
    assert wrong == []


def test_another_tenants_ids_are_not_found_on_pages(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, settings: Settings
) -> None:
    tenant_b = make_tenant(db, settings)
    intruder, csrf = web_client(app, db, tenant_b.id, ["tenant_admin"])
    routes = [(r, m) for r, m in page_routes(app) if PARAM.search(r.path)]
    unknown = {p for r, _ in routes for p in PARAM.findall(r.path)} - set(FACTORIES)
    assert routes and unknown == set(), f"add a factory for {unknown}"
    for route, method in routes:
        real = {p: FACTORIES[p](db, tenant_a) for p in PARAM.findall(route.path)}
        data = {"csrf": csrf} if method == "POST" else None
        theirs = intruder.request(method, fill(route.path, real), data=data)
        absent = intruder.request(method, fill(route.path), data=data)
        assert theirs.status_code == absent.status_code == 404, (method, route.path)
        if "user_id" in real:  # and the other tenant's user was not touched
            with db.unit_of_work(tenant_a.id) as uow:
                user = uow.get(User, uuid.UUID(real["user_id"]))
                assert user.status == "active" and user.password_hash is not None
