"""The operator API: absent (404) without an operator token on the server;
with one, top-ups (idempotent on the reference, 409 on another amount) and
price lists over HTTP, audited as the operator; every tenant user's token
refused whatever their role (each built-in role and a custom one), and
failed attempts limited per client address."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.identity import service as identity
from invigil.ledger import service
from invigil.security.permissions import BUILTIN_ROLES, Permission
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web.access import OPERATOR, iter_routes
from tests.conftest import bearer, make_tenant, make_user
from tests.ledger.test_prices import PRICES

TOKEN = secrets.token_hex(32)


def operator_app(settings: Settings, db: Database, token_file: Path | None) -> FastAPI:
    from invigil.app import create_app

    return create_app(settings.model_copy(update={"operator_token_file": token_file}), db,
                      run_jobs=False)  # fmt: skip


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "operator-token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def op(settings: Settings, db: Database, token_file: Path) -> Iterator[TestClient]:
    with TestClient(operator_app(settings, db, token_file), raise_server_exceptions=False) as c:
        yield c


AS_OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


def routes(app: FastAPI) -> list[tuple[str, str]]:
    found = [
        (m, r.path) for r in iter_routes(app.routes) if r.permissions == (OPERATOR,)
        for m in sorted(r.methods - {"HEAD"})
    ]  # fmt: skip
    assert len(found) == 3
    return found


def body(method: str, path: str) -> dict[str, object] | None:
    if path.endswith("/credits"):
        return {"amount": 5, "reference": "INV-x"}
    if method == "PUT":
        return {"prices": PRICES, "reason": "standard"}
    return None


def test_without_an_operator_token_the_routes_are_not_there(
    settings: Settings, db: Database, tenant_a: Tenant
) -> None:
    app = operator_app(settings, db, None)
    with TestClient(app, raise_server_exceptions=False) as c:
        for method, path in routes(app):
            url = path.replace("{slug}", tenant_a.slug)
            r = c.request(method, url, headers=AS_OPERATOR, json=body(method, path))
            unknown = c.request(method, "/api/v1/nothing-here", headers=AS_OPERATOR)
            assert r.status_code == 404, (method, path)
            assert r.json()["detail"] == f"nothing is served at {url}"
            assert unknown.json()["title"] == r.json()["title"]


def test_a_short_or_missing_token_file_is_no_token(
    settings: Settings, db: Database, tenant_a: Tenant, tmp_path: Path
) -> None:
    short = tmp_path / "short"
    short.write_text("abc")
    for path in (short, tmp_path / "absent"):
        with TestClient(operator_app(settings, db, path), raise_server_exceptions=False) as c:
            r = c.get(f"/api/v1/operator/tenants/{tenant_a.slug}/price-list",
                      headers={"Authorization": "Bearer abc"})  # fmt: skip
            assert r.status_code == 404


def test_top_up_is_idempotent_and_audited_as_the_operator(
    op: TestClient, db: Database, tenant_a: Tenant, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    url = f"/api/v1/operator/tenants/{tenant.slug}/credits"
    first = op.post(url, json={"amount": 500, "reference": "INV-2026-1"}, headers=AS_OPERATOR)
    assert first.status_code == 201, first.text
    assert first.json()["credits_available"] == 500
    again = op.post(url, json={"amount": 500, "reference": "INV-2026-1"}, headers=AS_OPERATOR)
    assert again.status_code == 200 and again.json()["transfer"]["replayed"] is True
    assert again.json()["transfer"]["id"] == first.json()["transfer"]["id"]
    other = op.post(url, json={"amount": 501, "reference": "INV-2026-1"}, headers=AS_OPERATOR)
    assert other.status_code == 409 and other.json()["field"] == "key"
    for bad, field in (({"amount": 0, "reference": "x"}, "amount"),
                       ({"amount": 5, "reference": "no spaces"}, "reference"),
                       ({"amount": "5", "reference": "x"}, "amount")):  # fmt: skip
        r = op.post(url, json=bad, headers=AS_OPERATOR)
        assert r.status_code == 422 and field in r.text, (bad, r.text)
    missing = op.post("/api/v1/operator/tenants/no-such-tenant/credits",
                      json={"amount": 5, "reference": "x"}, headers=AS_OPERATOR)  # fmt: skip
    assert missing.status_code == 404
    with db.unit_of_work(tenant.id) as uow:
        assert service.balance(uow) == 500
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == "ledger.transferred"))
        assert entry is not None and entry.actor_kind == "operator"
        assert entry.actor_id.startswith("api:") and len(entry.actor_id) == 16
        assert TOKEN not in entry.actor_id


def test_price_list_over_http(op: TestClient, db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    url = f"/api/v1/operator/tenants/{tenant.slug}/price-list"
    assert op.get(url, headers=AS_OPERATOR).json()["in_force"] is None
    r = op.put(url, json={"prices": PRICES, "reason": "standard plan"}, headers=AS_OPERATOR)
    assert r.status_code == 201 and r.json()["version"] == 1
    later = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    dearer = {**PRICES, "evidence_gb_month": 9}
    r = op.put(url, json={"prices": dearer, "reason": "dearer", "effective_from": later},
               headers=AS_OPERATOR)  # fmt: skip
    assert r.status_code == 201 and r.json()["version"] == 2
    shown = op.get(url, headers=AS_OPERATOR).json()
    assert shown["in_force"]["version"] == 1 and [v["version"] for v in shown["versions"]] == [2, 1]
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = op.put(url, json={"prices": PRICES, "reason": "x", "effective_from": past},
               headers=AS_OPERATOR)  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "effective_from"
    r = op.put(url, json={"prices": {**PRICES, "attempt": {}}, "reason": "x"}, headers=AS_OPERATOR)
    assert r.status_code == 422 and r.json()["field"].startswith("attempt")
    assert op.put(url, json={"prices": PRICES}, headers=AS_OPERATOR).status_code == 422


def test_tenant_users_tokens_never_pass(
    op: TestClient, db: Database, tenant_a: Tenant, settings: Settings
) -> None:
    """Every built-in role and a custom role holding every permission: 401,
    whatever the route; nothing was credited."""
    app = op.app
    assert isinstance(app, FastAPI)
    with db.unit_of_work(tenant_a.id) as uow:
        everything = identity.create_role(
            uow, name="everything", description="", permissions=[p.value for p in Permission]
        )
    users = [make_user(db, tenant_a.id, [role]) for role in sorted(BUILTIN_ROLES)]
    users.append(make_user(db, tenant_a.id, [everything.name]))
    wrong = []
    for user in users:
        headers = bearer(app, db, user)
        for method, path in routes(app):
            url = path.replace("{slug}", tenant_a.slug)
            r = op.request(method, url, headers=headers, json=body(method, path))
            if r.status_code != 401:
                wrong.append((method, path, r.status_code))
            op.app.state.operator_limiter = None  # each refusal counts: start afresh
    assert wrong == []
    with db.unit_of_work(tenant_a.id) as uow:
        assert service.balance(uow) == 0


def test_failures_are_limited_per_address_even_for_the_right_token(
    op: TestClient, tenant_a: Tenant
) -> None:
    url = f"/api/v1/operator/tenants/{tenant_a.slug}/price-list"
    statuses = [op.get(url, headers={"Authorization": f"Bearer guess-{i}"}).status_code
                for i in range(8)]  # fmt: skip
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
    blocked = op.get(url, headers=AS_OPERATOR)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert op.get(url).status_code == 429
