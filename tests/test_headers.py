"""The browser's defences on every response, generated from the app's routes:
every page (as a tenant admin, with real ids; public and candidate pages too)
and every API route (with no token, and every GET as a tenant admin), errors
included, carries a Content-Security-Policy that allows no inline script and
no framing, ``nosniff`` and a Referrer-Policy; HSTS only over HTTPS."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from invigil.tenants.models import Tenant
from invigil.web.access import iter_routes
from invigil.web.headers import CSP
from tests.conftest import BoundDatabase, bearer, make_user
from tests.identity.test_authorization import FACTORIES
from tests.test_pages_matrix import web_client

PARAM = re.compile(r"{([a-z_]+)}")


def policy(header: str) -> dict[str, list[str]]:
    parts = (d.split() for d in header.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def guarded(r: Response, where: str) -> list[str]:
    """What is wrong with this response's defences (empty: nothing)."""
    wrong = []
    csp = policy(r.headers.get("content-security-policy", ""))
    if csp.get("frame-ancestors") != ["'none'"]:
        wrong.append("frame-ancestors is not 'none'")
    scripts = csp.get("script-src", csp.get("default-src"))
    if not scripts or {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(scripts):
        wrong.append(f"script-src allows inline or eval: {scripts}")
    if r.headers.get("x-content-type-options") != "nosniff":
        wrong.append("no nosniff")
    if r.headers.get("referrer-policy") not in ("no-referrer", "same-origin"):
        wrong.append(f"referrer-policy {r.headers.get('referrer-policy')}")
    if "strict-transport-security" in r.headers and not str(r.url).startswith("https:"):
        wrong.append("HSTS over plain HTTP")
    return [f"{where} ({r.status_code}): {w}" for w in wrong]


def real_ids(db: BoundDatabase, tenant: Tenant, path: str) -> str:
    """``path`` with real ids of ``tenant`` (the operator routes take its slug)."""
    return PARAM.sub(
        lambda m: tenant.slug if m.group(1) == "slug" else FACTORIES[m.group(1)](db, tenant), path
    )


def test_the_default_policy_is_strict() -> None:
    csp = policy(CSP)
    assert csp["script-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]


def test_every_page_as_an_admin(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> None:
    client, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    wrong, seen = [], 0
    for route in iter_routes(app.routes):
        if "GET" not in route.methods or route.path.startswith(("/api/", "/take/")):
            continue
        if set(PARAM.findall(route.path)) - set(FACTORIES):
            continue  # a public page with a token of its own (set-password, verify)
        r = client.get(real_ids(db, tenant_a, route.path))
        seen += r.status_code == 200
        wrong += guarded(r, route.path)
    assert wrong == [] and seen >= 20


def test_public_and_candidate_pages_and_static_files(app: FastAPI) -> None:
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    wrong = []
    for path in (
        "/",
        "/signin",
        "/signin/sso",  # single sign-on: refused without a tenant that has it
        "/signin/sso/callback?state=st.x.y&code=z",
        "/admin/users",  # a redirect to sign in
        "/take/no-such-link",
        "/take/no-such-link/exam",
        "/no/such/page",
        "/static/player.js",
        "/api/docs",
        "/api/openapi.json",
        "/healthz",
        "/.well-known/jwks.json",
    ):
        wrong += guarded(client.get(path), path)
    assert wrong == []


def test_every_api_route_without_a_token(app: FastAPI) -> None:
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    wrong, seen = [], 0
    for route in iter_routes(app.routes):
        for method in sorted(route.methods - {"HEAD"}):
            path = PARAM.sub("00000000-0000-4000-8000-000000000000", route.path)
            body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
            r = client.request(method, path, **body)  # type: ignore[arg-type]
            seen += 1
            wrong += guarded(r, f"{method} {route.path}")
    assert wrong == [] and seen >= 150


def test_every_api_read_as_an_admin(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> None:
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    headers = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    wrong, ok = [], 0
    for route in iter_routes(app.routes):
        if "GET" in route.methods and route.path.startswith("/api/v1/"):
            r = client.get(real_ids(db, tenant_a, route.path), headers=headers)
            ok += r.status_code == 200
            wrong += guarded(r, route.path)
    assert wrong == [] and ok >= 20


def test_errors_of_every_kind(app: FastAPI) -> None:
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    answers = {
        401: client.get("/api/v1/me"),
        404: client.get("/api/v1/nothing-here"),
        405: client.delete("/healthz"),
        413: client.post("/api/v1/questions", content=b"x" * (2 * 1024 * 1024)),
        422: client.post("/api/v1/auth/token", data={}),
    }
    wrong = [w for status, r in answers.items() for w in guarded(r, str(status))]
    assert [r.status_code for r in answers.values()] == list(answers) and wrong == []


@pytest.mark.parametrize("base", ["http://testserver", "https://testserver"])
def test_hsts_only_over_https(app: FastAPI, base: str) -> None:
    client = TestClient(app, base_url=base, follow_redirects=False)
    r = client.get("/signin")
    over_https = base.startswith("https:")
    assert ("strict-transport-security" in r.headers) is over_https
    if over_https:
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
    # The app itself never trusts X-Forwarded-Proto (uvicorn does, from allowed proxies).
    forged = client.get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert ("strict-transport-security" in forged.headers) is over_https
