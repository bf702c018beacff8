"""The exam's own words in other languages: its title, description and
section titles are checked where they are saved (the language, the
lengths, one section title per section), frozen with the version for the
languages the tenant offers (covered by its hash), and a language without
them is no refusal."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.content import exams
from invigil.content.models import ExamVersion
from invigil.content.schemas import ExamPatchIn
from invigil.settings import Settings
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.content.factories import make_exam, make_question
from tests.test_pages_matrix import web_client

GERMAN = {"title": "Grundlagen", "description": "Lesen Sie jede Frage.", "sections": ["Teil 1"]}


def offering(db: BoundDatabase, settings: Settings, languages: list[str], default: str) -> Tenant:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, languages, default)
    return tenant


def publish(db: BoundDatabase, tenant_id: uuid.UUID, exam_id: uuid.UUID) -> ExamVersion:
    with db.unit_of_work(tenant_id) as uow:
        version = exams.publish_exam(uow, exam_id)
        uow.session.expunge(version)
        return version


def one_section(db: BoundDatabase, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    qid = str(make_question(db, tenant_id))
    return [{"kind": "fixed", "title": "Part 1", "question_ids": [qid]}]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"xx": GERMAN}, "text_translations.xx"),  # not a language Invigil speaks
        ({"en": GERMAN}, "text_translations.en"),  # the default: those are the exam's own words
        ({"de": GERMAN | {"sections": ["Teil 1", "Teil 2"]}}, "text_translations.de.sections"),
        ({"de": GERMAN | {"title": "x" * 201}}, "text_translations.de.title"),
        ({"de": GERMAN | {"description": "x" * 20_001}}, "text_translations.de.description"),
        ({"de": GERMAN | {"sections": ["x" * 201]}}, "text_translations.de.sections.0"),
        ({"de": GERMAN | {"title": ""}}, "text_translations.de.title"),  # words but no title
        ({"de": GERMAN | {"subtitle": "Noch etwas"}}, "text_translations.de.subtitle"),
        ({"de": "Grundlagen"}, "text_translations.de"),
    ],
)
def test_the_api_refuses_a_translation_that_does_not_fit_naming_the_field(
    app: FastAPI,
    client: TestClient,
    db: BoundDatabase,
    settings: Settings,
    given: dict[str, Any],
    field: str,
) -> None:
    tenant = offering(db, settings, ["en", "de"], "en")
    author = bearer(app, db, make_user(db, tenant.id, ["exam_author"]))
    exam = make_exam(db, tenant.id, sections=one_section(db, tenant.id))
    r = client.patch(f"/api/v1/exams/{exam}", json={"text_translations": given}, headers=author)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["field"] == field, r.text

    created = client.post(
        "/api/v1/exams",
        json={
            "slug": f"e-{uuid.uuid4().hex[:8]}",
            "title": "Basics",
            "sections": one_section(db, tenant.id),
            "text_translations": given,
        },
        headers=author,
    )
    assert created.status_code == 422 and created.json()["field"] == field, created.text


def test_the_api_keeps_and_shows_the_translations(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de", "ar"], "en")
    author = bearer(app, db, make_user(db, tenant.id, ["exam_author"]))
    exam = make_exam(db, tenant.id, sections=one_section(db, tenant.id))
    blank = {"title": " ", "description": "", "sections": [""]}
    r = client.patch(
        f"/api/v1/exams/{exam}",
        json={"text_translations": {"de-DE": GERMAN, "ar": blank}},
        headers=author,
    )
    assert r.status_code == 200, r.text
    assert r.json()["text_translations"] == {"de": GERMAN}  # normalised; the blank one dropped
    assert client.get(f"/api/v1/exams/{exam}", headers=author).json()["text_translations"] == {
        "de": GERMAN
    }


def test_publishing_freezes_the_translations_and_the_hash_covers_them(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de"], "en")
    french = {"title": "Les bases", "description": "", "sections": ["Partie 1"]}
    exam = make_exam(
        db,
        tenant.id,
        title="Basics",
        sections=one_section(db, tenant.id),
        text_translations={"de": GERMAN, "fr": french},  # French: not offered, not frozen
    )
    first = publish(db, tenant.id, exam)
    assert first.text_translations == {"de": GERMAN}
    assert first.text_language == "en"

    # A corrected translation is a new version with another hash; the old one keeps its words.
    with db.unit_of_work(tenant.id) as uow:
        changed = GERMAN | {"title": "Die Grundlagen"}
        exams.update_exam(uow, exam, ExamPatchIn(text_translations={"de": changed}))
        assert exams.differs_from_published(uow, exams.require_exam(uow, exam))
    second = publish(db, tenant.id, exam)
    assert second.content_hash != first.content_hash
    assert (second.text_translations or {})["de"]["title"] == "Die Grundlagen"
    with db.unit_of_work(tenant.id) as uow:
        old = uow.get(ExamVersion, first.id)
        assert old.text_translations == {"de": GERMAN}


def test_a_missing_translation_is_no_refusal_and_keeps_the_hash_it_had(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de"], "en")
    sections = one_section(db, tenant.id)
    plain = make_exam(db, tenant.id, sections=sections)
    version = publish(db, tenant.id, plain)
    assert version.text_translations is None and version.text_language is None
    with db.unit_of_work(tenant.id) as uow:
        # Nothing translated: the document is what it was before translations
        # existed, so published exams do not count as changed.
        frozen = exams.freeze(uow, exams.require_exam(uow, plain))
        assert "text_translations" not in frozen.document()
        exam = exams.require_exam(uow, plain)
        assert exams.exam_text_gaps(uow, exam) == ["de"]

    # Section titles for sections since removed or added: not frozen, named as a gap.
    stale = make_exam(db, tenant.id, sections=sections, text_translations={"de": GERMAN})
    more = sections + one_section(db, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        exams.update_exam(uow, stale, ExamPatchIn(sections=more))
        assert exams.exam_text_gaps(uow, exams.require_exam(uow, stale)) == ["de"]
    assert publish(db, tenant.id, stale).text_translations is None


def test_the_exam_page_asks_for_each_language_warns_of_gaps_and_shows_errors_at_the_field(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de", "ar"], "en")
    exam = make_exam(db, tenant.id, title="Basics", sections=one_section(db, tenant.id))
    staff, csrf = web_client(app, db, tenant.id, ["exam_author"])
    page = staff.get(f"/authoring/exams/{exam}").text
    for code, direction in (("de", "ltr"), ("ar", "rtl")):
        field = re.search(rf'<input type="text" id="t-{code}-title"[^>]*>', page)
        assert field is not None and f'lang="{code}" dir="{direction}"' in field.group(0)
        assert f'name="text_section_{code}_0"' in page
    gaps = re.search(r'<p id="text-gaps">(.*?)</p>', page, re.S)
    assert gaps is not None and "missing in Deutsch, العربية" in html.unescape(gaps.group(1))

    form = {
        "csrf": csrf,
        "text_title_de": GERMAN["title"],
        "text_description_de": GERMAN["description"],
        "text_section_de_0": "Teil 1",
    }
    saved = staff.post(f"/authoring/exams/{exam}/texts", data=form)
    assert saved.status_code == 303, saved.text
    page = staff.get(f"/authoring/exams/{exam}").text
    gaps = re.search(r'<p id="text-gaps">(.*?)</p>', page, re.S)
    assert gaps is not None and "missing in العربية." in html.unescape(gaps.group(1))
    assert "Deutsch" not in gaps.group(1)
    with db.unit_of_work(tenant.id) as uow:
        assert exams.require_exam(uow, exam).text_translations == {"de": GERMAN}

    # A German section title without a German title: refused at the title field, words kept.
    bad = staff.post(
        f"/authoring/exams/{exam}/texts",
        data={"csrf": csrf, "text_title_de": "", "text_section_de_0": "Teil 1 (neu)"},
    )
    assert bad.status_code == 422, bad.text
    field = re.search(r'<input type="text" id="t-de-title"[^>]*>', bad.text)
    assert field is not None and 'aria-invalid="true"' in field.group(0)
    assert 'id="t-de-title-err"' in bad.text and 'href="#t-de-title"' in bad.text
    assert 'value="Teil 1 (neu)"' in bad.text
    too_long = staff.post(
        f"/authoring/exams/{exam}/texts", data=form | {"text_section_de_0": "x" * 201}
    )
    assert too_long.status_code == 422 and 'href="#t-de-section-0"' in too_long.text
