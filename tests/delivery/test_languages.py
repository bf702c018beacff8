"""The candidate's language on the guest-link pages: the invitation's
language, else the tenant's default, else the browser's; the switcher
offers only the tenant's languages and the server checks what it gets;
``<html lang dir>`` follow the page's language."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil import i18n
from invigil.audit.models import AuditEvent
from invigil.delivery import invitations, landing
from invigil.delivery.invitations import InviteRequest
from invigil.delivery.models import Attempt, Invitation
from invigil.errors import Invalid
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import (
    exam_with_every_type,
    kit_for,
    make_invitation,
    published_exam,
    token_of,
)
from tests.delivery.test_attempts import begun

HTML = re.compile(r'<html lang="([^"]+)" dir="(ltr|rtl)">')


def browser(app: FastAPI, **headers: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False, headers=headers)


def tenant_with(db: BoundDatabase, settings: Settings, languages: list[str], default: str | None):
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, languages, default)
    return tenant


def invite(db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID, **changes: Any) -> str:
    exam = published_exam(db, tenant_id, settings={"time_limit_minutes": 30})
    return token_of(make_invitation(db, tenant_id, kit_for(settings), exam, **changes))


def lang_of(page: Any) -> tuple[str, str]:
    found = HTML.search(page.text)
    assert found, page.text[:300]
    return found.group(1), found.group(2)


def test_a_candidate_invited_in_german_reads_the_landing_page_in_german(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], "en")
    token = invite(db, settings, tenant.id, language="de")
    page = browser(app, **{"accept-language": "en-GB,en;q=0.9"}).get(f"/take/{token}")
    assert page.status_code == 200, page.text
    assert lang_of(page) == ("de", "ltr")
    text = page.text
    assert "Über diese Prüfung" in text and "Ich stimme zu" in text
    assert "Prüfung starten" in text and "30 Minuten ab dem Start" in text
    assert "About this exam" not in text and "Start exam" not in text
    # The consent text is in German too, and says so (it is recorded as shown).
    assert re.search(r'class="consent-text"[^>]*lang="de"', text)
    # The switcher names each language in its own words; the current one is not a button.
    assert 'value="en" lang="en"' in text and ">English</button>" in text
    assert 'aria-current="true">Deutsch</span>' in text


def test_order_invitation_then_tenant_default_then_browser(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    german_browser = {"accept-language": "de-DE,de;q=0.9,en;q=0.5"}
    # No default: the browser decides among the tenant's languages.
    open_tenant = tenant_with(db, settings, ["en", "de"], None)
    token = invite(db, settings, open_tenant.id)
    assert lang_of(browser(app, **german_browser).get(f"/take/{token}"))[0] == "de"
    assert (
        lang_of(browser(app, **{"accept-language": "fr, en;q=0.1"}).get(f"/take/{token}"))[0]
        == "en"
    )
    # A tenant default wins over the browser...
    fixed = tenant_with(db, settings, ["en", "de"], "en")
    token = invite(db, settings, fixed.id)
    assert lang_of(browser(app, **german_browser).get(f"/take/{token}"))[0] == "en"
    # ...and the invitation's language over the tenant default.
    token = invite(db, settings, fixed.id, language="de")
    assert lang_of(browser(app).get(f"/take/{token}"))[0] == "de"


@pytest.mark.parametrize(
    "header",
    [
        "de;q=abc",
        ";;;,,,",
        "x" * 5000,
        "de-DE;q=2, *;q=0",
        "\u00fc\u00e4-de",
        "de;level=1",
        "en;q=0.0001, " * 400,
    ],
)
def test_a_malformed_accept_language_is_never_an_error(
    app: FastAPI, db: BoundDatabase, settings: Settings, header: str
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], None)
    token = invite(db, settings, tenant.id)
    page = browser(app).get(f"/take/{token}", headers={"accept-language": header.encode()})
    assert page.status_code == 200
    assert lang_of(page)[0] in ("en", "de")


def test_the_switcher_is_remembered_for_this_link_and_checked_by_the_server(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], "en")
    token = invite(db, settings, tenant.id)
    client = browser(app)
    assert lang_of(client.get(f"/take/{token}"))[0] == "en"
    switched = client.post(f"/take/{token}/language", data={"language": "de"})
    assert switched.status_code == 303 and switched.headers["location"] == f"/take/{token}"
    cookie = switched.headers["set-cookie"]
    assert f"Path=/take/{token}" in cookie and "HttpOnly" in cookie
    assert lang_of(client.get(f"/take/{token}"))[0] == "de"
    # A language the tenant does not enable (or nonsense) is refused on the page, nothing kept.
    for bad in ("fr", "ar", "xx-" + "y" * 100, ""):
        refused = client.post(f"/take/{token}/language", data={"language": bad})
        assert refused.status_code == 422, bad
        assert "set-cookie" not in refused.headers
        assert 'id="language-error"' in refused.text
    # A forged cookie is checked again on every page: it falls back.
    forged = browser(app)
    forged.cookies.set("invigil_lang", "fr", path=f"/take/{token}")
    assert lang_of(forged.get(f"/take/{token}"))[0] == "en"
    # Another link of the same tenant is not affected by this link's choice.
    other = invite(db, settings, tenant.id)
    assert lang_of(client.get(f"/take/{other}"))[0] == "en"
    # A language Invigil speaks but this tenant does not enable is refused too.
    english_only = make_tenant(db, settings)
    token = invite(db, settings, english_only.id)
    refused = client.post(f"/take/{token}/language", data={"language": "de"})
    assert refused.status_code == 422 and "set-cookie" not in refused.headers


def test_a_single_language_tenant_shows_no_switcher(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)  # new tenants: English only
    token = invite(db, settings, tenant.id)
    page = browser(app, **{"accept-language": "de"}).get(f"/take/{token}")
    assert lang_of(page) == ("en", "ltr")
    assert "language-switcher" not in page.text


def test_an_arabic_page_is_right_to_left(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "ar"], "ar")
    token = invite(db, settings, tenant.id)
    page = browser(app).get(f"/take/{token}")
    assert lang_of(page) == ("ar", "rtl")
    assert 'lang="ar" dir="rtl" aria-current="true">العربية</span>' in page.text
    # Each language in the switcher is written in its own direction.
    assert 'lang="en" dir="ltr" class="secondary">English</button>' in page.text
    assert "عن هذا الاختبار" in page.text and "About this exam" not in page.text


def test_the_invitation_language_is_checked_against_the_tenant(
    db: BoundDatabase, settings: Settings
) -> None:
    kit = kit_for(settings)
    english_only = make_tenant(db, settings)
    exam = published_exam(db, english_only.id)
    for code in ("de", "ja"):  # one Invigil speaks but the tenant does not enable; one unknown
        with pytest.raises(Invalid) as refused, db.unit_of_work(english_only.id) as uow:
            invitations.invite(
                uow, kit, InviteRequest("A", "a@example.org", str(exam), language=code)
            )
        assert refused.value.extensions["field"] == "language"
    tenant = tenant_with(db, settings, ["en", "de"], None)
    exam = published_exam(db, tenant.id)
    made = make_invitation(db, tenant.id, kit, exam, language="de-AT")
    with db.unit_of_work(tenant.id) as uow:
        row = uow.scalar(select(Invitation).where(Invitation.id == made.invitation.id))
        assert row is not None and row.language == "de"
        entry = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "invitation.created",
                AuditEvent.subject_id == str(made.invitation.id),
            )
        )
        assert entry is not None and entry.payload["language"] == "de"


def test_tenant_languages_are_validated_and_audited(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        for enabled, default, field in (
            (["en", "tlh"], None, "languages"),
            ([], None, "languages"),
            (["en"], "de", "default_language"),
        ):
            with pytest.raises(Invalid) as refused:
                tenants.set_languages(uow, enabled, default)
            assert refused.value.extensions["field"] == field
    with db.unit_of_work(tenant.id) as uow:
        t = tenants.set_languages(uow, ["de", "en", "de"], "de")
        assert (t.languages, t.default_language) == (["de", "en"], "de")
    with db.unit_of_work(tenant.id) as uow:
        actions = list(uow.scalars(select(AuditEvent.action)))
        assert actions.count("tenant.languages_changed") == 1


def test_the_done_page_writes_the_submission_time_and_points_the_german_way(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], "en")
    exam = exam_with_every_type(db, tenant.id)
    token = token_of(make_invitation(db, tenant.id, kit_for(settings), exam, language="de"))
    client, _ = begun(app, token)
    assert client.post(f"/take/{token}/api/submit", json={}).status_code == 200
    with db.unit_of_work(tenant.id) as uow:
        submitted = uow.scalar(select(Attempt.submitted_at))
    done = client.get(f"/take/{token}/done")
    assert done.status_code == 200 and lang_of(done) == ("de", "ltr")
    when = i18n.local_datetime(submitted, "de")
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} UTC", when), when
    assert f"Abgegeben am {when}." in done.text
    assert not re.search(r"\d{4}-\d{2}-\d{2}", done.text)


GERMAN = {"accept": "text/html", "accept-language": "de-DE,de;q=0.9,en;q=0.5"}


def test_a_dead_or_unknown_link_is_answered_in_the_browsers_language(app: FastAPI) -> None:
    client = browser(app, **GERMAN)
    for path in ("/take/nonsense", "/take/nonsense/exam", "/take/nonsense/done", "/take/%20x"):
        page = client.get(path)
        assert page.status_code == 404, path
        assert lang_of(page) == ("de", "ltr"), path
        assert "Dieser Prüfungslink funktioniert nicht" in page.text, path
        assert 'aria-label="Sprache"' not in page.text  # no invitation known: no switcher
    english = browser(app, accept="text/html").get("/take/nonsense/exam")
    assert lang_of(english) == ("en", "ltr") and "This exam link does not work" in english.text


def test_an_unknown_page_under_a_link_is_in_the_invitations_language(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], "en")
    token = invite(db, settings, tenant.id, language="de")
    english_browser = browser(app, accept="text/html", **{"accept-language": "en"})
    page = english_browser.get(f"/take/{token}/no-such-page")
    assert page.status_code == 404 and lang_of(page) == ("de", "ltr")
    assert "Seite nicht gefunden" in page.text and "Page not found" not in page.text
    assert 'aria-label="Sprache"' in page.text  # the switcher, as on the link's pages
    assert f'href="/take/{token}"' in page.text  # back to the exam's page
    assert "Cache-Control" in page.headers and page.headers["Cache-Control"] == "no-store"
    wrong_method = english_browser.get(f"/take/{token}/start")
    assert wrong_method.status_code == 405 and lang_of(wrong_method) == ("de", "ltr")
    assert "Hier nicht möglich" in wrong_method.text
    # No invitation behind the link: the browser's language, no switcher.
    stranger = browser(app, **GERMAN).get("/take/nonsense/no-such-page")
    assert stranger.status_code == 404 and lang_of(stranger) == ("de", "ltr")
    assert "Seite nicht gefunden" in stranger.text and 'aria-label="Sprache"' not in stranger.text


def test_an_expired_or_early_link_is_explained_in_german(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], "en")
    now = datetime.now(UTC)
    early = invite(
        db,
        settings,
        tenant.id,
        language="de",
        opens_at=now + timedelta(days=1),
        closes_at=now + timedelta(days=2),
    )
    page = browser(app, **GERMAN).get(f"/take/{early}")
    assert page.status_code == 200 and lang_of(page) == ("de", "ltr")
    assert "Diese Prüfung ist noch nicht geöffnet." in page.text
    made = make_invitation(db, tenant.id, kit_for(settings), language="de")
    with db.unit_of_work(tenant.id) as uow:
        uow.session.execute(
            text(
                "UPDATE invitations SET opens_at = now() - interval '2 days', "
                "closes_at = now() - interval '1 day' WHERE id = :id"
            ),
            {"id": made.invitation.id},
        )
    gone = browser(app, **GERMAN).get(f"/take/{token_of(made)}")
    assert gone.status_code == 410 and lang_of(gone) == ("de", "ltr")
    assert "abgelaufen" in gone.text and "has expired" not in gone.text


def test_a_server_fault_on_a_candidate_page_is_in_the_browsers_language(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(token: str) -> None:
        raise RuntimeError("the link table is on fire")

    monkeypatch.setattr(landing, "_tenant", broken)
    page = browser(app, **GERMAN).get("/take/anything")
    assert page.status_code == 500 and lang_of(page) == ("de", "ltr")
    assert "Entschuldigung, bei uns ist etwas schiefgelaufen" in page.text
    assert "on fire" not in page.text


def test_a_refused_start_is_explained_in_german(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = tenant_with(db, settings, ["en", "de"], "en")
    token = invite(db, settings, tenant.id, language="de")
    client = browser(app, **GERMAN)
    changed = client.post(f"/take/{token}/start", data={"consent": "yes", "consent_sha256": "0"})
    assert changed.status_code == 409 and lang_of(changed) == ("de", "ltr")
    assert "Der Einwilligungstext hat sich geändert" in changed.text
    assert "consent text changed" not in changed.text.lower()
