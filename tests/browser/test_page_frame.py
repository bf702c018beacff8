"""The shared page pieces in a real browser: a refused form puts its error
summary first and focuses it, its links focus the field; unknown addresses
are pages; no page asks for an icon that is not there; a one-shot message."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, Response, expect

from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.content.factories import make_question

PASSWORD = "copper-meadow-signal-31"
SHOTS = Path(os.environ.get("INVIGIL_SHOTS", "/tmp/invigil-frame-shots"))


@pytest.fixture(scope="module")
def author(database: Database, settings: Settings) -> tuple[str, str, uuid.UUID]:
    tenant = make_tenant(database, settings)
    email = f"author-{uuid.uuid4().hex[:6]}@school.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=email, roles=["exam_author", "question_manager"], password=PASSWORD
        )
    return tenant.slug, email, make_question(database, tenant.id)


def test_points_abc_shows_the_summary_focused_and_its_link_focuses_the_field(
    page: Page, live_server: str, author: tuple[str, str, uuid.UUID]
) -> None:
    tenant, email, qid = author
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    sign_in(page, live_server, tenant, email, PASSWORD)
    page.goto(f"{live_server}/authoring/questions/{qid}")
    page.get_by_label("Question text").fill("Typed and kept")
    page.get_by_label("Points").fill("abc")
    page.get_by_role("button", name="Save as new version").click()

    summary = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    assert page.evaluate("window.scrollY") < 200  # the summary is in view, not 950 px down
    expect(page.get_by_label("Points")).to_have_value("abc")
    expect(page.get_by_label("Points")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Question text")).to_have_value("Typed and kept")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SHOTS / f"question-error-{width}.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    summary.get_by_role("link", name="Points").click()
    expect(page.get_by_label("Points")).to_be_focused()
    assert not missing, missing  # the favicon and the icon are there


def test_an_unknown_address_is_a_page_and_a_save_says_so_once(
    page: Page, live_server: str, author: tuple[str, str, uuid.UUID]
) -> None:
    tenant, email, qid = author
    sign_in(page, live_server, tenant, email, PASSWORD)
    answer: Response | None = page.goto(f"{live_server}/no/such/page")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "not-found-1280.png"))

    page.goto(f"{live_server}/authoring/questions/{qid}")
    page.get_by_label("Points").fill("3")
    page.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as a new version")
    page.screenshot(path=str(SHOTS / "flash-1280.png"))
    page.reload()
    expect(page.get_by_text("Saved as a new version")).to_have_count(0)
