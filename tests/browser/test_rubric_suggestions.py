"""AI-suggested rubric marks in the browser, with the local provider server
running: a grader asks for a suggestion, reads it beside the form (labelled
as AI, with its rationale), uses it, changes one level and saves their own
mark; the mark records that the suggestion was edited, and the provider
never received the candidate's name, e-mail address or reference."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.ai import config
from invigil.app import create_app
from invigil.db.engine import Database
from invigil.results.models import GradingMark, RubricSuggestion
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.ai.provider_server import ProviderServer, ok
from tests.browser.axe import assert_accessible
from tests.browser.test_grading import _sign_in
from tests.conftest import make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.live import running
from tests.results.factories import graded_exam, submitted
from tests.results.test_suggestions import GOOD, SIGNED, WHO


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        yield server


def _accessible(page: Page, what: str) -> None:
    for width, height in ((1280, 800), (375, 800)):
        page.set_viewport_size({"width": width, "height": height})
        assert_accessible(page, f"{what} at {width} px")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_suggest_use_edit_and_submit(
    page: Page, database: Database, settings: Settings, provider: ProviderServer
) -> None:
    configured = provider.settings(settings)
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        config.update(uow, configured, SecretBox(configured.keys_dir / "secrets.key"),
                      enabled=True, rubric_suggestions=True, question_drafting=False)  # fmt: skip
    exam = graded_exam(database, tenant.id)
    attempt = submitted(
        database, tenant.id, kit_for(settings), exam, {0: 1, 1: SIGNED, 2: "Bonn"}, **WHO
    )
    grader = make_user(database, tenant.id, ["grader"])
    provider.script(ok(GOOD, prompt=300, completion=90))

    with running(create_app(configured, database, run_jobs=False)) as base:
        _sign_in(page, base, tenant.slug, grader.email)
        page.goto(f"{base}/grading/{attempt}/1")
        expect(page.get_by_role("heading", name="AI-suggested marks")).to_be_visible()
        _accessible(page, "the marking page before a suggestion")
        page.get_by_role("button", name="Suggest marks").click()
        expect(page.get_by_text("AI-suggested marks are shown beside your form.")).to_be_visible()
        box = page.get_by_role("region", name="AI-suggested marks")
        expect(box.get_by_text("AI suggestion, not a mark")).to_be_visible()
        expect(box).to_contain_text("A clear claim, supported.")
        expect(box).to_contain_text("A short but sound argument.")
        expect(box).to_contain_text("These levels would give 8 of 10 points.")
        _accessible(page, "the marking page with a suggestion")

        box.get_by_role("button", name="Use these marks").click()
        form = page.get_by_role("region", name="Your mark")
        structure = form.get_by_role("group", name="Argument: structure")
        language = form.get_by_role("group", name="Language")
        expect(structure.get_by_label("Strong = clear")).to_be_checked()
        expect(language.get_by_label("Good")).to_be_checked()
        expect(page.locator("output[data-rubric-total]")).to_have_text("8")
        expect(page.get_by_text("The AI-suggested levels are filled in")).to_be_visible()
        _accessible(page, "the marking form filled from a suggestion")

        language.get_by_label("Excellent").check()  # the grader disagrees on one level
        expect(page.locator("output[data-rubric-total]")).to_have_text("10")
        page.get_by_role("button", name="Save mark").click()
        expect(page.get_by_text("Mark recorded.")).to_be_visible()

    with database.unit_of_work(tenant.id) as uow:
        (suggestion,) = uow.scalars(select(RubricSuggestion))
        (mark,) = uow.scalars(select(GradingMark))
    assert mark.grader_id == grader.id and mark.total == 10
    assert (mark.ai_suggestion_id, mark.ai_influence) == (suggestion.id, "edited")
    assert suggestion.attempt_id == uuid.UUID(str(attempt))
    sent = json.dumps(provider.requests, ensure_ascii=False).lower()
    assert len(provider.requests) == 1 and "widens the pool" in sent
    for secret in ("jolanda", "vermeer", "jv.private", "ext-99812", str(attempt)):
        assert secret not in sent, secret
