"""AI question drafting in a real browser, with the local provider server
answering: draft into a bank, review a draft in the editor, save it as a
question (with its provenance shown), discard the other; axe-clean at 1280
and 375 px."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from invigil.app import create_app
from invigil.db.engine import Database
from invigil.identity import service
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import ProviderServer, ok
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.content.factories import make_bank
from tests.content.test_drafting import GOOD_SC, GOOD_TF, opted_tenant
from tests.live import running

PASSWORD = "quartz-meadow-lantern-31"


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


@pytest.mark.parametrize("width", [1280, 375])
def test_an_author_drafts_reviews_and_saves_a_question(
    page: Page, database: Database, settings: Settings, provider: ProviderServer, width: int
) -> None:
    configured = provider.settings(settings)
    box = SecretBox(configured.keys_dir / "secrets.key")
    tenant = opted_tenant(database, configured, box)
    bank = make_bank(database, tenant, "Plant biology")
    email = f"author-{uuid.uuid4().hex[:6]}@school.test"
    with database.unit_of_work(tenant) as uow:
        service.create_user(uow, email=email, roles=["question_manager"], password=PASSWORD)
        slug = uow.session.execute(
            text("SELECT slug FROM tenants WHERE id = :t"), {"t": tenant}
        ).scalar_one()
    provider.script(ok({"questions": [GOOD_SC, GOOD_TF, {"body": {"type": "numeric"}}]}))
    page.set_viewport_size({"width": width, "height": 900})
    with running(create_app(configured, database, run_jobs=False)) as base:
        sign_in(page, base, slug, email, PASSWORD)
        page.goto(f"{base}/authoring/banks/{bank}")
        card = page.get_by_role("region", name="Draft questions with AI")
        expect(card).to_be_visible()
        assert_accessible(page, "the bank page with drafting")
        card.get_by_label("Topic or learning objective").fill("Photosynthesis in green plants")
        card.get_by_label("Number of questions").fill("3")
        card.get_by_label("True or false").check()
        card.get_by_role("button", name="Draft questions").click()
        status = page.get_by_role("status")
        expect(status).to_contain_text("2 drafts are ready for your review")
        expect(status).to_contain_text("Proposal 3 was not kept")
        expect(page.get_by_role("heading", name="AI drafts for Plant biology")).to_be_visible()
        assert_accessible(page, "the drafts page")
        page.get_by_role("link", name="Review draft 1").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Review AI draft")
        assert_accessible(page, "the draft review page")
        prompt = page.get_by_label("Question text")
        expect(prompt).to_have_value("What do plants release in photosynthesis?")
        prompt.fill("What do green plants release in photosynthesis?")
        page.get_by_role("button", name="Save as question").click()
        expect(page.get_by_role("status")).to_contain_text("Question created from the AI draft")
        expect(page.get_by_text("drafted by AI, reviewed by").first).to_be_visible()
        page.goto(f"{base}/authoring/banks/{bank}/drafts")
        page.get_by_role("button", name="Discard draft 1").click()
        expect(page.get_by_role("status")).to_contain_text("Draft discarded")
        expect(page.get_by_text("No drafts are waiting for review in this bank.")).to_be_visible()
        page.goto(f"{base}/authoring/banks/{bank}")
        expect(page.get_by_text("1 question in this bank")).to_be_visible()
    sent = provider.requests[0]["messages"][1]["content"]
    assert "Photosynthesis in green plants" in sent and email not in sent
