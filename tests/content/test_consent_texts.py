"""The consent text per language: publishing freezes the complete text for
every language the tenant offers, refuses a custom text missing one of
them (naming it, in the API and on the exam page), and the author's
translations are checked where they are saved."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.content import exams
from invigil.content.models import ExamVersion
from invigil.content.schemas import ExamPatchIn
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.content.factories import make_exam
from tests.test_pages_matrix import web_client

GERMAN = "Ihre Antworten werden nur für diese Prüfung verwendet."
ENGLISH = "Your answers are used for this exam only."


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


def test_publishing_freezes_the_consent_in_every_language_the_tenant_offers(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de"], "de")
    exam = make_exam(
        db,
        tenant.id,
        consent_text=GERMAN,  # the default language's
        consent_translations={"en": ENGLISH},
        settings={"proctoring_preset": "strict"},
    )
    version = publish(db, tenant.id, exam)
    texts = version.consent_texts or {}
    assert sorted(texts) == ["de", "en"]
    assert texts["de"].startswith(GERMAN + "\n\n") and ENGLISH not in texts["de"]
    assert "Aufsichtsstufe „Streng“" in texts["de"] and "180 Tage lang" in texts["de"]
    assert texts["en"].startswith(ENGLISH + "\n\n") and GERMAN not in texts["en"]
    assert "This exam uses strict proctoring." in texts["en"] and "180 days" in texts["en"]

    # What was frozen is what candidates get, whatever the working copy says now.
    with db.unit_of_work(tenant.id) as uow:
        exams.update_exam(uow, exam, ExamPatchIn(consent_translations={"en": "Something else."}))
    with db.unit_of_work(tenant.id) as uow:
        frozen = uow.scalar(select(ExamVersion).where(ExamVersion.exam_id == exam))
        assert frozen is not None and frozen.consent_texts == texts

    # No words of the author's own: nothing more is needed, every language is frozen.
    plain = publish(db, tenant.id, make_exam(db, tenant.id))
    assert sorted(plain.consent_texts or {}) == ["de", "en"]
    assert (plain.consent_texts or {})["de"].startswith("Für diese Prüfung gilt")


@pytest.mark.parametrize(
    ("consent", "missing", "field"),
    [
        ({"consent_text": ENGLISH}, ["de"], "consent_translations.de"),
        ({"consent_translations": {"de": GERMAN}}, ["en"], "consent_text"),
    ],
)
def test_a_custom_consent_missing_an_offered_language_is_not_published(
    db: BoundDatabase, settings: Settings, consent: dict[str, Any], missing: list[str], field: str
) -> None:
    tenant = offering(db, settings, ["en", "de"], "en")
    exam = make_exam(db, tenant.id, **consent)
    with db.unit_of_work(tenant.id) as uow, pytest.raises(Invalid) as refused:
        exams.publish_exam(uow, exam)
    assert refused.value.extensions["field"] == field
    assert refused.value.extensions["missing"] == missing


def test_the_api_names_the_missing_language_and_checks_translations(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de"], "en")
    author = bearer(app, db, make_user(db, tenant.id, ["exam_author"]))
    exam = make_exam(db, tenant.id, consent_text=ENGLISH)
    url = f"/api/v1/exams/{exam}"

    refused = client.post(f"{url}/publish", headers=author)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["field"] == "consent_translations.de" and problem["missing"] == ["de"]
    assert "written in English (en) but not in Deutsch (de)" in problem["detail"]

    for bad, field in (
        ({"xx": "text"}, "consent_translations.xx"),  # not a language Invigil speaks
        ({"en": "text"}, "consent_translations.en"),  # the default: that is consent_text
    ):
        r = client.patch(url, json={"consent_translations": bad}, headers=author)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    too_long = client.patch(
        url, json={"consent_translations": {"de": "x" * 20_001}}, headers=author
    )
    assert too_long.status_code == 422 and "consent_translations" in too_long.text

    saved = client.patch(url, json={"consent_translations": {"de-DE": GERMAN}}, headers=author)
    assert saved.status_code == 200 and saved.json()["consent_translations"] == {"de": GERMAN}
    published = client.post(f"{url}/publish", headers=author)
    assert published.status_code == 200, published.text
    version = client.get(f"{url}/versions", headers=author).json()["items"][0]
    assert sorted(version["consent_texts"]) == ["de", "en"]
    assert version["consent_texts"]["de"].startswith(GERMAN)


def test_the_exam_page_shows_the_missing_language_at_its_field(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = offering(db, settings, ["en", "de"], "en")
    exam = make_exam(db, tenant.id, consent_text=ENGLISH)
    staff, csrf = web_client(app, db, tenant.id, ["exam_author"])
    page = staff.get(f"/authoring/exams/{exam}")
    assert 'name="consent_text_de"' in page.text and 'lang="de"' in page.text

    refused = staff.post(f"/authoring/exams/{exam}/publish", data={"csrf": csrf})
    assert refused.status_code == 422, refused.text
    assert "Not published." in refused.text
    assert refused.text.count("but not in Deutsch (de)") == 3  # summary, button, field: once each
    field = re.search(r'<textarea id="s-consent-de"[^>]*>', refused.text)
    assert field is not None and 'aria-invalid="true"' in field.group(0)
    assert 'id="s-consent-de-err"' in refused.text and 'href="#s-consent-de"' in refused.text

    form = {"csrf": csrf, "consent_text": ENGLISH, "consent_text_de": GERMAN}
    saved = staff.post(f"/authoring/exams/{exam}/settings", data=form)
    assert saved.status_code == 303, saved.text
    assert staff.post(f"/authoring/exams/{exam}/publish", data={"csrf": csrf}).status_code == 303
    with db.unit_of_work(tenant.id) as uow:
        version = uow.scalar(select(ExamVersion).where(ExamVersion.exam_id == exam))
        assert version is not None and (version.consent_texts or {})["de"].startswith(GERMAN)
    bad = staff.post(f"/authoring/exams/{exam}/settings", data=form | {"consent_text_en": "x"})
    assert bad.status_code == 422 and "is the default language" in bad.text
