"""A candidate invited in German reads a translated question in German and
an untranslated one as written, each marked with its language for screen
readers; the attempt keeps German as its questions' language."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from invigil.content import translations
from invigil.content.translations import TranslationIn
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.browser.test_candidate_languages import org_with
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import published_exam


def test_a_german_candidate_reads_the_german_question_and_the_untranslated_one_marked(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = org_with(database, settings, live_server, ["en", "de"])
    bank = make_bank(database, org.tenant_id)
    choice = make_question(database, org.tenant_id, bank, "single_choice")
    statement = make_question(database, org.tenant_id, bank, "true_false")
    with database.unit_of_work(org.tenant_id) as uow:
        words = {
            "prompt": "Was ist die Hauptstadt von Frankreich?",
            "choices": ["Lyon", "Paris", "Marseille", "Nizza"],
        }
        translations.put(uow, choice, "de", TranslationIn.model_validate(words))
    exam = published_exam(
        database,
        org.tenant_id,
        sections=[{"kind": "fixed", "title": "", "question_ids": [str(choice), str(statement)]}],
        settings={"shuffle_questions": False, "proctoring_preset": "practice"},
    )
    page.goto(org.link(exam, language="de"))
    page.get_by_label("Ich stimme zu").check()
    page.get_by_role("button", name="Prüfung starten").click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
    expect(page.get_by_role("heading", name="Frage 1 von 2")).to_be_visible()
    question = page.get_by_role("group", name="Was ist die Hauptstadt von Frankreich?")
    expect(question).to_be_visible()
    expect(question.get_by_role("radio", name="Nizza")).to_be_visible()
    expect(page.get_by_text("What is the capital of France?")).to_have_count(0)
    assert_accessible(page, "a translated question")
    question.get_by_role("radio", name="Paris").check()

    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.get_by_role("heading", name="Frage 2 von 2")).to_be_visible()
    written = page.get_by_role("group", name="Water boils at 100 C at sea level.")
    expect(written).to_have_attribute("lang", "en")
    written.get_by_role("radio", name="True").check()
    # The player's own words inside it stay German, and say so.
    expect(written.get_by_role("button", name="Antwort löschen")).to_have_attribute("lang", "de")
    assert page.evaluate("document.documentElement.lang") == "de"
    assert_accessible(page, "an untranslated question in a German exam")

    state = c.state(page)
    assert [q["lang"] for q in state["questions"]] == ["de", "en"]
    assert org.attempt(state["attempt_id"]).language == "de"
