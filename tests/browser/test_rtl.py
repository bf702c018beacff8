"""A candidate invited in Arabic takes the exam right to left: the landing
page, the system check, the player at every question type, the submit dialog
and the done page are `dir="rtl"`, axe-clean, fit a 375 px phone without
sideways scrolling, and mirror where direction means something (Next on the
left of Previous, the question text and the palette on the right). Numbers
use the digits the server writes (Latin), whatever the browser's default."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from invigil import i18n
from invigil.db.engine import Database
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for

WIDTHS = (1280, 375)


def _(message: str) -> str:
    return i18n.gettext("ar", message)


def arabic_org(database: Database, settings: Settings, live_server: str) -> c.Org:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "ar"], None)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def right_to_left(page: Page, where: str) -> None:
    """`<html dir="rtl" lang="ar">`, nothing wider than the window, axe clean."""
    assert page.evaluate("[document.documentElement.lang, document.dir]") == ["ar", "rtl"], where
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{where}: {overflow} px wider than the window"
    assert_accessible(page, f"{where} in Arabic")


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found, selector
    return found


def text_edges(page: Page, selector: str) -> dict[str, float]:
    """Where the text of ``selector`` sits, and the box it sits in."""
    edges: dict[str, float] = page.eval_on_selector(
        selector,
        """el => {
          const range = document.createRange();
          range.selectNodeContents(el);
          const text = range.getBoundingClientRect(), own = el.getBoundingClientRect();
          return {textLeft: text.left, textRight: text.right, left: own.left, right: own.right};
        }""",
    )
    return edges


@pytest.mark.parametrize("width", WIDTHS)
def test_an_arabic_candidate_takes_the_exam_right_to_left(
    page: Page, database: Database, settings: Settings, live_server: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    problems = c.watch(page)
    org = arabic_org(database, settings, live_server)
    page.goto(org.link(org.exam(time_limit_minutes=45), language="ar"))
    expect(page.get_by_role("heading", name=_("About this exam"))).to_be_visible()
    right_to_left(page, "the landing page")
    # The heading starts at the right edge of its card.
    heading, card = box(page, "main h1"), box(page, "main")
    assert card["x"] + card["width"] - (heading["x"] + heading["width"]) < 40
    page.get_by_label(_("I agree")).check()
    page.get_by_role("button", name=_("Start exam")).click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
    expect(page.get_by_role("heading", name=re.compile(r"^السؤال 1 من \d+$"))).to_be_visible()
    questions = c.state(page)["questions"]
    total = len(questions)
    boot = c.boot(page)
    assert boot["numbering"] == "latn"
    # Every counted string comes with Arabic's six forms, picked by the browser.
    assert set(boot["messages"]["%(n)s point"]) == {"zero", "one", "two", "few", "many", "other"}
    expect(page.locator(".points")).to_have_text("درجة واحدة")
    # The points sit at the far (left) end of the question's head, the heading at the right.
    head, points = box(page, ".question-head"), box(page, ".points")
    assert points["x"] - head["x"] < 2 and box(page, "#question-h")["x"] > points["x"]
    # The timer keeps its Latin digits and reads left to right inside the Arabic bar.
    timer = page.locator(".timer-value")
    expect(timer).to_have_text(re.compile(r"^(\d+:)?\d\d:\d\d$"))
    assert timer.evaluate("el => getComputedStyle(el).direction") == "ltr"
    if width > 760:  # side by side: the palette on the right, the question on its left
        assert box(page, ".palette")["x"] > box(page, "section.question")["x"]
    right_to_left(page, "the first question")
    for number, q in enumerate(questions, start=1):
        if number > 1:
            page.locator(".nav-next").click()
            expect(page.get_by_role("heading", name=f"السؤال {number} من {total}")).to_be_visible()
            # Next on the left of Previous: the questions run right to left.
            previous, following = box(page, ".nav-previous"), page.locator(".nav-next")
            if following.count():
                nxt = box(page, ".nav-next")
                assert nxt["x"] + nxt["width"] <= previous["x"], (number, nxt, previous)
            right_to_left(page, f"question {number} ({q['type']})")
        # The question is English here (no Arabic translation): the question is a
        # block in its own language and direction, laid out left to right, so
        # "France?" ends with its question mark and its lines start at the left.
        assert (q["lang"], q["dir"]) == ("en", "ltr")
        assert page.eval_on_selector("legend.prompt", "el => el.matches(':dir(ltr)')")
        prompt = text_edges(page, "legend.prompt")
        assert prompt["textLeft"] - prompt["left"] < 2, (number, prompt)
        if float(q.get("points") or 0) == 2.5:
            # The player writes the number as the server does: Latin digits.
            expect(page.locator(".points")).to_have_text(i18n.local_number(2.5, "ar") + " درجة")
    page.locator(".question-nav").get_by_role("button", name=_("Submit exam")).click()
    dialog = page.get_by_role("dialog", name=_("Submit your exam?"))
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(f"أجبت عن 0 من أصل {total} أسئلة.")).to_be_visible()
    # Arabic's own comma between the numbers, "و" before the last.
    head = "، ".join(str(n) for n in range(1, total))
    expect(dialog).to_contain_text(f"{_('Not answered:')} الأسئلة {head} و{total}.")
    right_to_left(page, "the submit dialog")
    dialog.get_by_role("button", name=_("Submit now")).click()
    expect(page).to_have_url(re.compile(r"/done$"))
    expect(page.get_by_text(_("Your exam has been submitted."))).to_be_visible()
    right_to_left(page, "the done page")
    assert problems == []


def test_the_player_writes_numbers_with_the_servers_digits(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = arabic_org(database, settings, live_server)
    page.goto(org.link(org.exam(), language="ar"))
    page.get_by_label(_("I agree")).check()
    page.get_by_role("button", name=_("Start exam")).click()
    expect(page.locator(".points")).to_be_visible()
    number = "async () => (await import('/static/player/i18n.js')).number(1234.5)"
    assert page.evaluate(number) == i18n.local_number(1234.5, "ar") == "1,234.5"
    # Whatever the browser's own digits for the page's language (Egyptian Arabic's
    # are Arabic-Indic), the player keeps the server's.
    page.evaluate("document.documentElement.lang = 'ar-EG'")
    assert page.evaluate("new Intl.NumberFormat('ar-EG').format(1234.5)") != "1,234.5"
    assert page.evaluate(number) == "1,234.5"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_arabic_system_check_and_language_switcher_are_right_to_left(
    page: Page, database: Database, settings: Settings, live_server: str, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    org = arabic_org(database, settings, live_server)
    # "standard" needs a camera; this browser has none, so the check fails.
    link = org.link(org.exam(proctoring_preset="standard"), language="ar")
    page.goto(link)
    switcher = page.get_by_role("navigation", name=_("Language"))
    english = switcher.get_by_role("button", name="English")
    assert english.get_attribute("dir") == "ltr"
    current = switcher.locator(".language-current")
    assert current.get_attribute("dir") == "rtl"
    # The switcher sits at the end of the line: the left, right to left.
    assert (
        box(page, ".language-switcher .language-label")["x"]
        > box(page, ".language-current")["x"] - 1
    )
    page.get_by_label(_("I agree")).check()
    page.get_by_role("button", name=_("Start exam")).click()
    expect(page.get_by_role("heading", name=_("Checking your computer"))).to_be_visible()
    camera = page.locator(".check-item").filter(has_text=_("Camera"))
    expect(camera).to_contain_text(_("not ready"))
    expect(page.get_by_role("button", name=_("Check again"))).to_be_visible()
    # The check's icon on the right of its name.
    assert (
        box(page, ".check-item >> nth=0 >> .check-icon")["x"]
        > box(page, ".check-item >> nth=0 >> .check-name")["x"]
    )
    right_to_left(page, "a failed system check")


def test_a_declined_and_a_broken_link_page_are_right_to_left(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = arabic_org(database, settings, live_server)
    page.goto(org.link(org.exam(), language="ar"))
    page.get_by_role("button", name=_("I do not agree")).click()
    expect(page.get_by_role("heading", name=_("You did not consent"))).to_be_visible()
    right_to_left(page, "the declined page")
    page.set_extra_http_headers({"Accept-Language": "ar"})
    page.goto(f"{live_server}/take/not-a-link")
    expect(page.get_by_role("heading", name=_("This exam link does not work"))).to_be_visible()
    right_to_left(page, "the broken-link page")
