"""Staff pages in the signed-in user's language (users.language): German
for a German user (the frame, a table, a form error, the audit log's words,
dates), English for everyone else, a change on /account effective at once,
and only the languages staff pages are complete in offered or honoured."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from invigil import i18n
from invigil.identity.models import User
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.identity.test_pages import csrf_of, signed_in


def _prefer(db: BoundDatabase, user: User, code: str | None) -> None:
    with db.unit_of_work(user.tenant_id) as uow:
        uow.session.execute(update(User).where(User.id == user.id).values(language=code))


def test_a_german_user_reads_the_staff_pages_in_german(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    user = signed_in(client, db, tenant_a, ["tenant_admin"])
    _prefer(db, user, "de")

    users = client.get("/admin/users")
    assert users.status_code == 200
    text = users.text
    assert '<html lang="de" dir="ltr">' in text
    # the frame: navigation and who is signed in
    for label in ("Startseite", "Benutzer", "Rollen", "Prüfprotokoll", "Konto", "Abmelden"):
        assert f">{label}<" in text, label
    assert f"Angemeldet als <strong>{user.email}</strong>" in text
    # the table: caption, column headers, paging, filters
    for header in ("E-Mail", "Letzte Anmeldung", "Rollen"):
        assert f">{header}<" in text, header
    assert "Zeilen pro Seite" in text and "Alle Status" in text and "Mitarbeiterkonten:" in text
    assert ">Last sign-in<" not in text and ">Sign out<" not in text

    # a form error, in the summary and next to its field
    account = client.get("/account")
    assert "Sprache der Mitarbeiterseiten" in account.text
    wrong = client.post(
        "/account/password",
        data={
            "csrf": csrf_of(account.text),
            "current_password": "whatever it is",
            "new_password": "a new long passphrase",
            "confirm_password": "another long passphrase",
        },
    )
    assert wrong.status_code == 422
    assert "Es gibt ein Problem" in wrong.text
    assert "Das neue Passwort und seine Bestätigung stimmen nicht überein." in wrong.text
    assert "Ihr Passwort wurde nicht geändert." in wrong.text

    # the audit log: column headers, the actions in words, dates the German way
    log = client.get("/admin/audit")
    assert log.status_code == 200
    assert ">Was geschah<" in log.text and ">Zeitpunkt (UTC)<" in log.text
    assert "Hat einen Mitarbeiter eingeladen" in log.text  # user.created
    assert "Hat sich angemeldet" in log.text  # auth.signed_in
    assert "Invited a staff member" not in log.text
    assert re.search(r">\d\d\.\d\d\.\d{4}, \d\d:\d\d UTC</time>", log.text)  # 06.12.2026, 18:05


def test_an_english_user_reads_english(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    users = client.get("/admin/users")
    assert '<html lang="en" dir="ltr">' in users.text
    assert ">Users<" in users.text and ">Last sign-in<" in users.text
    assert "Benutzer" not in users.text
    log = client.get("/admin/audit")
    assert "Invited a staff member" in log.text and "Hat einen" not in log.text


def test_choosing_a_language_on_the_account_page_applies_at_once(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    signed_in(client, db, tenant_a, ["tenant_admin"])
    account = client.get("/account")
    assert "Your account" in account.text
    saved = client.post(
        "/account/language",
        data={"csrf": csrf_of(account.text), "language": "de"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    after = client.get(saved.headers["location"])
    assert '<html lang="de" dir="ltr">' in after.text
    assert "Ihr Konto" in after.text
    assert "Sprache gespeichert." in after.text  # the notice already in the new language
    back = client.post(
        "/account/language",
        data={"csrf": csrf_of(after.text), "language": "en"},
        follow_redirects=False,
    )
    again = client.get(back.headers["location"])
    assert "Your account" in again.text and "Language saved." in again.text


def test_only_languages_with_complete_staff_pages_are_offered_or_honoured(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A language with a catalog for candidates only (here: French) is not a
    staff language: /account does not offer it, refuses it, and a stored
    preference for it gives English pages."""
    monkeypatch.setattr(i18n, "AVAILABLE", (*i18n.AVAILABLE, "fr"))
    user = signed_in(client, db, tenant_a, ["tenant_admin"])
    account = client.get("/account")
    assert '<option value="de"' in account.text and '<option value="fr"' not in account.text
    refused = client.post(
        "/account/language", data={"csrf": csrf_of(account.text), "language": "fr"}
    )
    assert refused.status_code == 422 and 'id="language-error"' in refused.text
    _prefer(db, user, "fr")
    page = client.get("/admin/users")
    assert '<html lang="en" dir="ltr">' in page.text and ">Users<" in page.text
    assert i18n.staff_language("fr") == "en" and i18n.staff_language("de-AT") == "de"
    assert i18n.staff_language(None) == "en"
