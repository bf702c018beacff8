"""Generated over every staff page (tests/browser/staff_pages.py, from the
app's routes; ids from the demo tenant): axe-core finds no serious or
critical problem, and at 375 px the page itself never scrolls sideways
(wide tables scroll inside their own box)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect

from invigil import demo
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import staff_pages
from tests.browser.axe import describe, violations
from tests.delivery.factories import kit_for

PHONE = 375
SETTLED = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
# The page's own sideways scroll, not a table's or a code block's inside it.
OVERFLOW = """() => {
  const doc = document.scrollingElement;
  if (doc.scrollWidth <= window.innerWidth) return null;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.right > window.innerWidth + 1 && !el.closest(".tablewrap")) {
      wide.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : ""} (${Math.round(r.right)} px)`);
    }
    if (wide.length >= 5) break;
  }
  return {width: doc.scrollWidth, widest: wide};
}"""


@pytest.fixture(scope="module")
def seeded(database: Database, settings: Settings) -> dict[str, str]:
    """The demo tenants (idempotent), and one real id per path parameter."""
    staff_pages.seed_demo(database, settings.regions, kit_for(settings))
    return staff_pages.demo_ids(database)


@pytest.fixture
def admin(browser: Browser, live_server: str, seeded: dict[str, str]) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{live_server}/signin")
    page.get_by_label("Tenant").fill(staff_pages.DEMO_TENANT)
    page.get_by_label("Email").fill(staff_pages.DEMO_ADMIN)
    page.get_by_label("Password", exact=True).fill(demo.DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/home")
    try:
        yield page
    finally:
        context.close()


def test_the_list_holds_every_staff_page_route(app: FastAPI) -> None:
    """A new staff route is a page in the list, or a file named in NOT_PAGES."""
    routes = set(staff_pages.staff_get_routes(app))
    assert routes >= staff_pages.NOT_PAGES, "NOT_PAGES names a route that is gone"
    fake = dict.fromkeys(staff_pages.ID_QUERIES, "x")
    listed = {route for route, _ in staff_pages.staff_pages(app, fake)}
    assert listed | staff_pages.NOT_PAGES == routes
    assert len(listed) >= 20
    params = {p for r in listed for p in staff_pages.PARAM.findall(r)}
    assert params <= set(staff_pages.ID_QUERIES), "add the parameter to ID_QUERIES"


def _problems(page: Page, live_server: str, route: str, url: str) -> list[str]:
    """axe-core at 1280 and 375 px, and the page's own width at 375 px."""
    page.set_viewport_size({"width": 1280, "height": 800})
    response = page.goto(f"{live_server}{url}")
    assert response is not None
    if response.status != 200:
        return [f"{route}: answered {response.status}"]
    problems: list[str] = []
    found = violations(page)
    if found:
        problems.append(f"{route}: axe-core at 1280 px\n{describe(found)}")
    page.set_viewport_size({"width": PHONE, "height": 800})
    page.evaluate(SETTLED)  # the page's resize observers have run
    found = violations(page)
    if found:
        problems.append(f"{route}: axe-core at {PHONE} px\n{describe(found)}")
    wide = page.evaluate(OVERFLOW)
    if wide:
        problems.append(
            f"{route}: {wide['width']} px wide at {PHONE} px; too wide: {wide['widest']}"
        )
    return problems


def test_every_staff_page_is_accessible_and_fits_a_phone(
    admin: Page, app: FastAPI, live_server: str, seeded: dict[str, str]
) -> None:
    problems: list[str] = []
    pages = staff_pages.staff_pages(app, seeded)
    for route, url in pages:
        problems += _problems(admin, live_server, route, url)
    assert problems == [], f"{len(problems)} problem(s) on {len(pages)} pages:\n" + "\n".join(
        problems
    )


# Translated staff pages a German user reads (German words are longer: the
# phone width is where they would break the layout).
GERMAN_PAGES = ("/home", "/account", "/admin/users", "/admin/users/{user_id}", "/admin/roles",
                "/admin/roles/{role_id}", "/admin/security", "/admin/branding", "/admin/audit",
                "/admin/audit/{event_id}")  # fmt: skip


def test_staff_pages_in_german_are_accessible_and_fit_a_phone(
    admin: Page, app: FastAPI, live_server: str, seeded: dict[str, str]
) -> None:
    admin.goto(f"{live_server}/account")
    admin.get_by_label("Language of the staff pages").select_option("de")
    admin.get_by_role("button", name="Save language").click()
    try:
        expect(admin.locator("html")).to_have_attribute("lang", "de")
        expect(admin.get_by_role("heading", name="Ihr Konto", exact=True)).to_be_visible()
        listed = dict(staff_pages.staff_pages(app, seeded))
        problems: list[str] = []
        for route in GERMAN_PAGES:
            problems += _problems(admin, live_server, route, listed[route])
            lang = admin.locator("html").get_attribute("lang")
            if lang != "de":
                problems.append(f"{route}: <html lang={lang!r}>")
        nav = admin.get_by_role("navigation", name="Hauptnavigation")
        expect(nav.get_by_role("link", name="Prüfprotokoll")).to_be_visible()
        assert problems == [], "\n".join(problems)
    finally:
        admin.set_viewport_size({"width": 1280, "height": 800})
        admin.goto(f"{live_server}/account")
        admin.get_by_label("Sprache der Mitarbeiterseiten").select_option("en")
        admin.get_by_role("button", name="Sprache speichern").click()
        expect(admin.locator("html")).to_have_attribute("lang", "en")


def test_the_home_page_draws_its_charts_with_their_data_tables(
    admin: Page, live_server: str
) -> None:
    admin.goto(f"{live_server}/home")
    chart = admin.get_by_role("figure", name="Attempts started and submitted per day")
    expect(chart.get_by_role("img")).to_be_visible()  # the canvas, drawn
    chart.get_by_text("Data table").click()
    table = chart.get_by_role("table")
    expect(table.get_by_role("columnheader", name="Submitted")).to_be_visible()
    drawn = admin.evaluate(
        "() => [...document.querySelectorAll('figure.chart canvas')]"
        ".map((c) => window.Chart && window.Chart.getChart(c) ? c.id : null)"
    )
    assert "chart-attempts" in drawn
