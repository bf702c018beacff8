"""A results viewer compares candidates in a real browser: ticks three rows
of the essay exam's results, presses "Compare the selected", reads them side
by side (axe finds nothing serious) and, at 375 px, scrolls the comparison
sideways while the first column (what each row is) stays in view and the
page itself never scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil import demo
from invigil.content.models import Exam
from invigil.db import platform
from invigil.db.engine import Database
from invigil.results.demo import EXAM
from invigil.settings import Settings
from tests.browser import staff_pages
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.delivery.factories import kit_for

PAGE_WIDTH = "() => document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def essay_exam(database: Database, settings: Settings) -> str:
    demo.seed(database, regions=settings.regions, kit=kit_for(settings))
    ref = platform.tenant_by_slug(database, staff_pages.DEMO_TENANT)
    assert ref is not None
    with database.unit_of_work(ref.id) as uow:
        return str(uow.scalar(select(Exam.id).where(Exam.slug == EXAM)))


def test_a_results_viewer_compares_three_candidates_at_1280_and_375(
    page: Page, live_server: str, essay_exam: str
) -> None:
    sign_in(page, live_server, "acme", "results_viewer@acme.test", demo.DEFAULT_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/exams/{essay_exam}/results")
    boxes = page.get_by_role("checkbox", name="Compare")
    names, ids = [], []
    for i in range(3):
        box = boxes.nth(i)
        box.check()
        names.append(str(box.get_attribute("aria-label")).removeprefix("Compare "))
        ids.append(str(box.get_attribute("value")))
    page.get_by_role("button", name="Compare the selected").click()
    query = "&".join(f"attempt={i}" for i in ids)
    expect(page).to_have_url(f"{live_server}/results/compare?{query}")
    expect(page.get_by_role("heading", name="Compare candidates")).to_be_visible()
    table = page.get_by_role("table", name="3 candidates side by side")
    for name in names:
        expect(table.get_by_role("columnheader", name=name)).to_be_visible()
    expect(table.get_by_role("rowheader", name="Writing")).to_be_visible()
    expect(table.get_by_role("rowheader", name="Marks given by people")).to_be_visible()
    assert_accessible(page, "candidates compared (1280 px)")

    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(PAGE_WIDTH) <= 0  # the table scrolls in its own box
    region = page.get_by_role("region", name="3 candidates side by side (scrolls sideways)")
    region.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
    score = table.get_by_role("rowheader", name="Score")
    box = score.bounding_box()
    assert box is not None and 0 <= box["x"] < 60  # the first column stayed in view
    expect(table.get_by_role("columnheader", name=names[-1])).to_be_in_viewport()
    assert_accessible(page, "candidates compared (375 px)")

    # Too few: the same page says what the parameter needs.
    page.goto(page.url.split("&")[0])
    expect(page.get_by_text("give two to four attempts to compare")).to_be_visible()
