"""Translations on the question page (one form per enabled language, errors
by field, outdated after an edit) and the exam page's warning about
questions that lack a language."""

from __future__ import annotations

from html import unescape

from fastapi import FastAPI

from invigil.content import questions, translations
from invigil.content.schemas import QuestionPatchIn
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.content.factories import make_bank, make_exam, make_question
from tests.content.test_translations import bilingual
from tests.test_pages_matrix import web_client

AUTHOR = ["exam_author", "question_manager"]


def test_an_author_translates_a_question_on_its_page(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "single_choice")
    client, csrf = web_client(app, db, tenant.id, AUTHOR)
    page = client.get(f"/authoring/questions/{qid}")
    assert page.status_code == 200
    assert 'id="tr-de"' in page.text and "not translated" in page.text
    assert 'name="choice"' in page.text and 'lang="de"' in page.text

    url = f"/authoring/questions/{qid}/translations"
    short = {"csrf": csrf, "language": "de", "prompt": "Hauptstadt?", "choice": ["A", "B"]}
    refused = client.post(url, data=short)
    assert refused.status_code == 422
    text = unescape(refused.text)
    assert 'id="tr-de-choices-err"' in text and "The question has 4 choices" in text
    assert 'aria-invalid="true" aria-describedby="tr-de-choices-err"' in text
    assert 'value="Hauptstadt?"' in text or ">Hauptstadt?</textarea>" in text  # kept as typed

    good = short | {"choice": ["Lyon", "Paris", "Marseille", "Nizza"]}
    saved = client.post(url, data=good)
    assert saved.status_code == 303, saved.text
    page = client.get(f"/authoring/questions/{qid}")
    assert "Nizza" in page.text and ">translated<" in page.text

    with db.unit_of_work(tenant.id) as uow:
        questions.update_question(uow, qid, QuestionPatchIn(points=3))
    page = client.get(f"/authoring/questions/{qid}")
    assert "outdated: made for version 1" in page.text and "Nizza" in page.text


def test_a_reader_sees_translations_but_no_form_and_a_forged_post_is_refused(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "true_false")
    reader, csrf = web_client(app, db, tenant.id, ["grader"])
    page = reader.get(f"/authoring/questions/{qid}")  # graders may read questions
    assert page.status_code == 200 and 'id="tr-de"' in page.text
    assert f'action="/authoring/questions/{qid}/translations' not in page.text
    posted = reader.post(
        f"/authoring/questions/{qid}/translations",
        data={"csrf": csrf, "language": "de", "prompt": "Frage"},
    )
    assert posted.status_code == 403
    with db.unit_of_work(tenant.id) as uow:
        assert translations.of_question(uow, questions.require_question(uow, qid)) == []


def test_the_exam_page_names_questions_that_lack_a_language_before_publishing(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    bank = make_bank(db, tenant.id)
    done = make_question(db, tenant.id, bank, "true_false")
    lacking = make_question(db, tenant.id, bank, "numeric")
    with db.unit_of_work(tenant.id) as uow:
        translations.put(uow, done, "de", translations.TranslationIn(prompt="Wasser?"))
    ids = [str(done), str(lacking)]
    exam = make_exam(db, tenant.id, sections=[{"kind": "fixed", "title": "", "question_ids": ids}])
    client, _ = web_client(app, db, tenant.id, AUTHOR)
    page = client.get(f"/authoring/exams/{exam}")
    assert page.status_code == 200
    assert 'id="translation-gaps"' in page.text
    assert f"/authoring/questions/{lacking}#translations" in page.text
    assert f"/authoring/questions/{done}#translations" not in page.text
    assert "missing in Deutsch" in page.text
