"""A candidate invited in German reads the landing page, the system check,
the player (its questions, flag, submit dialog) and the done page in German, can switch languages, and a right-to-left page
(Arabic) lays out from the right; axe stays clean in each. The consent a
German candidate agrees to is German, and is recorded so."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery.models import Consent
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.browser import candidate as c
from tests.browser.axe import assert_accessible
from tests.conftest import make_tenant
from tests.delivery.factories import exam_with_every_type, kit_for


def org_with(
    database: Database, settings: Settings, live_server: str, languages: list[str]
) -> c.Org:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, languages, None)
    return c.Org(tenant.id, database, kit_for(settings), live_server)


def test_a_candidate_invited_in_german_takes_the_exam_in_german(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = org_with(database, settings, live_server, ["en", "de"])
    link = org.link(org.exam(time_limit_minutes=45), language="de")
    page.goto(link)
    assert page.evaluate("document.documentElement.lang") == "de"
    expect(page.get_by_role("heading", name="Über diese Prüfung")).to_be_visible()
    expect(page.get_by_text("45 Minuten ab dem Start")).to_be_visible()
    assert_accessible(page, "the landing page in German")
    # The switcher: English, remembered for this link, then back.
    switcher = page.get_by_role("navigation", name="Sprache")
    switcher.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="About this exam")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    page.reload()
    expect(page.get_by_role("heading", name="About this exam")).to_be_visible()
    page.get_by_role("navigation", name="Language").get_by_role("button", name="Deutsch").click()
    expect(page.get_by_role("heading", name="Ihre Einwilligung")).to_be_visible()
    # Consent and start with the German controls.
    page.get_by_label("Ich stimme zu").check()
    page.get_by_role("button", name="Prüfung starten").click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
    # The player: the page around it and its own strings, in German.
    expect(page.get_by_role("heading", name=re.compile(r"^Frage 1 von \d+$"))).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "de"
    total = len(c.state(page)["questions"])
    boot = c.boot(page)
    assert boot["messages"]["Submit now"] == "Jetzt abgeben"
    # A counted string comes with its plural forms, picked by the browser's plural rules.
    assert boot["messages"]["%(n)s point"] == {"one": "%(n)s Punkt", "other": "%(n)s Punkte"}
    expect(page.get_by_text("Verbleibende Zeit")).to_be_visible()
    expect(page.locator(".points")).to_have_text("1 Punkt")
    flag = page.get_by_role("button", name="Zur Überprüfung markieren")
    flag.click()
    expect(flag).to_have_attribute("aria-pressed", "true")
    palette = page.get_by_role("navigation", name="Fragen")
    expect(
        palette.get_by_role("button", name="Frage 1, nicht beantwortet, markiert")
    ).to_be_visible()
    page.get_by_role("button", name="Weiter", exact=True).click()
    expect(page.get_by_role("heading", name=f"Frage 2 von {total}")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("Alle Antworten gespeichert")
    assert_accessible(page, "the player in German")
    page.locator("#submit-open").click()
    dialog = page.get_by_role("dialog", name="Prüfung abgeben?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_text(f"Sie haben 0 von {total} Fragen beantwortet.")).to_be_visible()
    head = ", ".join(str(n) for n in range(1, total))
    expect(dialog).to_contain_text(f"Nicht beantwortet: Fragen {head} und {total}.")
    expect(dialog).to_contain_text("Zur Überprüfung markiert: Frage 1.")
    expect(
        dialog.get_by_text("Nach der Abgabe können Sie Ihre Antworten nicht mehr ändern.")
    ).to_be_visible()
    assert_accessible(page, "the submit confirmation in German")
    dialog.get_by_role("button", name="Jetzt abgeben").click()
    expect(page).to_have_url(re.compile(r"/done$"))
    # The done page.
    assert page.evaluate("document.documentElement.lang") == "de"
    expect(page.get_by_text("Ihre Prüfung wurde abgegeben.")).to_be_visible()
    expect(page.get_by_text("Sie können dieses Fenster schließen.")).to_be_visible()
    assert_accessible(page, "the done page in German")


def test_a_german_candidate_reads_the_system_check_in_german(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = org_with(database, settings, live_server, ["en", "de"])
    # "standard" needs a camera; this browser has none, so the check fails.
    page.goto(org.link(org.exam(proctoring_preset="standard"), language="de"))
    page.get_by_label("Ich stimme zu").check()
    page.get_by_role("button", name="Prüfung starten").click()
    expect(page.get_by_role("heading", name="Ihr Computer wird überprüft")).to_be_visible()
    camera = page.locator(".check-item").filter(has_text="Kamera:")
    expect(camera).to_contain_text("nicht bereit")
    expect(page.get_by_role("button", name="Erneut überprüfen")).to_be_visible()
    expect(page.locator(".check-summary")).to_contain_text("Aufmerksamkeit")
    assert_accessible(page, "a failed system check in German")


def test_an_arabic_landing_page_is_right_to_left_and_accessible(
    page: Page,
    database: Database,
    settings: Settings,
    live_server: str,
) -> None:
    # The whole journey right to left is tests/browser/test_rtl.py.
    org = org_with(database, settings, live_server, ["ar", "en"])
    page.goto(org.link(org.exam(), language="ar"))
    assert page.evaluate("[document.documentElement.lang, document.dir]") == ["ar", "rtl"]
    heading = page.locator("main h1").bounding_box()
    main = page.locator("main").bounding_box()
    assert heading and main
    # Right-aligned: the heading ends at the main column's right edge (its padding aside).
    assert main["x"] + main["width"] - (heading["x"] + heading["width"]) < 40
    # The consent was frozen in Arabic at publish: it is shown in Arabic, right to left.
    consent = page.locator("#consent-text")
    assert consent.get_attribute("lang") == "ar" and consent.get_attribute("dir") == "rtl"
    assert_accessible(page, "the landing page right to left")


def test_a_german_candidate_agrees_to_the_german_consent_and_it_is_recorded_so(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    org = org_with(database, settings, live_server, ["en", "de"])
    exam = exam_with_every_type(
        database,
        org.tenant_id,
        settings={"proctoring_preset": "practice"},
        consent_text="Acme keeps your answers for this hiring round only.",
        consent_translations={
            "de": "Acme bewahrt Ihre Antworten nur für diese Bewerbungsrunde auf."
        },
    )
    page.goto(org.link(exam, language="de"))
    consent = page.locator("#consent-text")
    assert consent.get_attribute("lang") == "de"
    expect(consent).to_contain_text("Acme bewahrt Ihre Antworten nur für diese Bewerbungsrunde")
    expect(consent).to_contain_text("Für diese Prüfung gilt die Aufsichtsstufe „Übung“.")
    expect(consent).to_contain_text("30 Tage lang aufbewahrt")
    expect(consent).to_contain_text("Ich bin einverstanden, die Prüfung unter diesen Bedingungen")
    expect(consent).not_to_contain_text("Acme keeps")
    shown = consent.inner_text()
    page.get_by_label("Ich stimme zu").check()
    page.get_by_role("button", name="Prüfung starten").click()
    expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
    with database.unit_of_work(org.tenant_id) as uow:
        recorded = uow.scalar(select(Consent))
        assert recorded is not None
        assert (recorded.decision, recorded.language) == ("given", "de")
        # The paragraphs the candidate read, word for word.
        assert recorded.text.split() == shown.split()
