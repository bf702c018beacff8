"""The home page in a real browser, against the real app and database."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect


def test_home_page_links_to_the_api_reference(page: Page, live_server: str) -> None:
    response = page.goto(f"{live_server}/")
    assert response is not None and response.status == 200
    expect(page).to_have_title("Invigil")
    expect(page.get_by_role("heading", name="Invigil")).to_be_visible()
    page.screenshot(path="/tmp/invigil-home.png", full_page=True)

    # Swagger UI loads its JS and CSS from a CDN that is not reachable here:
    # refuse those at once, check the server's answer rather than the UI.
    page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
    with page.expect_response(f"{live_server}/api/docs") as docs:
        page.get_by_role("link", name="API reference").click()
    assert docs.value.status == 200
    assert "swagger" in docs.value.text().lower()
    expect(page).to_have_url(f"{live_server}/api/docs")
    expect(page).to_have_title("Invigil - Swagger UI")


def test_readyz_says_ready(page: Page, live_server: str) -> None:
    response = page.goto(f"{live_server}/readyz")
    assert response is not None and response.status == 200
    body = json.loads(page.locator("body").inner_text())
    assert body["status"] == "ready", body
    assert response.json()["status"] == "ready"
