"""AI settings and usage through the API and the admin page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.ai import service
from invigil.ai.usage import Subject
from invigil.db.uow import Actor
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.ai.provider_server import ProviderServer, ok
from tests.conftest import BoundDatabase, bearer, make_user
from tests.identity.test_pages import signed_in


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def ai_client(
    settings: Settings, db: BoundDatabase, provider: ProviderServer
) -> Iterator[TestClient]:
    from invigil.app import create_app

    app = create_app(provider.settings(settings), db, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_settings_off_by_default_then_on_and_usage_listed(
    ai_client: TestClient, db: BoundDatabase, tenant_a: Tenant, provider: ProviderServer
) -> None:
    app: FastAPI = ai_client.app  # type: ignore[assignment]
    admin = bearer(app, db, make_user(db, tenant_a.id, ["tenant_admin"]))
    got = ai_client.get("/api/v1/ai/settings", headers=admin)
    assert got.status_code == 200, got.text
    assert got.json() == {
        "enabled": False, "rubric_suggestions": False, "question_drafting": False,
        "own_provider": None, "platform_provider": True,
    }  # fmt: skip
    on = ai_client.put(
        "/api/v1/ai/settings", headers=admin,
        json={"enabled": True, "rubric_suggestions": True, "question_drafting": False},
    )  # fmt: skip
    assert on.status_code == 200 and on.json()["enabled"] is True
    private = ai_client.put(
        "/api/v1/ai/settings", headers=admin,
        json={"enabled": True, "own_provider": {"base_url": provider.base_url, "model": "m"}},
    )  # fmt: skip
    assert private.status_code == 422 and private.json()["field"] == "base_url"
    extra = ai_client.put("/api/v1/ai/settings", headers=admin, json={"enabled": True, "x": 1})
    assert extra.status_code == 422
    provider.script(ok({"text": "hello"}))
    services = app.state.services

    class Echo(service.BaseModel):  # type: ignore[name-defined,misc]
        text: str

    service.ask(
        db, tenant_a.id, Actor("user", "u"), services.settings, services.box,
        purpose="rubric_suggestion", subject=Subject("attempt_answer", uuid.uuid4()),
        messages=[{"role": "user", "content": "hi"}], schema=Echo,
        apply=lambda uow, usage, answer: answer.text,
    )  # fmt: skip
    listed = ai_client.get("/api/v1/ai/usage?outcome=ok", headers=admin)
    assert listed.status_code == 200
    (item,) = listed.json()["items"]
    assert item["outcome"] == "ok" and item["purpose"] == "rubric_suggestion"
    grader = bearer(app, db, make_user(db, tenant_a.id, ["grader"]))
    assert ai_client.get("/api/v1/ai/usage", headers=grader).status_code == 403
    assert ai_client.get("/api/v1/ai/settings", headers=grader).status_code == 403
    assert ai_client.get("/api/v1/ai/usage?limit=100000", headers=admin).status_code == 422


def test_the_admin_page_turns_ai_on_and_refuses_a_private_provider(
    ai_client: TestClient, db: BoundDatabase, tenant_a: Tenant, provider: ProviderServer
) -> None:
    signed_in(ai_client, db, tenant_a, ["tenant_admin"])
    shown = ai_client.get("/admin/ai")
    assert shown.status_code == 200 and "test-model" in shown.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', shown.text)
    assert csrf is not None
    saved = ai_client.post(
        "/admin/ai",
        data={"csrf": csrf.group(1), "enabled": "on", "question_drafting": "on"},
        follow_redirects=True,
    )
    assert saved.status_code == 200 and "AI settings saved." in saved.text
    assert 'name="question_drafting" checked' in saved.text
    refused = ai_client.post(
        "/admin/ai",
        data={"csrf": csrf.group(1), "enabled": "on", "own": "on",
              "base_url": provider.base_url, "model": "m"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert "must start with https://" in refused.text and 'aria-invalid="true"' in refused.text
