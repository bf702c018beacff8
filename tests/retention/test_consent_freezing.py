"""The consent text states the retention policy in force for the tenant,
and an attempt keeps the version it started under: started under v1, the
attempt's landing page and recorded consent say v1's days after v2 is
written; a new attempt says v2's. The wording in other languages comes
from the catalogs."""

from __future__ import annotations

import html
import re
import uuid

from fastapi import FastAPI
from sqlalchemy import select

from invigil.content import consent
from invigil.content.consent import Kept, Period
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt, Consent
from invigil.retention import policy
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import exam_with_every_type, kit_for, make_invitation, token_of
from tests.delivery.test_attempts import begin, browser, consent_form
from tests.retention.factories import document

CONSENT_TEXT = re.compile(r'<div class="consent-text"[^>]*>(.*?)</div>', re.S)


def shown(page: str) -> str:
    found = CONSENT_TEXT.search(page)
    assert found, "the landing page shows the consent text"
    return html.unescape(re.sub(r"<[^>]+>", "\n", found.group(1)))


def set_practice_days(db: BoundDatabase, tenant: uuid.UUID, days: int, answers: int) -> None:
    doc = document(
        classes__evidence__by_preset={"practice": days}, classes__answers__keep_days=answers
    )
    with db.unit_of_work(tenant, Actor.operator("test")) as uow:
        policy.set_policy(uow, doc, reason=f"practice {days}")


def test_an_attempt_keeps_the_version_it_started_under(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    exam = exam_with_every_type(db, tenant)  # the practice preset
    kit = kit_for(settings)
    first = make_invitation(db, tenant, kit, exam)

    client = browser(app)
    token = token_of(first)
    defaults = client.get(f"/take/{token}").text
    assert "kept for 30 days after the exam and then erased" in shown(defaults)
    assert "My answers are kept for 730 days after the exam and then deleted." in shown(defaults)
    assert "My result is kept for as long as the organisation keeps its records." in shown(defaults)

    set_practice_days(db, tenant, 12, 400)
    page = client.get(f"/take/{token}").text
    assert "<strong>12 days</strong> after the exam" in page  # what is recorded, and how long
    words = shown(page)
    assert "The recordings are kept for 12 days after the exam and then erased." in words
    assert "My answers are kept for 400 days after the exam and then deleted." in words
    assert (
        "My name and e-mail address are kept for 730 days after my last activity and then removed."
    ) in words
    started = client.post(f"/take/{token}/start", data=consent_form(page))
    assert started.status_code == 303, started.text
    assert begin(client, token).status_code == 200

    set_practice_days(db, tenant, 21, 500)
    with db.unit_of_work(tenant) as uow:
        attempt = uow.scalar(select(Attempt).where(Attempt.invitation_id == first.invitation.id))
        assert attempt is not None and attempt.retention_version == 1
        agreed = uow.scalar(select(Consent).where(Consent.attempt_id == attempt.id))
        assert agreed is not None
        assert "12 days after the exam" in agreed.text and "400 days" in agreed.text
    again = client.get(f"/take/{token}").text  # the running attempt's page: still v1
    assert "<strong>12 days</strong>" in again and "21 days" not in again

    second = make_invitation(db, tenant, kit, exam)
    other = browser(app)
    fresh = other.get(f"/take/{token_of(second)}").text
    assert "The recordings are kept for 21 days after the exam" in shown(fresh)
    assert "My answers are kept for 500 days" in shown(fresh)
    assert (
        other.post(f"/take/{token_of(second)}/start", data=consent_form(fresh)).status_code == 303
    )
    with db.unit_of_work(tenant) as uow:
        later = uow.scalar(select(Attempt).where(Attempt.invitation_id == second.invitation.id))
        assert later is not None and later.retention_version == 2
        agreed = uow.scalar(select(Consent).where(Consent.attempt_id == later.id))
        assert agreed is not None and "21 days after the exam" in agreed.text


def test_a_page_opened_before_a_new_version_must_be_read_again(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    made = make_invitation(db, tenant, kit_for(settings), exam_with_every_type(db, tenant))
    client, token = browser(app), token_of(made)
    page = client.get(f"/take/{token}").text
    set_practice_days(db, tenant, 15, 600)  # the text the page showed is no longer the text
    refused = client.post(f"/take/{token}/start", data=consent_form(page))
    assert refused.status_code == 409 and "read it again" in refused.text
    with db.unit_of_work(tenant) as uow:
        assert uow.scalars(select(Attempt)) == []


def test_the_periods_are_told_in_the_candidates_language() -> None:
    kept = Kept(
        3,
        Period(45, "result_released", "delete"),
        Period(None, "attempt_submitted", "delete"),
        Period(90, "result_released", "delete"),
        Period(365, "candidate_last_active", "anonymise"),
    )
    english = consent.kept_paragraph("en", kept)
    assert english.startswith(
        "The recordings are kept for 45 days after my result is released and then erased."
    )
    assert "My answers are kept for as long as the organisation keeps its records." in english
    assert "My result is kept for 90 days after my result is released and then deleted." in english
    german = consent.kept_paragraph("de", kept)
    assert "Die Aufzeichnungen werden nach der Freigabe meines Ergebnisses 45 Tage" in german
    assert "Mein Name und meine E-Mail-Adresse werden nach meiner letzten Aktivität 365" in german
    for code in ("es", "fr", "ar"):
        told = consent.kept_paragraph(code, kept)
        assert "My answers" not in told and "365" in told.replace("٣٦٥", "365"), code
    frozen = consent.text("Our words.\n\nTwo paragraphs.", {"proctoring_preset": "strict"}, "en")
    restated = consent.restate(frozen, "en", kept)
    assert restated.split("\n\n")[:2] == ["Our words.", "Two paragraphs."]
    assert restated.split("\n\n")[-1] == frozen.split("\n\n")[-1]  # "I agree" unchanged
    assert "45 days after my result is released" in restated.split("\n\n")[-2]
