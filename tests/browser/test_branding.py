"""Branding as people meet it: an admin uploads a logo and picks a colour
(a colour too light is refused in place), and the candidate's pages show the
organisation's name, logo and colour. Both pages pass axe and fit 375 px."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from tests.browser import axe
from tests.browser import candidate as c
from tests.browser.test_admin import ADMIN_PASSWORD, sign_in
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for
from tests.tenants.test_branding import logo_png


def test_an_admin_brands_the_candidates_pages(
    page: Page, database: Database, settings: Settings, live_server: str, tmp_path: Path
) -> None:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email="bea@brand.test", roles=["tenant_admin"], password=ADMIN_PASSWORD
        )
    sign_in(page, live_server, tenant.slug, "bea@brand.test", ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Branding").click()
    expect(page.get_by_role("heading", name="Branding", exact=True)).to_be_visible()

    page.get_by_role("textbox", name="Accent colour").fill("#ffd700")
    page.get_by_role("button", name="Save colour").click()
    expect(page.get_by_role("alert", name="There is a problem")).to_contain_text("4.5:1")
    expect(page.locator("#accent-error")).to_contain_text("4.5:1")
    expect(page.get_by_role("textbox", name="Accent colour")).to_have_attribute(
        "aria-invalid", "true"
    )
    page.get_by_role("textbox", name="Accent colour").fill("#7a1f5c")
    page.get_by_role("button", name="Save colour").click()
    expect(page.get_by_role("status")).to_contain_text("Accent colour saved")

    logo = tmp_path / "logo.png"
    logo.write_bytes(logo_png(200, 60))
    page.get_by_label("Upload a logo").set_input_files(logo)
    page.get_by_role("button", name="Upload logo").click()
    expect(page.get_by_role("status")).to_contain_text("Logo saved")
    expect(page.get_by_role("img", name="Your current logo")).to_be_visible()
    axe.assert_accessible(page, "the branding page")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    org = c.Org(tenant.id, database, kit_for(settings), live_server)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(org.link(org.exam()))
    header = page.locator("header")
    expect(header).to_contain_text(tenant.name)
    expect(header).not_to_contain_text("Invigil")
    header_logo = header.locator("img")
    expect(header_logo).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", header_logo.element_handle()) == 200
    colour = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert colour == "rgb(122, 31, 92)"
    expect(page).to_have_title(re.compile(rf"{re.escape(tenant.name)}$"))
    axe.assert_accessible(page, "the branded landing page")
    page.screenshot(path="/tmp/invigil-branded-landing.png", full_page=True)
