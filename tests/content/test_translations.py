"""Translated question versions: the same structure or refused by field, tied
to one version (outdated after an edit, never frozen with the new one),
frozen with the exam for the tenant's languages, audited."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.audit.wording import ACTIONS
from invigil.content import exams, questions, transfer, translations
from invigil.content.bodies import parse_body
from invigil.content.schemas import QuestionPatchIn
from invigil.content.translations import TranslationIn
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.content.factories import make_bank, make_exam, make_question, sample

GERMAN: dict[str, dict[str, Any]] = {
    "single_choice": {
        "prompt": "Was ist die Hauptstadt von Frankreich?",
        "choices": ["Lyon", "Paris", "Marseille", "Nizza"],
    },
    "multiple_choice": {
        "prompt": "Welche davon sind Edelgase?",
        "choices": ["Helium", "Sauerstoff", "Neon", "Stickstoff", "Argon"],
    },
    "true_false": {"prompt": "Wasser siedet auf Meereshöhe bei 100 °C."},
    "numeric": {"prompt": "Geben Sie Pi auf zwei Nachkommastellen an."},
    "short_text": {"prompt": "Nennen Sie die Hauptstadt Deutschlands.", "accepted": ["Berlin"]},
    "essay": {
        "prompt": "Argumentieren Sie für oder gegen Homeoffice.",
        "criteria": ["Argumentation: Aufbau", "Sprache"],
    },
    "ordering": {
        "prompt": "Ordnen Sie die Ereignisse.",
        "items": ["Mondlandung", "Fall der Berliner Mauer", "Start des WWW"],
    },
    "matching": {
        "prompt": "Ordnen Sie jedes Land seiner Hauptstadt zu.",
        "pairs": [
            {"left": "Frankreich", "right": "Paris"},
            {"left": "Spanien", "right": "Madrid"},
            {"left": "Italien", "right": "Rom"},
        ],
    },
}


def bilingual(db: BoundDatabase, settings: Settings) -> Tenant:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de"], "en")
    return tenant


def translate(db: BoundDatabase, tenant_id: uuid.UUID, qid: uuid.UUID, kind: str) -> None:
    with db.unit_of_work(tenant_id) as uow:
        translations.put(uow, qid, "de", TranslationIn.model_validate(GERMAN[kind]))


@pytest.mark.parametrize("kind", sorted(GERMAN))
def test_every_type_takes_a_translation_of_its_own_structure(
    db: BoundDatabase, settings: Settings, kind: str
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), kind)
    translate(db, tenant.id, qid, kind)
    with db.unit_of_work(tenant.id) as uow:
        q = questions.require_question(uow, qid)
        (row,) = translations.of_question(uow, q)
        assert row.current and row.translation.language == "de"
        # The translated body keeps every key of the version.
        v = questions.current(uow, q)
        body = parse_body(v.body)
        german = translations.translated(body, row.translation.body)
        assert german.prompt == GERMAN[kind]["prompt"]
        kept = body.model_dump(exclude={"prompt", "choices", "items", "pairs", "rubric"})
        assert german.model_dump(exclude={"prompt", "choices", "items", "pairs", "rubric"}) == kept


@pytest.mark.parametrize(
    ("kind", "words", "field"),
    [
        ("single_choice", {"prompt": "Frage", "choices": ["a", "b", "c"]}, "choices"),
        ("single_choice", {"prompt": "Frage"}, "choices"),
        ("multiple_choice", {"prompt": "F", "choices": ["a", "a", "b", "c", "d"]}, "choices"),
        ("ordering", {"prompt": "Frage", "items": ["a", "b"]}, "items"),
        ("matching", {"prompt": "F", "pairs": [{"left": "a", "right": "b"}]}, "pairs"),
        ("essay", {"prompt": "Frage", "criteria": ["Nur eins"]}, "criteria"),
        ("numeric", {"prompt": "Frage", "choices": ["a", "b"]}, "choices"),
        ("true_false", {"prompt": "Frage", "accepted": ["ja"]}, "accepted"),
    ],
)
def test_a_translation_of_another_structure_is_refused_naming_the_field(
    db: BoundDatabase, settings: Settings, kind: str, words: dict[str, Any], field: str
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), kind)
    with db.unit_of_work(tenant.id) as uow, pytest.raises(Invalid) as refused:
        translations.put(uow, qid, "de", TranslationIn.model_validate(words))
    assert refused.value.extensions["field"] == field
    assert refused.value.extensions["problems"][0]["where"] == field
    with db.unit_of_work(tenant.id) as uow:
        assert translations.of_question(uow, questions.require_question(uow, qid)) == []


def test_the_authored_language_and_unknown_languages_are_refused(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "true_false")
    for code in ("en", "xx", "klingon"):
        with db.unit_of_work(tenant.id) as uow, pytest.raises(Invalid) as refused:
            translations.put(uow, qid, code, TranslationIn(prompt="Frage"))
        assert refused.value.extensions["field"] == "language"


def test_an_edit_makes_the_translation_outdated_and_freezing_leaves_it_out(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "single_choice")
    translate(db, tenant.id, qid, "single_choice")
    exam_id = make_exam(db, tenant.id, sections=[fixed([qid])])
    with db.unit_of_work(tenant.id) as uow:
        first = exams.publish_exam(uow, exam_id)
    (entry,) = first.sections[0]["questions"]
    assert entry["language"] == "en"
    assert entry["translations"]["de"]["choices"] == GERMAN["single_choice"]["choices"]
    assert translations.missing(first.sections, ["en", "de"]) == {}

    with db.unit_of_work(tenant.id) as uow:
        questions.update_question(uow, qid, QuestionPatchIn(points=2))
        q = questions.require_question(uow, qid)
        (row,) = translations.of_question(uow, q)
        assert not row.current and row.version == 1
        (status,) = translations.statuses(translations.of_question(uow, q), ["en", "de"], "en")
        assert status.state == "outdated"
        second = exams.publish_exam(uow, exam_id)
    (entry,) = second.sections[0]["questions"]
    assert entry["translations"] == {}  # the version-1 words never go with version 2
    assert translations.missing(second.sections, ["en", "de"]) == {str(qid): ["de"]}
    # The first exam version still carries them, unchanged.
    assert first.sections[0]["questions"][0]["translations"]["de"]["prompt"].startswith("Was")


def test_only_the_tenants_enabled_languages_are_frozen(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "true_false")
    translate(db, tenant.id, qid, "true_false")
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en"], "en")
    exam_id = make_exam(db, tenant.id, sections=[fixed([qid])])
    with db.unit_of_work(tenant.id) as uow:
        version = exams.publish_exam(uow, exam_id)
    assert version.sections[0]["questions"][0]["translations"] == {}


def test_adding_and_correcting_a_translation_is_audited(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "true_false")
    translate(db, tenant.id, qid, "true_false")
    with db.unit_of_work(tenant.id) as uow:
        translations.put(uow, qid, "de", TranslationIn(prompt="Wasser kocht bei 100 °C."))
        with pytest.raises(Invalid, match="nothing to change"):
            translations.put(uow, qid, "de", TranslationIn(prompt="Wasser kocht bei 100 °C."))
    with db.unit_of_work(tenant.id) as uow:
        found = uow.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == str(qid), AuditEvent.action.like("question.transl%"))
            .order_by(AuditEvent.seq)
        )
    assert [e.action for e in found] == ["question.translated", "question.translation_updated"]
    assert all(e.payload["language"] == "de" and len(e.payload["text_sha256"]) == 64 for e in found)
    assert {e.action for e in found} <= set(ACTIONS)


def fixed(ids: list[uuid.UUID]) -> dict[str, Any]:
    return {"kind": "fixed", "title": "One", "question_ids": [str(i) for i in ids]}


# -- the API ------------------------------------------------------------------------


def test_the_api_translates_lists_and_refuses_by_field(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    headers = bearer(app, db, make_user(db, tenant.id, ["exam_author"]))
    qid = make_question(db, tenant.id, make_bank(db, tenant.id), "ordering")
    url = f"/api/v1/questions/{qid}/translations"
    bad = client.post(url, headers=headers, json={"language": "de", "prompt": "F", "items": ["a"]})
    assert bad.status_code == 422, bad.text
    assert bad.json()["field"] == "items" and "3 items" in bad.json()["detail"]
    made = client.post(url, headers=headers, json={"language": "de", **GERMAN["ordering"]})
    assert made.status_code == 200, made.text
    assert made.json()["current"] is True and made.json()["version"] == 1
    listed = client.get(url, headers=headers).json()
    assert [t["language"] for t in listed] == ["de"]
    assert listed[0]["body"]["items"] == GERMAN["ordering"]["items"]


def test_another_tenants_question_is_not_found_on_the_translation_routes(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    mine = bilingual(db, settings)
    theirs = bilingual(db, settings)
    qid = make_question(db, theirs.id, make_bank(db, theirs.id), "true_false")
    headers = bearer(app, db, make_user(db, mine.id, ["tenant_admin"]))
    url = f"/api/v1/questions/{qid}/translations"
    body = {"language": "de", "prompt": "Frage"}
    assert client.post(url, headers=headers, json=body).status_code == 404
    assert client.get(url, headers=headers).status_code == 404
    with db.unit_of_work(theirs.id) as uow:
        assert translations.of_question(uow, questions.require_question(uow, qid)) == []


# -- the JSON format ----------------------------------------------------------------


def test_json_export_carries_the_current_translations_and_import_reads_them_back(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    bank = make_bank(db, tenant.id)
    qid = make_question(db, tenant.id, bank, "matching")
    translate(db, tenant.id, qid, "matching")
    with db.unit_of_work(tenant.id) as uow:
        exported = transfer.export_questions(uow, bank, "json").text
    (item,) = json.loads(exported)
    assert item["language"] == "en"
    assert item["translations"]["de"]["pairs"] == GERMAN["matching"]["pairs"]
    # Into another bank: the question and its German words, both new.
    other = make_bank(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        made = transfer.import_questions(uow, other, "json", exported.encode())
        (m,) = made.made
        (row,) = translations.of_question(uow, m.question)
        assert row.current and row.translation.body["pairs"] == GERMAN["matching"]["pairs"]
        entry = uow.scalars(select(AuditEvent).where(AuditEvent.action == "question.imported"))[-1]
    assert [t["language"] for t in entry.payload["translations"]] == ["de"]


def test_json_import_refuses_a_translation_of_another_structure_naming_where(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    bank = make_bank(db, tenant.id)
    item = sample("single_choice").model_dump(mode="json")
    item["translations"] = {"de": {"prompt": "Frage", "choices": ["a", "b"]}, "xx": {}}
    with db.unit_of_work(tenant.id) as uow, pytest.raises(Invalid) as refused:
        transfer.import_questions(uow, bank, "json", json.dumps([item]).encode())
    where = [(p["where"], p["message"]) for p in refused.value.extensions["problems"]]
    assert where[0][0] == "index 0" and where[0][1].startswith("translations.de.choices:")
    assert where[1][1].startswith("translations.xx:")


def test_the_demo_translates_a_few_questions_into_german(
    db: BoundDatabase, settings: Settings
) -> None:
    from invigil.content.demo import seed_content
    from invigil.content.demo_questions import GERMAN as DEMO_GERMAN

    tenant = make_tenant(db, settings)
    seed = seed_content(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        found = questions.search(uow, questions.Search(bank_id=seed.bank_id))[0]
        german = [
            row.translation.body["prompt"]
            for c in found
            for row in translations.of_question(uow, c.question)
        ]
    assert sorted(german) == sorted(w["prompt"] for w in DEMO_GERMAN.values())
