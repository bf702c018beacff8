"""Authoring in a real browser: a bank, an import (refused, then accepted),
an edit, an exam with a fixed and a random section, its preview, publishing.

The author holds exam_author and question_manager: exam_author alone may
read questions but not write them (question:manage)."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.identity import service
from invigil.settings import Settings
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant

PASSWORD = "amber-canyon-lattice-64"
HEADER = "type,category,difficulty,points,prompt,choices,correct,tags\n"
GOOD = HEADER + (
    "single_choice,Fire safety,easy,1,Which extinguisher is safe on electrical fires?,"
    "Water|CO2|Foam,B,fire\n"
    "true_false,Fire safety,easy,1,Fire doors may be propped open on hot days.,,false,fire\n"
    "true_false,First aid,medium,1,You should move a person with a neck injury.,,false,aid\n"
    "multiple_choice,First aid,medium,2,Which are signs of shock?,"
    "Pale skin|Rapid pulse|Slow breathing|Sneezing,A;B,aid\n"
)
BAD = HEADER + (
    "single_choice,Fire safety,easy,1,Pick one,Water|CO2,C,fire\n"
    "essay,First aid,easy,1,Explain.,,,\n"
)


@pytest.fixture(scope="module")
def author(database: Database, settings: Settings) -> tuple[str, str]:
    tenant = make_tenant(database, settings)
    email = f"author-{uuid.uuid4().hex[:6]}@school.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=email, roles=["exam_author", "question_manager"], password=PASSWORD
        )
    return tenant.slug, email


def test_an_author_builds_previews_and_publishes_an_exam(
    page: Page, live_server: str, author: tuple[str, str]
) -> None:
    tenant, email = author
    sign_in(page, live_server, tenant, email, PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Questions").click()
    expect(page.get_by_role("heading", name="Question banks")).to_be_visible()

    create = page.get_by_role("region", name="Create a question bank")
    create.get_by_label("Name").fill("Workplace safety")
    create.get_by_label("Description").fill("Induction questions")
    create.get_by_role("button", name="Create bank").click()
    expect(page.get_by_role("status")).to_contain_text("Question bank created")
    expect(page.get_by_role("heading", name="Workplace safety", level=1)).to_be_visible()

    # A file with problems: the report, and nothing imported.
    importer = page.get_by_role("region", name="Import questions from a file")
    importer.get_by_label("File").set_input_files(
        {"name": "questions.csv", "mimeType": "text/csv", "buffer": BAD.encode()}
    )
    importer.get_by_role("button", name="Import file").click()
    # The summary at the top says it (and is focused); the report stays by the form.
    alert = page.get_by_role("alert").filter(has_text="There is a problem")
    expect(alert).to_contain_text("Nothing was imported")
    expect(alert).to_be_focused()
    report = page.get_by_role("region", name="Import questions from a file")
    expect(report.get_by_role("row").filter(has_text="line 2")).to_be_visible()
    expect(report.get_by_role("row").filter(has_text="line 3")).to_be_visible()
    expect(page.get_by_text("This bank has no questions yet.")).to_be_visible()
    page.screenshot(path="/tmp/invigil-authoring-import-report.png", full_page=True)

    importer = page.get_by_role("region", name="Import questions from a file")
    importer.get_by_label("File").set_input_files(
        {"name": "questions.csv", "mimeType": "text/csv", "buffer": GOOD.encode()}
    )
    importer.get_by_role("button", name="Import file").click()
    expect(page.get_by_role("status")).to_have_text("Imported 4 questions.")
    questions = page.get_by_role("region", name="Questions", exact=True)
    expect(questions.get_by_role("row")).to_have_count(5)

    # Search by tag.
    questions.get_by_label("Tag").fill("aid")
    questions.get_by_role("button", name="Search").click()
    expect(
        page.get_by_role("region", name="Questions", exact=True).get_by_role("row")
    ).to_have_count(3)
    page.get_by_role("link", name="Clear search").click()
    page.screenshot(path="/tmp/invigil-authoring-bank.png", full_page=True)

    # Edit one question: a mistake first, shown in place with what was typed.
    page.get_by_role("link", name="Which extinguisher is safe on electrical fires?").click()
    expect(page.get_by_role("heading", name="Version 1 (current)")).to_be_visible()
    edit = page.get_by_role("region", name="Edit question")
    edit.get_by_label("Question text").fill("Which extinguisher is safe on live electrical fires?")
    edit.get_by_label("Choice D").fill("Dry powder")
    edit.get_by_label("Points").fill("two")
    edit.get_by_role("button", name="Save as new version").click()
    edit = page.get_by_role("region", name="Edit question")
    expect(page.get_by_role("alert")).to_contain_text("Points:")
    expect(edit.get_by_label("Points")).to_have_attribute("aria-invalid", "true")
    expect(edit.get_by_label("Question text")).to_have_value(
        "Which extinguisher is safe on live electrical fires?"
    )
    expect(edit.get_by_label("Choice D")).to_have_value("Dry powder")
    edit.get_by_label("Points").fill("2")
    edit.get_by_label("Right answer D").check()
    edit.get_by_role("button", name="Save as new version").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as a new version")
    expect(page.get_by_role("heading", name="Version 2 (current)")).to_be_visible()
    expect(page.get_by_role("region", name="Version history")).to_contain_text("Show version 1")
    page.screenshot(path="/tmp/invigil-authoring-question.png", full_page=True)

    # An exam: a fixed section and a random one.
    nav.get_by_role("link", name="Exams").click()
    create = page.get_by_role("region", name="Create an exam")
    create.get_by_label("Title").fill("Safety induction")
    create.get_by_label("Instructions for candidates").fill("Answer every question.")
    create.get_by_role("button", name="Create exam").click()
    expect(page.get_by_role("status")).to_contain_text("Exam created as a draft")
    expect(page.get_by_role("heading", name="Safety induction")).to_contain_text("draft")

    fixed = page.get_by_role("region", name="Add a section of chosen questions")
    fixed.get_by_label("Question bank").select_option(label="Workplace safety")
    fixed.get_by_role("button", name="Show questions").click()
    fixed = page.get_by_role("region", name="Add a section of chosen questions")
    fixed.get_by_label("Which extinguisher is safe on live electrical fires?").check()
    fixed.get_by_label("Fire doors may be propped open").check()
    fixed.get_by_label("Section title").fill("Fire")
    fixed.get_by_role("button", name="Add fixed section").click()
    expect(page.get_by_role("status")).to_have_text("Section added.")

    pool = page.get_by_role("region", name="Add a section drawn at random")
    pool.get_by_label("Section title").fill("First aid")
    pool.get_by_label("Draw from").select_option(label="Workplace safety")
    pool.get_by_label("Only these categories").fill("First aid")
    pool.get_by_label("Number of questions").fill("1")
    # Its questions carry 1 and 2 points: every paper's draw is worth 2.
    pool.get_by_label("Worth in total").fill("2")
    pool.get_by_role("button", name="Add random section").click()
    expect(page.get_by_role("status")).to_have_text("Section added.")
    sections = page.get_by_role("region", name="Sections")
    expect(sections).to_contain_text("Section 1: Fire")
    expect(sections).to_contain_text("Section 2: First aid")
    expect(sections).to_contain_text("Worth 2 points on every paper")

    settings = page.get_by_role("region", name="Settings")
    settings.get_by_label("Time limit in minutes").fill("30")
    settings.get_by_label("Pass mark in %").fill("75")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    page.screenshot(path="/tmp/invigil-authoring-exam.png", full_page=True)

    # Preview: the paper as drawn, no answers, nothing saved.
    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview: Safety induction")).to_be_visible()
    expect(page.get_by_text("3 questions")).to_be_visible()
    expect(page.locator("#paper-worth")).to_have_text(
        "Questions are drawn at random, and every paper is worth the same: 5 points."
    )
    expect(page.get_by_role("heading", name="Fire")).to_be_visible()
    expect(page.get_by_text("Dry powder")).to_be_visible()
    expect(page.get_by_text("✓")).to_have_count(0)  # the page shows no answers
    expect(page.get_by_text("right answer")).to_have_count(0)
    seed = page.locator("code").first.inner_text()
    page.get_by_role("link", name="New seed: draw another paper").click()
    expect(page.get_by_role("heading", name="Preview: Safety induction")).to_be_visible()
    assert page.locator("code").first.inner_text() != seed
    page.screenshot(path="/tmp/invigil-authoring-preview.png", full_page=True)

    page.get_by_role("link", name="Back to Safety induction").click()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Exam published")
    expect(page.get_by_role("heading", name="Safety induction")).to_contain_text("published")
    expect(page.get_by_role("region", name="Published versions").get_by_role("row")).to_have_count(
        2
    )


def test_an_essay_rubric_problem_is_shown_in_place(
    page: Page, live_server: str, author: tuple[str, str], database: Database
) -> None:
    tenant, email = author
    sign_in(page, live_server, tenant, email, PASSWORD)
    page.goto(f"{live_server}/authoring/banks")
    page.get_by_role("region", name="Create a question bank").get_by_label("Name").fill("Essays")
    page.get_by_role("button", name="Create bank").click()
    new = page.get_by_role("region", name="New question")
    new.get_by_label("Type of question").select_option(label="Essay (graded with a rubric)")
    new.get_by_role("button", name="New question").click()
    expect(
        page.get_by_role("heading", name="New question: Essay (graded with a rubric)")
    ).to_be_visible()
    page.get_by_label("Question text").fill("Describe a near miss you saw at work.")
    page.get_by_label("Rubric").fill("Clarity | Poor: 0; Good: 2\nAccuracy | Wrong: 0; Right: 3")
    page.get_by_label("Word limit").fill("250")
    page.get_by_label("Category").fill("Reporting")
    page.get_by_label("Points").fill("4")
    page.get_by_role("button", name="Create question").click()
    expect(page.get_by_role("alert")).to_contain_text("add up to 5 points")
    expect(page.get_by_label("Rubric")).to_have_value(
        "Clarity | Poor: 0; Good: 2\nAccuracy | Wrong: 0; Right: 3"
    )
    page.screenshot(path="/tmp/invigil-authoring-essay-error.png", full_page=True)
    page.get_by_label("Points").fill("5")
    page.get_by_role("button", name="Create question").click()
    expect(page.get_by_role("status")).to_contain_text("Question created")
    expect(page.get_by_role("region", name="Version 1 (current)")).to_contain_text("Accuracy")
