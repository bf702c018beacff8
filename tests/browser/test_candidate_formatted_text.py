"""A candidate reads a formatted question as its author wrote it: the formula
laid out by the browser's MathML (a real fraction and root, not flattened
text), the table as a table; the group is named by the formatted text, the
page stays accessible, and the answer is saved and scored as any other."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.browser.test_candidate_languages import org_with
from tests.content.factories import SAMPLES, make_bank, make_question
from tests.delivery.factories import published_exam

MARKDOWN = (
    "Given $\\frac{1}{x} = \\sqrt{2}$, which is **right**?\n\n"
    "| x | 1/x |\n|---|---|\n| 0.5 | 2 |\n\n<script>window.pwned = 1</script>"
)


def test_a_candidate_sees_the_formula_and_the_table_as_written(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = org_with(database, settings, live_server, ["en"])
    bank = make_bank(database, org.tenant_id)
    body = SAMPLES["single_choice"]["body"] | {"prompt": "", "prompt_markdown": MARKDOWN}
    question = make_question(database, org.tenant_id, bank, "single_choice", body=body)
    exam = published_exam(
        database,
        org.tenant_id,
        sections=[{"kind": "fixed", "title": "", "question_ids": [str(question)]}],
        settings={"shuffle_questions": False, "proctoring_preset": "practice"},
    )
    c.start(page, org.link(exam))
    group = page.get_by_role("group", name=re.compile(r"^Given"))
    expect(group).to_be_visible()
    fraction = group.locator("math mfrac")
    expect(fraction).to_have_count(1)
    # MathML Core lays the fraction out: numerator above denominator.
    top = group.locator("math mfrac > :first-child").bounding_box()
    bottom = group.locator("math mfrac > :last-child").bounding_box()
    assert top and bottom and top["y"] + top["height"] <= bottom["y"] + 1, (top, bottom)
    expect(group.locator("math msqrt")).to_have_count(1)
    expect(group.locator("strong")).to_have_text("right")
    expect(group.get_by_role("table")).to_be_visible()
    expect(group.get_by_role("cell", name="0.5")).to_be_visible()
    # Raw HTML in Markdown is text, never markup.
    expect(group.get_by_text("<script>window.pwned = 1</script>")).to_be_visible()
    assert page.evaluate("window.pwned === undefined")
    assert_accessible(page, "a formatted question")
    group.get_by_role("radio", name=SAMPLES["single_choice"]["body"]["choices"][0]).check()
    c.saved(page)


def test_a_candidate_sees_an_imported_items_image(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    from invigil.content import transfer
    from tests.content.test_qti_images import map_item, package

    org = org_with(database, settings, live_server, ["en"])
    bank = make_bank(database, org.tenant_id)
    with database.unit_of_work(org.tenant_id) as uow:
        done = transfer.import_questions(uow, bank, "qti", package(("with-map", map_item())))
        question = done.made[0].question.id
    exam = published_exam(
        database,
        org.tenant_id,
        sections=[{"kind": "fixed", "title": "", "question_ids": [str(question)]}],
        settings={"shuffle_questions": False, "proctoring_preset": "practice"},
    )
    c.start(page, org.link(exam))
    group = page.get_by_role("group", name=re.compile(r"^Which country is shaded"))
    image = group.get_by_role("img", name="a map")
    expect(image).to_be_visible()
    assert image.evaluate("i => i.complete && i.naturalWidth") == 12  # the PNG itself, loaded
    assert_accessible(page, "a question with an image")
