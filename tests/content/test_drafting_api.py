"""The drafting API and pages: roles, another tenant's ids, AI off, provider
failures as their problems, and the page flow draft -> review -> save."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil.app import create_app
from invigil.content.models import QuestionDraft, QuestionVersion
from invigil.db.engine import Database
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import ProviderServer, held, ok, rate_limited, slow
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.content.draft_factories import make_drafts
from tests.content.factories import SAMPLES, make_bank
from tests.content.test_drafting import GOOD_SC, GOOD_TF, opted_tenant
from tests.test_pages_matrix import web_client

ASK = {"topic": "Photosynthesis", "count": 2, "types": ["single_choice", "true_false"]}
FORM = {"topic": "Photosynthesis", "count": "1", "types": ["true_false"], "language": "en"}


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.fixture
def configured(settings: Settings, provider: ProviderServer) -> Settings:
    return provider.settings(settings)


@pytest.fixture
def ai_app(configured: Settings, db: BoundDatabase) -> FastAPI:
    return create_app(configured, db, run_jobs=False)


@pytest.fixture
def ai_client(ai_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(ai_app, raise_server_exceptions=False) as c:
        yield c


def test_draft_list_accept_and_discard_over_the_api(
    ai_app: FastAPI, ai_client: TestClient, db: BoundDatabase, configured: Settings,
    provider: ProviderServer,
) -> None:  # fmt: skip
    box = SecretBox(configured.keys_dir / "secrets.key")
    tenant = opted_tenant(db, configured, box)
    bank = make_bank(db, tenant)
    author = bearer(ai_app, db, make_user(db, tenant, ["question_manager"]))
    provider.script(ok({"questions": [GOOD_SC, {"body": {"type": "true_false"}}, GOOD_TF]}))
    r = ai_client.post(f"/api/v1/banks/{bank}/drafts", json=ASK, headers=author)
    assert r.status_code == 201, r.text
    made = r.json()
    assert [d["type"] for d in made["items"]] == ["single_choice"]
    assert made["rejected"][0]["number"] == 2 and made["rejected"][1]["number"] == 3
    listed = ai_client.get(f"/api/v1/banks/{bank}/drafts", headers=author).json()["items"]
    assert [d["id"] for d in listed] == [made["items"][0]["id"]]
    counted = ai_client.get(f"/api/v1/banks/{bank}", headers=author).json()
    assert counted["questions"] == 0
    draft = listed[0]["id"]
    body = dict(SAMPLES["single_choice"], category="Reviewed")
    r = ai_client.post(f"/api/v1/drafts/{draft}/accept", json=body, headers=author)
    assert r.status_code == 201, r.text
    assert r.json()["versions"][0]["drafted_from"] == draft
    assert ai_client.get(f"/api/v1/banks/{bank}", headers=author).json()["questions"] == 1
    again = ai_client.post(f"/api/v1/drafts/{draft}/accept", headers=author)
    assert again.status_code == 409
    (other,) = make_drafts(db, tenant, bank)
    r = ai_client.post(f"/api/v1/drafts/{other}/discard", headers=author)
    assert r.status_code == 200 and r.json()["status"] == "discarded"
    assert ai_client.get(f"/api/v1/banks/{bank}/drafts", headers=author).json()["items"] == []


def test_roles_other_tenants_ai_off_and_provider_failures(
    ai_app: FastAPI, ai_client: TestClient, db: BoundDatabase, configured: Settings,
    provider: ProviderServer,
) -> None:  # fmt: skip
    box = SecretBox(configured.keys_dir / "secrets.key")
    tenant = opted_tenant(db, configured, box)
    bank = make_bank(db, tenant)
    grader = bearer(ai_app, db, make_user(db, tenant, ["grader"]))
    assert ai_client.post(f"/api/v1/banks/{bank}/drafts", json=ASK,
                          headers=grader).status_code == 403  # fmt: skip
    other = opted_tenant(db, configured, box)
    intruder = bearer(ai_app, db, make_user(db, other, ["question_manager"]))
    theirs = ai_client.post(f"/api/v1/banks/{bank}/drafts", json=ASK, headers=intruder)
    missing = ai_client.post(f"/api/v1/banks/{uuid.uuid4()}/drafts", json=ASK, headers=intruder)
    assert theirs.status_code == missing.status_code == 404
    (draft,) = make_drafts(db, tenant, bank)
    for path in (f"/api/v1/drafts/{draft}/discard", f"/api/v1/drafts/{draft}/accept"):
        assert ai_client.post(path, headers=intruder).status_code == 404
    assert provider.requests == []
    author = bearer(ai_app, db, make_user(db, tenant, ["question_manager"]))
    provider.script(rate_limited(11), slow(3.5), ok("not json"))
    expected = [(429, "ai-busy"), (504, "ai-unavailable"), (502, "ai-unavailable")]
    for status, slug in expected:
        r = ai_client.post(f"/api/v1/banks/{bank}/drafts", json=ASK, headers=author)
        assert r.status_code == status and r.json()["type"].endswith(slug), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "usage_id" in r.json()
    off = make_tenant(db, configured).id  # never opted in
    off_author = bearer(ai_app, db, make_user(db, off, ["question_manager"]))
    r = ai_client.post(f"/api/v1/banks/{make_bank(db, off)}/drafts", json=ASK, headers=off_author)
    assert r.status_code == 409 and r.json()["type"].endswith("ai-off")
    bad = ai_client.post(f"/api/v1/banks/{bank}/drafts", json=ASK | {"count": 11}, headers=author)
    assert bad.status_code == 422


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_pages_show_drafting_only_when_available_and_save_with_provenance(
    ai_app: FastAPI, app: FastAPI, db: BoundDatabase, configured: Settings,
    provider: ProviderServer,
) -> None:  # fmt: skip
    box = SecretBox(configured.keys_dir / "secrets.key")
    tenant = opted_tenant(db, configured, box)
    bank = make_bank(db, tenant)
    page, csrf = web_client(ai_app, db, tenant, ["question_manager"])
    html = page.get(f"/authoring/banks/{bank}").text
    assert "Draft questions with AI" in html
    bad = page.post(
        f"/authoring/banks/{bank}/drafts",
        data={"csrf": csrf, "topic": "x", "count": "2", "types": ["essay"], "language": "en"},
    )
    assert bad.status_code == 422 and "Nothing was drafted" in bad.text
    provider.script(ok({"questions": [GOOD_SC, GOOD_TF]}))
    r = page.post(f"/authoring/banks/{bank}/drafts", data={
        "csrf": csrf, "topic": "Photosynthesis", "count": "2",
        "types": ["single_choice", "true_false"], "difficulty": "easy", "language": "en",
    }, follow_redirects=True)  # fmt: skip
    assert r.status_code == 200 and "2 drafts are ready for your review" in r.text
    drafts = list(dict.fromkeys(re.findall(r'href="/authoring/drafts/([0-9a-f-]{36})"', r.text)))
    assert len(drafts) == 2
    review = page.get(f"/authoring/drafts/{drafts[0]}")
    assert "What do plants release in photosynthesis?" in review.text
    saved = page.post(f"/authoring/drafts/{drafts[0]}", data={
        "csrf": csrf, "category": "Biology", "difficulty": "easy", "points": "1",
        "prompt": "What do green plants release?", "choice": ["Oxygen", "Nitrogen"],
        "correct": ["0"],
    }, follow_redirects=True)  # fmt: skip
    assert saved.status_code == 200 and "drafted by AI, reviewed by" in saved.text
    with db.unit_of_work(tenant) as uow:
        (v,) = uow.scalars(
            select(QuestionVersion).where(QuestionVersion.drafted_from == uuid.UUID(drafts[0]))
        )
        assert v.body["prompt"] == "What do green plants release?"
        assert uow.get(QuestionDraft, uuid.UUID(drafts[1])).status == "pending"
    gone = page.post(f"/authoring/drafts/{drafts[1]}/discard", data={"csrf": csrf})
    assert gone.status_code == 303
    # Where the server has no provider, nothing of AI shows on the bank's page.
    plain, _ = web_client(app, db, tenant, ["question_manager"])
    text = plain.get(f"/authoring/banks/{bank}").text
    assert "Draft questions with AI" not in text and "/drafts" not in text


def _in_transaction(database: Database) -> int:
    """Other connections of this database idle inside a transaction."""
    with database.engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
        )).scalar_one())  # fmt: skip


def test_no_transaction_is_held_while_the_provider_thinks(
    database: Database, configured: Settings, provider: ProviderServer
) -> None:
    """The request that asks (API and page) has checked its caller and ended
    that transaction before the provider is called."""
    box = SecretBox(configured.keys_dir / "secrets.key")
    tenant = opted_tenant(database, configured, box)
    bank = make_bank(database, tenant)
    live = create_app(configured, database, run_jobs=False)
    with TestClient(live, raise_server_exceptions=False) as api:
        author = bearer(live, database, make_user(database, tenant, ["question_manager"]))
        page, csrf = web_client(live, database, tenant, ["question_manager"])
        calls = [
            lambda: api.post(f"/api/v1/banks/{bank}/drafts", json=ASK, headers=author),
            lambda: page.post(f"/authoring/banks/{bank}/drafts", data=FORM | {"csrf": csrf}),
        ]
        for call in calls:
            answer = held(ok({"questions": [GOOD_TF]}))
            provider.script(answer)
            done: list[int] = []
            worker = threading.Thread(target=lambda c=call, d=done: d.append(c().status_code))
            worker.start()
            assert answer.arrived is not None and answer.gate is not None
            assert answer.arrived.wait(20)
            try:
                assert _in_transaction(database) == 0
            finally:
                answer.gate.set()
                worker.join(30)
            assert done and done[0] in (201, 303)
    with database.unit_of_work(tenant) as uow:
        assert len(uow.scalars(select(QuestionDraft))) == 2
