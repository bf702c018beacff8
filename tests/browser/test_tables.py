"""The shared data table at phone width, in a real browser: the page never
scrolls sideways (the table scrolls inside its own labelled, focusable
region), the exam filter stays inside its card, sorting by a header works,
and axe finds no serious or critical problem."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for, make_invitation, published_exam

PASSWORD = "lantern-meadow-copper-42"
LONG_TITLE = "Certified secure software developer examination, advanced level, part two"


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings) -> tuple[str, str]:
    tenant = make_tenant(database, settings)
    admin = "wide@tables.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=admin, roles=["tenant_admin"], password=PASSWORD, display_name="Wide"
        )
        for n in range(3):
            service.create_user(
                uow,
                email=f"a-rather-long-address-number-{n}-{uuid.uuid4().hex}@tables.test",
                roles=["grader", "proctor_reviewer"],
                display_name=f"Person with a long name {n}",
            )
    exam = published_exam(database, tenant.id, title=LONG_TITLE)
    make_invitation(database, tenant.id, kit_for(settings), exam)
    return tenant.slug, admin


def no_page_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    view = page.evaluate("document.documentElement.clientWidth")
    assert width <= view, f"the page is {width} px wide at {view} px: it scrolls sideways"


@pytest.mark.parametrize(
    "path", ["/delivery/attempts", "/admin/users", "/delivery/invitations", "/admin/audit"]
)
def test_at_375_px_the_page_never_scrolls_sideways(
    page: Page, live_server: str, org: tuple[str, str], path: str
) -> None:
    slug, admin = org
    sign_in(page, live_server, slug, admin, PASSWORD)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server + path)
    no_page_scroll(page)
    region = page.locator(".dt-scroll")
    if region.count():  # a wide table scrolls inside its region, which a keyboard can reach
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("aria-label")
    assert_accessible(page, f"{path} at 375 px")


def test_the_attempts_exam_filter_stays_in_its_card(
    page: Page, live_server: str, org: tuple[str, str]
) -> None:
    slug, admin = org
    sign_in(page, live_server, slug, admin, PASSWORD)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server + "/delivery/attempts")
    card = page.locator("form[role=search]").bounding_box()
    select = page.get_by_label("Exam").bounding_box()
    assert card and select
    assert select["x"] + select["width"] <= card["x"] + card["width"], (select, card)


def test_the_users_table_scrolls_inside_and_sorts_by_a_header(
    page: Page, live_server: str, org: tuple[str, str]
) -> None:
    slug, admin = org
    sign_in(page, live_server, slug, admin, PASSWORD)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_server + "/admin/users")
    region = page.locator(".dt-scroll")
    wide = region.evaluate("el => el.scrollWidth > el.clientWidth")
    assert wide, "the users table should be wider than a phone and scroll inside its region"
    header = page.get_by_role("columnheader", name="Email")
    expect(header).to_have_attribute("aria-sort", "ascending")
    header.get_by_role("link").click()
    expect(page.get_by_role("columnheader", name="Email")).to_have_attribute(
        "aria-sort", "descending"
    )
    first = page.locator("table.dt tbody tr").first
    expect(first).to_contain_text("wide@tables.test")  # "w" sorts last, so first descending
    no_page_scroll(page)
