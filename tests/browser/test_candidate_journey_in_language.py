"""The whole journey in the candidate's language, German and Arabic: the
invitation mail arrives in it (through a real SMTP server on loopback), the
emailed link opens the landing page in it, the consent the candidate reads
is the frozen text in that language and is recorded with its language and
hash (and audited so), the questions come in their translation, the player
and the done page speak it, and axe stays clean on every page, right to
left included.

The expected words come from the catalogs (``i18n.gettext``), each checked
to differ from the English, so the test follows a reworded translation and
still fails on one that is missing."""

from __future__ import annotations

import dataclasses
import re
import uuid

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil import i18n
from invigil.audit.models import AuditEvent
from invigil.content import translations
from invigil.content.models import ExamVersion
from invigil.content.translations import TranslationIn
from invigil.db.engine import Database
from invigil.delivery import attempts, mail
from invigil.delivery.landing import consent_text, kept_of
from invigil.delivery.models import Attempt, AttemptResult, Consent, Invitation, OutboxMail
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.browser.test_candidate_languages import org_with
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import make_invitation, published_exam
from tests.delivery.test_mail import Inbox, body_of, smtp_server, smtp_settings

__all__ = ["smtp_server"]  # the fixture, used below by name

CONSENT = {
    "en": "Acme keeps your answers for this hiring round only.",
    "de": "Acme bewahrt Ihre Antworten nur für diese Bewerbungsrunde auf.",
    "ar": "تحتفظ Acme بإجاباتك لجولة التوظيف هذه فقط.",
}
QUESTION = {
    "de": {
        "prompt": "Was ist die Hauptstadt von Frankreich?",
        "choices": ["Lyon", "Paris", "Marseille", "Nizza"],
    },
    "ar": {
        "prompt": "ما عاصمة فرنسا؟",
        "choices": ["ليون", "باريس", "مرسيليا", "نيس"],
    },
}
PARIS = {"de": "Paris", "ar": "باريس"}
# The exam's own words, translated by its author (English is what it is written in).
TITLE = {"en": "Acme hiring test", "de": "Acme-Einstellungstest", "ar": "اختبار التوظيف لدى Acme"}
SECTION = {"en": "Geography", "de": "Erdkunde", "ar": "الجغرافيا"}


def said(code: str, message: str) -> str:
    """``message`` in ``code``, which must be a real translation."""
    words = i18n.gettext(code, message)
    assert words != message, f"{message!r} is not translated into {code}"
    return words


