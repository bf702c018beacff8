"""The candidate's pages with axe-core (no serious or critical problems) and
the whole exam done with the keyboard alone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def test_landing_player_and_confirmation_have_no_serious_accessibility_problems(
    page: Page, org: c.Org
) -> None:
    link = org.link(org.exam(time_limit_minutes=45), extra_time_percent=25)
    page.goto(link)
    assert_accessible(page, "the landing page")
    c.start(page, link)
    paper = c.paper(page)
    for i, q in enumerate(paper):
        c.heading(page, i + 1, 8)
        c.answer(page, q["type"])
        assert_accessible(page, f"the player, question {i + 1} ({q['type']})")
        if i < 7:
            page.get_by_role("button", name="Next", exact=True).click()
    page.context.set_offline(True)
    page.get_by_role("button", name="Flag for review").click()
    expect(page.get_by_role("status").filter(has_text="You are offline")).to_be_visible()
    assert_accessible(page, "the player, offline")
    page.context.set_offline(False)
    c.saved(page)
    page.set_viewport_size({"width": 390, "height": 844})
    assert_accessible(page, "the player on a narrow screen")
    page.get_by_role("button", name="Submit exam").click()
    expect(page.get_by_role("dialog", name="Submit your exam?")).to_be_visible()
    assert_accessible(page, "the submit confirmation")
    page.get_by_role("button", name="Submit now").click()
    expect(page).to_have_url(re.compile(r"/done$"))
    assert_accessible(page, "the confirmation page")


def test_a_failed_system_check_has_no_serious_accessibility_problems(
    page: Page, org: c.Org
) -> None:
    # "standard" needs a camera; this browser has none, so the check fails.
    c.start(page, org.link(org.exam(proctoring_preset="standard")))
    camera = page.locator(".check-item").filter(has_text="Camera:")
    expect(camera).to_contain_text("not ready")
    expect(page.get_by_role("button", name="Check again")).to_be_visible()
    assert_accessible(page, "a failed system check")


FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {name: "", tag: "body", outline: "none"};
  const label = el.getAttribute("aria-label")
    || (el.labels && el.labels.length ? el.labels[0].textContent : "")
    || el.textContent || "";
  const style = getComputedStyle(el);
  return {name: label.trim(), tag: el.tagName.toLowerCase(), outline: style.outlineStyle,
          width: parseFloat(style.outlineWidth)};
}"""


def _tab_to(page: Page, name: str, *, back: bool = False, limit: int = 60) -> None:
    """Press Tab (or Shift+Tab) until the focused control is called ``name``;
    every control on the way must show a focus outline."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        focused = page.evaluate(FOCUSED)
        seen.append(focused["name"])
        if focused["tag"] in ("button", "input", "select", "textarea", "a"):
            visible = focused["outline"] == "auto" or (  # "auto": the browser's own ring
                focused["outline"] != "none" and focused["width"] >= 2
            )
            assert visible, f"no visible focus on {focused}"
        if focused["name"] == name:
            return
    raise AssertionError(f"Tab never reached {name!r}; it went through {seen}")


def _focused_name(page: Page) -> str:
    name: str = page.evaluate(FOCUSED)["name"]
    return name


def _arrow_to(page: Page, name: str, key: str = "ArrowDown", limit: int = 10) -> None:
    for _ in range(limit):
        if _focused_name(page) == name:
            return
        page.keyboard.press(key)
    raise AssertionError(f"the arrow keys never reached {name!r}")


def _select_by_keys(page: Page, label: str, option: str) -> None:
    _tab_to(page, label)
    for _ in range(10):
        chosen = page.evaluate("() => document.activeElement.selectedOptions[0].textContent")
        if chosen == option:
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"no option {option!r} for {label!r}")


def test_the_whole_exam_can_be_taken_with_the_keyboard_alone(page: Page, org: c.Org) -> None:
    problems = c.watch(page)
    link = org.link(org.exam())
    page.goto(link)
    _tab_to(page, "I agree")
    page.keyboard.press("Space")
    _tab_to(page, "Start exam")
    page.keyboard.press("Enter")
    paper = c.paper(page)
    attempt_id = c.boot(page)["attempt_id"]

    for i, q in enumerate(paper):
        c.heading(page, i + 1, 8)
        body, kind = q["body"], q["type"]
        if kind == "single_choice":
            _tab_to(page, body["choices"][0])
            page.keyboard.press("Space")
            _arrow_to(page, c.CHOICE)
        elif kind == "multiple_choice":
            for text in c.MANY:
                _tab_to(page, text)
                page.keyboard.press("Space")
        elif kind == "true_false":
            _tab_to(page, "True")
            page.keyboard.press("Space")
        elif kind in ("numeric", "short_text", "essay"):
            _tab_to(page, "Your answer")
            text = {"numeric": c.NUMBER, "short_text": c.SHORT, "essay": c.ESSAY}[kind]
            page.keyboard.type(text)
        elif kind == "ordering":
            for pos, text in enumerate(c.ORDER):
                if c.shown_order(page).index(text) > pos:
                    _tab_to(page, f"Move up: {text}")
                while c.shown_order(page).index(text) > pos:
                    page.keyboard.press("Enter")  # focus stays on the moved item
                    expect(page.locator("#exam .visually-hidden[aria-live]")).to_contain_text(
                        f"{text} moved to position"
                    )
            assert c.shown_order(page) == list(c.ORDER)
        elif kind == "matching":
            for left, right in c.PAIRS.items():
                _select_by_keys(page, left, right)
        _tab_to(page, "Next" if i < 7 else "Submit exam")
        page.keyboard.press("Enter")

    dialog = page.get_by_role("dialog", name="Submit your exam?")
    expect(dialog).to_be_visible()
    assert _focused_name(page) == "Keep working"
    page.keyboard.press("Tab")  # Tab stays inside the dialog
    assert _focused_name(page) == "Submit now"
    page.keyboard.press("Shift+Tab")
    assert _focused_name(page) == "Keep working"
    page.keyboard.press("Escape")  # closes: back to the exam
    expect(dialog).to_be_hidden()
    _tab_to(page, "Submit exam", back=True)
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.keyboard.press("Shift+Tab")
    assert _focused_name(page) == "Submit now"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/done$"))
    assert {i: a.response for i, a in org.answers(attempt_id).items()} == c.expected(paper)
    assert problems == []
