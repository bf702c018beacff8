"""Staff pages in German, over HTTP: every translated staff page of the
demo tenant, signed in as a staff member who chose German, is announced as
German, carries German words, and shows none of its own English sentences
(the catalog's English strings that belong to the page's domain)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil import i18n
from invigil.db import platform
from invigil.db.engine import Database
from invigil.identity import auth
from invigil.identity import service as identity
from invigil.settings import Settings
from invigil.web.session import COOKIE, csrf_token
from tests.browser import staff_pages
from tests.conftest import BoundDatabase, make_user
from tests.delivery.factories import kit_for

DELIVERY_STAFF = ("attempts.html", "attempt.html", "invitations.html", "outbox.html", "home_")
# The staff pages translated so far, by URL prefix, and where their strings live.
DOMAINS = {
    "/authoring/": ("src/invigil/web/templates/content/", "src/invigil/content/"),
    # Staff pages only: a candidate's consent text ("I agree") is data here.
    "/delivery/": (
        *(f"src/invigil/web/templates/delivery/{n}" for n in DELIVERY_STAFF),
        "src/invigil/delivery/",
    ),
    "/proctoring/": ("src/invigil/web/templates/proctoring/", "src/invigil/proctoring/"),
    "/exams/": ("src/invigil/web/templates/results/", "src/invigil/results/"),
    "/shortlists": ("src/invigil/web/templates/shortlists/", "src/invigil/shortlists/"),
    "/bundles/": ("src/invigil/web/templates/audit/bundle.html", "src/invigil/audit/bundle_"),
    "/results/": ("src/invigil/web/templates/results/", "src/invigil/results/"),
    "/certification/coverage": (
        "src/invigil/web/templates/certification/",
        "src/invigil/certification/coverage",
    ),
    "/certification/groups": (
        "src/invigil/web/templates/certification/",
        "src/invigil/certification/coverage",
    ),
    "/certification": ("src/invigil/web/templates/certification/", "src/invigil/certification/"),
    "/admin/ai": ("src/invigil/web/templates/ai/", "src/invigil/ai/"),
    "/billing": ("src/invigil/web/templates/ledger/", "src/invigil/ledger/"),
    "/admin/retention": ("src/invigil/web/templates/retention/", "src/invigil/retention/"),
    "/admin/trust": ("src/invigil/web/templates/retention/", "src/invigil/retention/trust"),
    "/admin/privacy/": (
        "src/invigil/web/templates/retention/",
        "src/invigil/retention/requests",
    ),
    "/candidates/": (
        "src/invigil/web/templates/retention/staff_portal_links.html",
        "src/invigil/retention/portal_pages.py",
    ),
}
# Words one of these pages shows in German (at least one per page).
GERMAN = re.compile(
    r"\b(Fragenbank|Fragenbanken|Prüfung|Prüfungen|Frage|Fragen|Vorschau|Versuche|Einladungen"
    r"|Postausgang|Teilnehmende|Überprüfung|Markierungen|Ergebnisse|Auswahllisten|Stellen"
    r"|Regelwerke|Regelwerk|Beweismittelpaket|Abdeckung|Gruppen|Mitgliedschaften|Zertifizierung"
    r"|Zertifikate|Zertifikat|Rezertifizierung|KI-Funktionen|Abrechnung|Buchungsverlauf"
    r"|Kontoauszug|Aufbewahrung|Aufbewahrungsrichtlinie|Sperrvermerke|Vertrauensbericht"
    r"|Datenschutzanträge|Antrag|Portal-Links)\b"
)


@pytest.fixture(scope="module")
def seeded(database: Database, settings: Settings) -> dict[str, str]:
    staff_pages.seed_demo(database, settings.regions, kit_for(settings))
    return staff_pages.demo_ids(database)


def german_admin(app: FastAPI, db: BoundDatabase) -> TestClient:
    return german_admin_with_csrf(app, db)[0]


def german_admin_with_csrf(app: FastAPI, db: BoundDatabase) -> tuple[TestClient, str]:
    ref = platform.tenant_by_slug(db, staff_pages.DEMO_TENANT)
    assert ref is not None
    user = make_user(db, ref.id, ["tenant_admin"])
    with db.unit_of_work(ref.id) as uow:
        identity.set_language(uow, user.id, "de")
        session, secret = auth.open_session(
            uow,
            app.state.settings,
            user,
            kind="web",
            address="test",
            user_agent="pytest",
            enroll_only=False,
        )
        csrf = csrf_token(session.token_hash)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    client.cookies.set(COOKIE, secret)
    return client, csrf


def english_sentences(sources: tuple[str, ...]) -> set[str]:
    """The English strings of a domain that German words replace: whole
    phrases (two words or more) with no placeholder or markup."""
    catalog = i18n.catalog("de")
    assert catalog is not None
    out = set()
    for message in catalog:
        if not isinstance(message.id, str) or not message.id:
            continue
        if not any(path.startswith(sources) for path, _ in message.locations):
            continue
        if "%" in message.id or "<" in message.id or " " not in message.id.strip():
            continue
        if message.string and message.string != message.id:
            out.add(message.id)
    return out


# The shared data table's own words (its caption, headings, search and pager,
# empty message) are translated by the shared table (_table.html), not here.
TABLE_CHROME = re.compile(
    r"<caption>.*?</caption>|<thead>.*?</thead>|<form[^>]*dt-controls.*?</form>"
    r"|<div class=\"dt-foot\">.*?</nav>.*?</form>|<p class=\"card dt-empty\">.*?</p>",
    re.S,
)


def main_text(page: str) -> str:
    found = re.search(r"<main\b.*?</main>", page, re.S)
    assert found, "no <main>"
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", found.group(0), flags=re.S)
    text = TABLE_CHROME.sub(" ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(html.unescape(text).split())


def shown(sentence: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(sentence)}(?!\w)", text) is not None


def test_translated_staff_pages_read_in_german(
    app: FastAPI, db: BoundDatabase, seeded: dict[str, str]
) -> None:
    client = german_admin(app, db)
    problems: list[str] = []
    checked = 0
    for route, url in staff_pages.staff_pages(app, seeded):
        domain = next((p for p in DOMAINS if route.startswith(p)), None)
        if domain is None:
            continue
        response = client.get(url)
        if response.status_code != 200:
            problems.append(f"{url}: {response.status_code}")
            continue
        checked += 1
        page = response.text
        if '<html lang="de"' not in page:
            problems.append(f"{route}: not announced as German")
        text = main_text(page)
        if not GERMAN.search(text):
            problems.append(f"{route}: no German word")
        left = sorted(s for s in english_sentences(DOMAINS[domain]) if shown(s, text))
        if left:
            problems.append(f"{route}: English left: {left[:5]}")
    assert problems == []
    assert checked >= 13, "the demo tenant's pages were not reached"


def test_the_check_sees_an_english_sentence() -> None:
    sentences = english_sentences(DOMAINS["/authoring/"])
    assert "Create a question bank" in sentences  # a phrase the banks page shows
    text = main_text("<main><h2>Create a question bank</h2></main>")
    assert any(shown(s, text) for s in sentences)
    assert not shown("Question bank", "Question banks")


def test_a_form_error_on_a_page_is_in_german(
    app: FastAPI, db: BoundDatabase, seeded: dict[str, str]
) -> None:
    """The field's label and the validator's sentence, both in the reader's
    language; the API keeps its English sentence (test_bodies)."""
    client, csrf = german_admin_with_csrf(app, db)
    page = client.post("/authoring/exams", data={"csrf": csrf, "title": "x" * 201})
    assert page.status_code == 422
    text = main_text(page.text)
    assert "Titel: darf höchstens 200 Zeichen lang sein" in text
    assert "must be at most" not in text