@pytest.mark.parametrize("code", ["de", "ar"])
def test_a_candidate_goes_through_the_whole_journey_in_their_language(
    code: str,
    page: Page,
    database: Database,
    settings: Settings,
    live_server: str,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    org = org_with(database, settings, live_server, ["en", "de", "ar"])
    bank = make_bank(database, org.tenant_id)
    question = make_question(database, org.tenant_id, bank, "single_choice")
    with database.unit_of_work(org.tenant_id) as uow:
        translations.put(uow, question, code, TranslationIn.model_validate(QUESTION[code]))
    exam = published_exam(
        database,
        org.tenant_id,
        sections=[{"kind": "fixed", "title": SECTION["en"], "question_ids": [str(question)]}],
        settings={"shuffle_questions": False, "proctoring_preset": "practice"},
        consent_text=CONSENT["en"],
        consent_translations={"de": CONSENT["de"], "ar": CONSENT["ar"]},
        title=TITLE["en"],
        text_translations={
            lang: {"title": TITLE[lang], "sections": [SECTION[lang]]} for lang in ("de", "ar")
        },
    )

    # The invitation mail, in the invitation's language, sent over SMTP.
    kit = dataclasses.replace(org.kit, smtp=True, base_url=live_server)
    made = make_invitation(
        database, org.tenant_id, kit, exam, language=code, email=f"{code}@example.org"
    )
    with database.unit_of_work(org.tenant_id) as uow:  # what the delivery.send_mail job runs
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert row is not None
        mail.send(uow, smtp_settings(settings, port), kit.box, row.id)
    ((_, recipients, message),) = inbox.messages
    assert recipients == [f"{code}@example.org"]
    subject = said(code, "Your invitation: %(title)s").split("%(title)s")[0]
    assert str(message["Subject"]).startswith(subject)
    assert TITLE[code] in str(message["Subject"]) and TITLE["en"] not in str(message["Subject"])
    text = body_of(message)
    assert said(code, "Your personal link (do not share it):") in text
    assert "Your personal link" not in text
    found = re.search(re.escape(live_server) + r"/take/\S+", text)
    assert found, text

    # The landing page and the consent, in that language.
    page.goto(found.group(0))
    direction = i18n.direction(code)
    assert page.evaluate("[document.documentElement.lang, document.dir]") == [code, direction]
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text(TITLE[code])
    assert heading.get_attribute("lang") == code and heading.get_attribute("dir") == direction
    consent = page.locator("#consent-text")
    assert consent.get_attribute("lang") == code
    expect(consent).to_contain_text(CONSENT[code])
    expect(consent).to_contain_text(said(code, "I agree to take this exam under these conditions."))
    expect(consent).not_to_contain_text(CONSENT["en"])
    shown = consent.inner_text()
    assert_accessible(page, f"the landing page in {code}")
    page.get_by_label(said(code, "I agree"), exact=True).check()
    page.get_by_role("button", name=said(code, "Start exam")).click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))

    # The player: its words and the question's, in that language.
    asked = page.get_by_role("group", name=QUESTION[code]["prompt"])
    expect(asked).to_be_visible()
    expect(page.locator(".exam-bar h1")).to_have_text(TITLE[code])
    expect(page.locator(".section-title")).to_have_text(SECTION[code])
    assert page.locator(".section-title").get_attribute("lang") == code
    assert page.evaluate("document.documentElement.lang") == code
    assert_accessible(page, f"the player in {code}")
    asked.get_by_role("radio", name=PARIS[code]).check()
    expect(page.locator("#save-status")).to_have_text(said(code, "All answers saved"))
    state = c.state(page)
    assert [q["lang"] for q in state["questions"]] == [code]
    # The only question is the last: its own "Submit exam" opens the dialog.
    page.get_by_role("button", name=said(code, "Submit exam"), exact=True).first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    assert_accessible(page, f"the submit confirmation in {code}")
    dialog.get_by_role("button", name=said(code, "Submit now")).click()
    expect(page).to_have_url(re.compile(r"/done$"))
    assert page.evaluate("[document.documentElement.lang, document.dir]") == [code, direction]
    expect(page.get_by_text(said(code, "Your exam has been submitted."))).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE[code])
    assert_accessible(page, f"the done page in {code}")

    # What is recorded: the consent in that language, word for word, with its
    # hash and an audit entry naming the language; the attempt's language; the
    # answer scored as the same choice an English candidate would make.
    attempt_id = uuid.UUID(state["attempt_id"])
    with database.unit_of_work(org.tenant_id) as uow:
        invitation = uow.get(Invitation, made.invitation.id)
        assert invitation is not None
        version = uow.scalar(
            select(ExamVersion).where(
                ExamVersion.exam_id == invitation.exam_id,
                ExamVersion.version == invitation.exam_version,
            )
        )
        assert version is not None and version.consent_texts is not None
        recorded = uow.scalar(select(Consent).where(Consent.attempt_id == attempt_id))
        assert recorded is not None
        assert (recorded.decision, recorded.language) == ("given", code)
        # The text frozen at publish, its paragraph on keeping stated from the
        # retention policy version the attempt froze (the defaults, version 0).
        frozen_with = uow.get(Attempt, attempt_id)
        assert frozen_with is not None and frozen_with.retention_version == 0
        kept = kept_of(uow, version, frozen_with.retention_version)
        assert recorded.text == consent_text(version, code, kept)
        assert recorded.text != version.consent_texts[code]
        assert recorded.text.split() == shown.split()
        assert recorded.text_sha256 == attempts.text_sha256(recorded.text)
        entry = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "consent.given", AuditEvent.subject_id == str(recorded.id)
            )
        )
        assert entry is not None and entry.payload["language"] == code
        attempt = uow.get(Attempt, attempt_id)
        assert attempt is not None
        assert (attempt.language, attempt.status) == (code, "submitted")
        result = uow.scalar(select(AttemptResult).where(AttemptResult.attempt_id == attempt_id))
        assert result is not None
        assert result.awarded == result.max_points > 0  # Paris, in any language
