"""Staff set the languages: the tenant's (admin page and API), the
invitation's (invite form, API, CSV column), their own (/account)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import published_exam
from tests.identity.test_pages import actions, csrf_of, signed_in


def test_the_api_sets_the_tenants_languages_and_names_the_field(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    admin = make_user(db, tenant.id, ["tenant_admin"])
    client = TestClient(app, raise_server_exceptions=False)
    headers = bearer(app, db, admin)
    got = client.get("/api/v1/tenant/languages", headers=headers).json()
    assert got == {
        "languages": ["en"],
        "default_language": None,
        "available": ["en", "ar", "de", "es", "fr"],
    }
    bad = client.put("/api/v1/tenant/languages", json={"languages": ["en", "xx"]}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "languages"
    outside = client.put(
        "/api/v1/tenant/languages",
        json={"languages": ["en"], "default_language": "de"},
        headers=headers,
    )
    assert outside.status_code == 422 and outside.json()["field"] == "default_language"
    ok = client.put(
        "/api/v1/tenant/languages",
        json={"languages": ["en", "de"], "default_language": "de"},
        headers=headers,
    )
    assert ok.status_code == 200
    assert ok.json()["languages"] == ["en", "de"] and ok.json()["default_language"] == "de"
    assert "tenant.languages_changed" in actions(db, tenant)
    author = make_user(db, tenant.id, ["exam_author"])
    refused = client.get("/api/v1/tenant/languages", headers=bearer(app, db, author))
    assert refused.status_code == 403
    # An invitation in a language the tenant enables; another is refused by name.
    exam = str(published_exam(db, tenant.id))
    body = {"name": "Kim", "email": "kim@example.org", "exam": exam, "send_mail": False}
    made = client.post("/api/v1/invitations", json=body | {"language": "de"}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["language"] == "de"
    wrong = client.post("/api/v1/invitations", json=body | {"language": "fr"}, headers=headers)
    assert wrong.status_code == 422 and wrong.json()["field"] == "language"
    csv = "name,email,language\nAna,ana@example.org,de\nBo,bo@example.org,\n"
    imported = client.post(
        f"/api/v1/invitations/import?exam={exam}&send_mail=false",
        content=csv.encode(),
        headers=headers,
    )
    assert imported.status_code == 201, imported.text
    assert [i["language"] for i in imported.json()["items"]] == ["de", None]
    bad_csv = "name,email,language\nAna,ana2@example.org,klingon\n"
    refused_csv = client.post(
        f"/api/v1/invitations/import?exam={exam}&send_mail=false",
        content=bad_csv.encode(),
        headers=headers,
    )
    assert refused_csv.status_code == 422 and "language" in refused_csv.text


def test_the_admin_page_enables_languages_and_the_invite_form_offers_them(
    client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    signed_in(client, db, tenant, ["tenant_admin"])
    page = client.get("/admin/branding")
    assert page.status_code == 200 and "Candidates' languages" in page.text
    # Every language with a catalog is offered, each named in its own words.
    for code, name in (("de", "Deutsch"), ("es", "Español"), ("fr", "Français")):
        assert (
            f'value="{code}"' in page.text
            and f'<span lang="{code}" dir="ltr">{name}</span>' in page.text
        )
    assert 'value="ar"' in page.text and '<span lang="ar" dir="rtl">العربية</span>' in page.text
    csrf = csrf_of(page.text)
    bad = client.post(
        "/admin/branding/languages",
        data={"csrf": csrf, "languages": ["en"], "default_language": "de"},
    )
    assert bad.status_code == 422 and 'id="languages-error"' in bad.text
    saved = client.post(
        "/admin/branding/languages",
        data={"csrf": csrf, "languages": ["en", "de", "ar"], "default_language": ""},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert "Languages saved" in client.get(saved.headers["location"]).text
    assert "tenant.languages_changed" in actions(db, tenant)
    published_exam(db, tenant.id)
    invite_page = client.get("/delivery/invitations")
    assert 'name="language"' in invite_page.text and ">Deutsch</option>" in invite_page.text
    assert ">العربية</option>" in invite_page.text and ">Français</option>" not in invite_page.text


def test_a_staff_user_chooses_their_language_on_the_account_page(
    client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    signed_in(client, db, tenant, ["exam_author"])
    page = client.get("/account")
    csrf = csrf_of(page.text)
    bad = client.post("/account/language", data={"csrf": csrf, "language": "tlh"})
    assert bad.status_code == 422 and 'id="language-error"' in bad.text
    ok = client.post(
        "/account/language", data={"csrf": csrf, "language": "de"}, follow_redirects=False
    )
    assert ok.status_code == 303
    after = client.get("/account")
    assert '<option value="de" lang="de" selected>' in after.text
    assert "user.language_changed" in actions(db, tenant)
    # The account page is translated: it now speaks German, and says so.
    assert '<html lang="de" dir="ltr">' in after.text
