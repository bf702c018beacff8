"""The suggestions API: ask, read the latest, discard; another tenant's ids
404 like missing ones; AI off 409; provider failures their problems; and a
suggestion never a mark without a grader's own submission."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.pool import NullPool

from invigil.ai import config
from invigil.ai.models import AiUsage
from invigil.app import create_app
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.results.models import GradingMark
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import ProviderServer, ok, rate_limited, server_error, slow
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted
from tests.results.test_suggestions import GOOD
from tests.test_pages_matrix import web_client

ESSAY = 1


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def configured(settings: Settings, provider: ProviderServer) -> Settings:
    return provider.settings(settings)


@pytest.fixture
def api(configured: Settings, db: BoundDatabase) -> Iterator[TestClient]:
    app: FastAPI = create_app(configured, db, run_jobs=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        c.app_ref = app  # type: ignore[attr-defined]
        yield c


class World:
    def __init__(self, api: TestClient, db: BoundDatabase, settings: Settings,
                 configured: Settings, *, opted: bool = True) -> None:  # fmt: skip
        self.tenant = make_tenant(db, settings)
        if opted:
            box = SecretBox(configured.keys_dir / "secrets.key")
            with db.unit_of_work(self.tenant.id) as uow:
                config.update(uow, configured, box, enabled=True, rubric_suggestions=True,
                              question_drafting=False)  # fmt: skip
        exam = graded_exam(db, self.tenant.id)
        self.attempt = submitted(db, self.tenant.id, kit_for(settings), exam)
        self.grader = make_user(db, self.tenant.id, ["grader"])
        self.headers = bearer(api.app_ref, db, self.grader)  # type: ignore[attr-defined]
        self.base = f"/api/v1/attempts/{self.attempt}/questions/{ESSAY}"


def _count(db: BoundDatabase, tenant: uuid.UUID, model: Any) -> int:
    with db.unit_of_work(tenant) as uow:
        return int(uow.scalar(select(func.count()).select_from(model)) or 0)


def test_ask_read_discard_and_mark_from_it(
    api: TestClient, db: BoundDatabase, settings: Settings, configured: Settings,
    provider: ProviderServer,
) -> None:  # fmt: skip
    w = World(api, db, settings, configured)
    assert api.get(f"{w.base}/suggestions/latest", headers=w.headers).status_code == 404
    provider.script(ok(GOOD))
    made = api.post(f"{w.base}/suggestions", headers=w.headers)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["ai_suggested"] is True and body["total"] == "8.00" and not body["discarded"]
    assert [c["level"] for c in body["criteria"]] == ["Strong = clear", "Good"]
    assert body["criteria"][0]["rationale"] == "A clear claim, supported."
    latest = api.get(f"{w.base}/suggestions/latest", headers=w.headers).json()
    assert latest["id"] == body["id"]
    assert _count(db, w.tenant.id, GradingMark) == 0  # still no mark
    # A suggestion is no mark: the marks route wants the grader's own levels.
    refused = api.post(f"{w.base}/marks", headers=w.headers, json={"suggestion_id": body["id"]})
    assert refused.status_code == 422
    assert api.post(f"{w.base}/marks", headers=w.headers, json={}).status_code == 422
    assert _count(db, w.tenant.id, GradingMark) == 0
    gone = api.post(f"{w.base}/suggestions/discard", headers=w.headers,
                    json={"suggestion_id": body["id"]})  # fmt: skip
    assert gone.status_code == 200 and gone.json()["discarded"] is True
    assert api.get(f"{w.base}/suggestions/latest", headers=w.headers).json()["discarded"]
    again = api.post(f"{w.base}/suggestions/discard", headers=w.headers,
                     json={"suggestion_id": body["id"]})  # fmt: skip
    assert again.status_code == 409
    provider.script(ok(GOOD))
    fresh = api.post(f"{w.base}/suggestions", headers=w.headers).json()
    mark = api.post(
        f"{w.base}/marks",
        headers=w.headers,
        json={"criteria": [{"criterion": "Argument: structure", "level": "Strong = clear"},
                           {"criterion": "Language", "level": "Excellent"}],
              "used_suggestion": True},
    )  # fmt: skip
    assert mark.status_code == 201, mark.text
    assert mark.json()["ai_suggestion_id"] == fresh["id"]
    assert mark.json()["ai_influence"] == "edited"


def test_another_tenants_ids_answer_like_missing_ones(
    api: TestClient, db: BoundDatabase, settings: Settings, configured: Settings,
    provider: ProviderServer,
) -> None:  # fmt: skip
    w = World(api, db, settings, configured)
    provider.script(ok(GOOD))
    made = api.post(f"{w.base}/suggestions", headers=w.headers).json()
    them = World(api, db, settings, configured)
    missing = f"/api/v1/attempts/{uuid.uuid4()}/questions/{ESSAY}"
    for method, tail, payload in [
        ("POST", "/suggestions", None),
        ("GET", "/suggestions/latest", None),
        ("POST", "/suggestions/discard", {"suggestion_id": made["id"]}),
    ]:
        theirs = api.request(method, w.base + tail, headers=them.headers, json=payload)
        absent = api.request(method, missing + tail, headers=them.headers, json=payload)
        assert theirs.status_code == absent.status_code == 404, (method, tail)
        strip = theirs.text.replace(str(w.attempt), "ID")
        assert strip == absent.text.replace(missing.split("/")[4], "ID")
    # Another grader of the same tenant can neither see nor discard it.
    other = bearer(api.app_ref, db, make_user(db, w.tenant.id, ["grader"]))  # type: ignore[attr-defined]
    assert api.get(f"{w.base}/suggestions/latest", headers=other).status_code == 404
    assert api.post(f"{w.base}/suggestions/discard", headers=other,
                    json={"suggestion_id": made["id"]}).status_code == 404  # fmt: skip
    assert len(provider.requests) == 1


def test_ai_off_is_a_clear_409(
    api: TestClient, db: BoundDatabase, settings: Settings, configured: Settings,
    provider: ProviderServer,
) -> None:  # fmt: skip
    w = World(api, db, settings, configured, opted=False)
    for method, tail in [("POST", "/suggestions"), ("GET", "/suggestions/latest")]:
        r = api.request(method, w.base + tail, headers=w.headers)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("ai-off") and "off" in r.json()["detail"]
    assert provider.requests == []


@pytest.mark.parametrize(
    ("behaviour", "status", "outcome"),
    [
        (slow(3.5), 504, "timeout"),
        (rate_limited(9), 429, "rate_limited"),
        (server_error(500), 502, "provider_error"),
        (ok({"criteria": [{"criterion": "Tone", "level": "x", "rationale": "y"}]}), 502,
         "malformed"),
    ],
)  # fmt: skip
def test_provider_failures_answer_their_problems(
    api: TestClient, db: BoundDatabase, settings: Settings, configured: Settings,
    provider: ProviderServer, behaviour: Any, status: int, outcome: str,
) -> None:  # fmt: skip
    w = World(api, db, settings, configured)
    provider.script(behaviour)
    r = api.post(f"{w.base}/suggestions", headers=w.headers)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    with db.unit_of_work(w.tenant.id) as uow:
        (usage,) = uow.scalars(select(AiUsage))
    assert usage.outcome == outcome and r.json()["usage_id"] == str(usage.id)
    if status == 429:
        assert r.headers["retry-after"] == "9"
    assert api.get(f"{w.base}/suggestions/latest", headers=w.headers).status_code == 404


def test_no_transaction_is_open_while_the_provider_thinks(
    database: Database, settings: Settings, urls: DatabaseUrls, provider: ProviderServer
) -> None:
    """Committed data and the real pool: while the provider answers, the
    app role has no connection idle in a transaction (the API and the page)."""
    configured = provider.settings(settings)
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        config.update(uow, configured, SecretBox(configured.keys_dir / "secrets.key"),
                      enabled=True, rubric_suggestions=True, question_drafting=False)  # fmt: skip
    exam = graded_exam(database, tenant.id)
    attempts = [submitted(database, tenant.id, kit_for(settings), exam) for _ in range(2)]
    grader = make_user(database, tenant.id, ["grader"])
    admin = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    seen: list[int] = []

    def look(_: dict[str, Any]) -> None:
        with admin.connect() as conn:
            seen.append(int(conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE usename = :role "
                     "AND datname = current_database() AND state LIKE 'idle in transaction%'"),
                {"role": configured.db_app_role},
            ).scalar_one()))  # fmt: skip

    provider.on_request = look
    provider.script(ok(GOOD), ok(GOOD))
    app = create_app(configured, database, run_jobs=False)
    try:
        with TestClient(app, raise_server_exceptions=False) as api:
            made = api.post(f"/api/v1/attempts/{attempts[0]}/questions/{ESSAY}/suggestions",
                            headers=bearer(app, database, grader))  # fmt: skip
            assert made.status_code == 201, made.text
        client, csrf = web_client(app, database, tenant.id, ["grader"])
        page = client.post(f"/grading/{attempts[1]}/{ESSAY}/suggestions", data={"csrf": csrf})
        assert page.status_code == 303, page.text
    finally:
        admin.dispose()
    assert seen == [0, 0]
