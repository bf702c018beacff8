"""A candidate takes translated questions: the attempt's language is fixed at
begin, the player serves each question in it (or as written, marked with
its language), and scoring uses the keys every language shares."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.content import translations
from invigil.content.translations import TranslationIn
from invigil.delivery import results
from invigil.delivery.models import Attempt
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.content.factories import make_bank, make_question
from tests.content.test_translations import GERMAN, bilingual
from tests.delivery.factories import kit_for, make_invitation, published_exam, token_of
from tests.delivery.test_attempts import begin, browser, start

KINDS = ("single_choice", "true_false", "short_text", "ordering")


def exam_in_two_languages(db: BoundDatabase, settings: Settings) -> tuple[uuid.UUID, uuid.UUID]:
    """Four questions; every one but the true/false one translated into German."""
    tenant = bilingual(db, settings)
    bank = make_bank(db, tenant.id)
    ids = [make_question(db, tenant.id, bank, kind) for kind in KINDS]
    for qid, kind in zip(ids, KINDS, strict=True):
        if kind != "true_false":
            words = GERMAN[kind]
            if kind == "short_text":
                words = words | {"accepted": ["Berlin", "Stadt Berlin"]}
            with db.unit_of_work(tenant.id) as uow:
                translations.put(uow, qid, "de", TranslationIn.model_validate(words))
    exam = published_exam(
        db,
        tenant.id,
        sections=[{"kind": "fixed", "title": "T", "question_ids": [str(i) for i in ids]}],
        settings={
            "shuffle_questions": False,
            "shuffle_options": False,
            "proctoring_preset": "practice",
        },
    )
    return tenant.id, exam


def taking(
    app: FastAPI,
    db: BoundDatabase,
    settings: Settings,
    tenant_id: uuid.UUID,
    exam: uuid.UUID,
    **invite: Any,
) -> tuple[TestClient, str, dict[str, Any]]:
    token = token_of(make_invitation(db, tenant_id, kit_for(settings), exam, **invite))
    client = browser(app)
    assert start(client, token).status_code == 303
    r = begin(client, token)
    assert r.status_code == 200, r.text
    return client, token, r.json()


def attempt_of(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str) -> Attempt:
    with db.unit_of_work(tenant_id) as uow:
        a = uow.get(Attempt, uuid.UUID(attempt_id))
        uow.session.expunge(a)
        return a


def test_a_german_candidate_gets_german_questions_and_the_rest_as_written_marked(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, exam = exam_in_two_languages(db, settings)
    _, _, state = taking(app, db, settings, tenant_id, exam, language="de")
    assert state["language"] == "de"
    qs = state["questions"]
    assert qs[0]["lang"] == "de" and qs[0]["body"]["prompt"] == GERMAN["single_choice"]["prompt"]
    assert qs[0]["body"]["choices"] == GERMAN["single_choice"]["choices"]
    assert sorted(qs[3]["body"]["items"]) == sorted(GERMAN["ordering"]["items"])  # shuffled
    # Not translated: the question as written, and says which language it is in.
    assert qs[1]["lang"] == "en" and qs[1]["body"]["prompt"].startswith("Water boils")
    assert qs[1]["body"]["labels"] == ["True", "False"]
    assert "accepted" not in qs[2]["body"]  # no answers leave the server in any language
    assert attempt_of(db, tenant_id, state["attempt_id"]).language == "de"


def test_an_english_candidate_of_the_same_exam_reads_it_as_written(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, exam = exam_in_two_languages(db, settings)
    _, _, state = taking(app, db, settings, tenant_id, exam, language="en")
    assert state["language"] == "en"
    assert [q["lang"] for q in state["questions"]] == ["en"] * 4
    assert state["questions"][0]["body"]["prompt"] == "What is the capital of France?"


def test_switching_the_pages_language_mid_exam_keeps_the_questions_language(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, exam = exam_in_two_languages(db, settings)
    client, token, state = taking(app, db, settings, tenant_id, exam, language="de")
    switched = client.post(f"/take/{token}/language", data={"language": "en"})
    assert switched.status_code == 303
    again = client.get(f"/take/{token}/api/state").json()
    assert again["language"] == "de"
    assert again["questions"][0]["body"]["prompt"] == GERMAN["single_choice"]["prompt"]
    # Beginning again (a reload) changes nothing either.
    assert begin(client, token).json()["questions"][0]["lang"] == "de"
    assert attempt_of(db, tenant_id, state["attempt_id"]).language == "de"


def answer_all(client: TestClient, token: str, short: str) -> dict[str, Any]:
    items = [
        {"index": 0, "response": 1, "seq": 1},  # Paris, right
        {"index": 1, "response": True, "seq": 2},  # right
        {"index": 2, "response": short, "seq": 3},
        # The ordering question stays unanswered (its items are shuffled per candidate).
    ]
    r = client.post(f"/take/{token}/api/submit", json={"items": items})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_same_answers_score_the_same_in_english_and_german(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, exam = exam_in_two_languages(db, settings)
    documents = {}
    for lang in ("en", "de"):
        client, token, state = taking(app, db, settings, tenant_id, exam, language=lang)
        answer_all(client, token, "Berlin")
        with db.unit_of_work(tenant_id) as uow:
            result = results.latest_result(uow, uuid.UUID(state["attempt_id"]))
            assert result is not None
            documents[lang] = result.document
    en, de = documents["en"], documents["de"]
    assert (en["awarded"], en["max"]) == (de["awarded"], de["max"]) == ("4.00", "6.00")
    assert [q["awarded"] for q in en["questions"]] == [q["awarded"] for q in de["questions"]]
    assert [q["question_id"] for q in en["questions"]] == [
        q["question_id"] for q in de["questions"]
    ]
    assert (en["language"], de["language"]) == ("en", "de")
    assert [q["language"] for q in de["questions"]] == ["de", "en", "de", "de"]


def test_a_short_text_translation_adds_its_own_accepted_answers_for_its_language_only(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant_id, exam = exam_in_two_languages(db, settings)
    awarded = {}
    for lang in ("en", "de"):
        client, token, state = taking(app, db, settings, tenant_id, exam, language=lang)
        answer_all(client, token, "Stadt Berlin")
        with db.unit_of_work(tenant_id) as uow:
            result = results.latest_result(uow, uuid.UUID(state["attempt_id"]))
            assert result is not None
            awarded[lang] = result.document["questions"][2]["awarded"]
    assert awarded == {"en": "0.00", "de": "2.00"}


def test_staff_see_the_language_an_attempt_was_delivered_in(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    from tests.test_pages_matrix import web_client

    tenant_id, exam = exam_in_two_languages(db, settings)
    _, _, state = taking(app, db, settings, tenant_id, exam, language="de")
    staff, _ = web_client(app, db, tenant_id, ["tenant_admin"])
    page = staff.get(f"/delivery/attempts/{state['attempt_id']}")
    assert page.status_code == 200
    assert "Questions in" in page.text and "Deutsch" in page.text
    listed = staff.get("/delivery/attempts")
    assert '<span lang="de">Deutsch</span>' in listed.text
