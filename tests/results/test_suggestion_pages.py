"""The marking page's AI part without a browser: nothing AI where AI is off
(no opt-in, or no provider); suggest, use, discard; a failed call shown on
the page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from invigil.ai import config
from invigil.app import create_app
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import ProviderServer, ok, rate_limited
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted
from tests.results.test_suggestions import GOOD
from tests.test_pages_matrix import web_client

ESSAY = 1


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def _world(
    db: BoundDatabase, settings: Settings, provider: ProviderServer, *, opted: bool,
    served: Settings | None = None,
) -> tuple[TestClient, str, str, Any]:  # fmt: skip
    configured = provider.settings(settings)
    tenant = make_tenant(db, settings)
    if opted:
        box = SecretBox(configured.keys_dir / "secrets.key")
        with db.unit_of_work(tenant.id) as uow:
            config.update(uow, configured, box, enabled=True, rubric_suggestions=True,
                          question_drafting=False)  # fmt: skip
    attempt = submitted(db, tenant.id, kit_for(settings), graded_exam(db, tenant.id))
    app = create_app(served or configured, db, run_jobs=False)
    client, csrf = web_client(app, db, tenant.id, ["grader"])
    return client, csrf, f"/grading/{attempt}/{ESSAY}", tenant


def _main(html: str) -> str:
    found = re.search(r"<main.*?</main>", html, re.S)
    assert found is not None
    return found.group(0)


@pytest.mark.parametrize("why", ["not opted in", "no provider"])
def test_where_ai_is_off_nothing_ai_shows(
    db: BoundDatabase, settings: Settings, provider: ProviderServer, why: str
) -> None:
    if why == "not opted in":
        client, csrf, page, _ = _world(db, settings, provider, opted=False)
    else:  # opted in, then the server runs without a provider
        client, csrf, page, _ = _world(db, settings, provider, opted=True, served=settings)
    shown = client.get(page)
    assert shown.status_code == 200
    main = _main(shown.text)
    assert "Save mark" in main
    assert "AI" not in main and "Suggest" not in main and "suggest" not in main
    refused = client.post(f"{page}/suggestions", data={"csrf": csrf})
    assert refused.status_code == 409 and "off" in refused.text
    assert provider.requests == []


def test_suggest_use_and_discard(
    db: BoundDatabase, settings: Settings, provider: ProviderServer
) -> None:
    client, csrf, page, _ = _world(db, settings, provider, opted=True)
    assert "Suggest marks" in client.get(page).text
    provider.script(ok(GOOD))
    done = client.post(f"{page}/suggestions", data={"csrf": csrf})
    assert done.status_code == 303 and done.headers["location"] == page
    shown = _main(client.get(page).text)
    assert "AI-suggested marks" in shown and "AI suggestion, not a mark" in shown
    assert "A clear claim, supported." in shown and "Use these marks" in shown
    assert "Suggest marks" not in shown
    found = re.search(r'name="use" value="([0-9a-f-]{36})"', shown)
    assert found is not None
    used = _main(client.get(page, params={"use": found.group(1)}).text)
    assert re.search(r'value="Strong = clear"[^>]*checked', used)
    assert re.search(r'value="Good"[^>]*checked', used)
    assert 'name="used_suggestion" value="1"' in used
    # a stale or foreign id fills nothing
    other = _main(client.get(page, params={"use": str(uuid.uuid4())}).text)
    assert "checked" not in other and "used_suggestion" not in other
    gone = client.post(f"{page}/suggestions/discard",
                       data={"csrf": csrf, "suggestion": found.group(1)})  # fmt: skip
    assert gone.status_code == 303
    after = _main(client.get(page).text)
    assert "A clear claim, supported." not in after and "Suggest marks" in after


def test_a_failed_call_is_shown_on_the_page(
    db: BoundDatabase, settings: Settings, provider: ProviderServer
) -> None:
    client, csrf, page, _ = _world(db, settings, provider, opted=True)
    provider.script(rate_limited(5))
    r = client.post(f"{page}/suggestions", data={"csrf": csrf})
    assert r.status_code == 429
    assert "rate-limiting" in r.text and "Save mark" in r.text
    assert client.post(f"{page}/suggestions", data={"csrf": "forged"}).status_code == 403
