"""A candidate reads the exam's own words (its title, description and
section titles) in their language where the exam version froze them in it:
on the landing page, in the invitation mail, in the player, on the done and
the declined page. Where it did not, they read the words as written,
marked with the language they are written in."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.delivery.models import OutboxMail
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begin, browser, start

GERMAN = {
    "title": "Grundlagen der Statistik",
    "description": "Lesen Sie jede Frage sorgfältig.",
    "sections": ["Alle Fragetypen"],
}
ARABIC = {"title": "أساسيات الإحصاء", "description": "", "sections": ["كل الأنواع"]}
H1 = re.compile(r'<h1 lang="([^"]+)" dir="([a-z]+)">(.*?)</h1>', re.S)


def _made(db: BoundDatabase, settings: Settings, language: str) -> tuple[Any, str]:
    """A tenant offering English (its default), German and Arabic, an exam
    translated into German only, and an invitation in ``language``."""
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de", "ar"], "en")
    exam = exam_with_every_type(
        db,
        tenant.id,
        title="Statistics basics",
        description="Read every question carefully.",
        text_translations={"de": GERMAN},
    )
    made = make_invitation(db, tenant.id, kit_for(settings), exam, language=language)
    return made, token_of(made)


def _h1(page: str) -> tuple[str, str, str]:
    found = H1.search(page)
    assert found is not None, page[:800]
    return found.group(1), found.group(2), html.unescape(found.group(3))


def _subject(db: BoundDatabase, made: Any) -> str:
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        mail = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert mail is not None
        return f"{mail.subject}\n{mail.body}"


def test_a_german_candidate_reads_the_exams_words_in_german_everywhere(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = _made(db, settings, "de")
    mail = _subject(db, made)
    assert mail.startswith("Ihre Einladung: Grundlagen der Statistik\n"), mail
    assert "„Grundlagen der Statistik“" in mail or '"Grundlagen der Statistik"' in mail
    assert "Statistics basics" not in mail

    client = browser(app)
    landing = client.get(f"/take/{token}").text
    assert _h1(landing) == ("de", "ltr", GERMAN["title"])
    assert f'lang="de" dir="ltr">{GERMAN["description"]}</p>' in html.unescape(landing)
    assert "Statistics basics" not in landing and "Read every question" not in landing

    assert start(client, token).status_code == 303
    assert _h1(client.get(f"/take/{token}/exam").text) == ("de", "ltr", GERMAN["title"])
    state = begin(client, token)
    assert state.status_code == 200, state.text
    first = state.json()["questions"][0]
    assert (first["section_title"], first["section_lang"], first["section_dir"]) == (
        "Alle Fragetypen",
        "de",
        "ltr",
    )
    assert _h1(client.get(f"/take/{token}/done").text) == ("de", "ltr", GERMAN["title"])


def test_a_language_without_a_translation_reads_the_words_as_written_marked(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = _made(db, settings, "ar")
    assert "Statistics basics" in _subject(db, made).splitlines()[0]

    client = browser(app)
    landing = client.get(f"/take/{token}").text
    assert re.search(r'<html[^>]* lang="ar"', landing)
    assert _h1(landing) == ("en", "ltr", "Statistics basics")
    assert 'lang="en" dir="ltr">Read every question carefully.</p>' in landing

    assert start(client, token).status_code == 303
    state = begin(client, token)
    first = state.json()["questions"][0]
    assert (first["section_title"], first["section_lang"], first["section_dir"]) == (
        "All types",
        "en",
        "ltr",
    )
    assert _h1(client.get(f"/take/{token}/exam").text) == ("en", "ltr", "Statistics basics")


def test_an_arabic_title_is_shown_right_to_left_and_the_declined_page_names_it(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "ar"], "en")
    exam = exam_with_every_type(
        db, tenant.id, title="Statistics basics", text_translations={"ar": ARABIC}
    )
    made = make_invitation(db, tenant.id, kit_for(settings), exam, language="ar")
    token = token_of(made)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    landing = client.get(f"/take/{token}").text
    assert _h1(landing) == ("ar", "rtl", ARABIC["title"])
    lang = re.search(r'name="consent_language" value="([^"]+)"', landing)
    declined = client.post(
        f"/take/{token}/decline", data={"consent_language": lang.group(1) if lang else "ar"}
    )
    assert declined.status_code == 200, declined.text
    assert f'<span lang="ar" dir="rtl">{ARABIC["title"]}</span>' in declined.text
    assert "Statistics basics" not in declined.text.split("<main", 1)[1]
