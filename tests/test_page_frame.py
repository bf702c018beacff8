"""The shared page pieces: the error summary of every staff form, HTML error
pages (problem+json stays for programs), the favicon, one-shot messages."""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web import flash
from invigil.web.access import iter_routes
from invigil.web.session import COOKIE
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.content.factories import make_bank, make_exam, make_question
from tests.delivery.factories import published_exam
from tests.test_pages_matrix import fill, web_client

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SUMMARY = re.compile(r'<div class="error-summary" id="error-summary" role="alert".*?</div>', re.S)


def summary_of(html: str) -> tuple[str, list[str]]:
    """The error summary's text and the ids its links point at; it must come
    before the page's heading, and every link must land on an element."""
    found = SUMMARY.search(html)
    assert found, "no error summary on the page"
    assert found.start() < html.index("<h1"), "the summary is not at the top of the page"
    targets = re.findall(r'href="#([^"]+)"', found.group(0))
    for target in targets:
        assert f'id="{target}"' in html, f"the summary links to #{target}, which is not there"
    text = unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))))
    return text, targets


def marked(html: str, element_id: str) -> None:
    """The field is aria-invalid and described by its message, which exists."""
    tag = re.search(rf'<(?:input|textarea|select)\b[^>]*\bid="{element_id}"[^>]*>', html)
    assert tag, element_id
    assert 'aria-invalid="true"' in tag.group(0), tag.group(0)
    described = re.search(r'aria-describedby="([^"]*)"', tag.group(0))
    assert described
    messages = [i for i in described.group(1).split() if i.endswith("-err")]
    assert messages and all(f'id="{i}"' in html for i in messages)


@pytest.fixture
def tenant(db: BoundDatabase, settings: Settings) -> Tenant:
    return make_tenant(db, settings)


# -- the error summary ---------------------------------------------------------------


def test_a_question_with_points_abc_shows_the_summary_first_and_keeps_what_was_typed(
    app: FastAPI, db: BoundDatabase, tenant: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant.id, ["question_manager"])
    qid = make_question(db, tenant.id)
    data = {
        "csrf": csrf,
        "prompt": "Typed <prompt>",
        "choice": ["Lyon", "Paris", ""],
        "correct": "1",
        "category": "Typed category",
        "tags": "",
        "difficulty": "easy",
        "points": "abc",
        "explanation": "",
    }
    r = client.post(f"/authoring/questions/{qid}", data=data)
    assert r.status_code == 422
    text, targets = summary_of(r.text)
    assert "There is a problem" in text and "Points" in text
    assert "f-points" in targets
    marked(r.text, "f-points")
    assert ">Typed &lt;prompt&gt;</textarea>" in r.text
    assert 'value="abc"' in r.text and 'value="Typed category"' in r.text
    assert '<script src="/static/staff/errors.js" defer></script>' in r.text


def test_exam_settings_errors_link_to_their_fields(
    app: FastAPI, db: BoundDatabase, tenant: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant.id, ["exam_author", "question_manager"])
    exam = make_exam(db, tenant.id)
    page = client.get(f"/authoring/exams/{exam}")
    assert page.status_code == 200 and "error-summary" not in page.text
    r = client.post(
        f"/authoring/exams/{exam}/settings",
        data={
            "csrf": csrf,
            "time_limit_minutes": "-5",
            "attempts_allowed": "many",
            "navigation": "free",
            "results_release": "manual",
            "proctoring_preset": "standard",
            "extra_time_percent": "0",
            "consent_text": "Typed consent",
        },
    )
    assert r.status_code == 422
    _, targets = summary_of(r.text)
    assert "s-attempts" in targets
    marked(r.text, "s-attempts")
    assert 'value="many"' in r.text and "Typed consent" in r.text


def test_the_create_forms_link_their_errors(
    app: FastAPI, db: BoundDatabase, tenant: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    bank_name = f"Bank {uuid.uuid4().hex[:6]}"
    make_bank(db, tenant.id, bank_name)
    cases = [
        ("/authoring/banks", {"name": bank_name}, "bank-name"),
        ("/authoring/exams", {"title": "T", "slug": "Not A Slug!"}, "exam-slug"),
        ("/admin/users", {"email": "not-an-email", "roles": ["grader"]}, "invite-email"),
        ("/admin/roles", {"name": "x" * 70}, "role-name"),
        ("/account/password", {"current_password": "wrong", "new_password": "a" * 20,
                               "confirm_password": "a" * 20}, "current_password"),
        ("/account/password", {"current_password": "wrong", "new_password": "a" * 20,
                               "confirm_password": "b" * 20}, "confirm_password"),
    ]  # fmt: skip
    for path, data, field in cases:
        r = client.post(path, data={"csrf": csrf} | data)
        assert r.status_code in (409, 422), (path, r.status_code)
        _, targets = summary_of(r.text)
        assert field in targets, (path, targets)
        marked(r.text, field)


def test_bad_csv_lines_are_reported_at_the_top_not_below_the_table(
    app: FastAPI, db: BoundDatabase, tenant: Tenant
) -> None:
    exam = published_exam(db, tenant.id)
    client, csrf = web_client(app, db, tenant.id, ["tenant_admin"])
    ok = client.post(
        "/delivery/invitations",
        data={"csrf": csrf, "name": "Listed", "email": "listed@example.org", "exam": str(exam)},
    )
    assert ok.status_code == 201
    bad = b"name,email\nOk,ok@example.org\nBroken,broken\n"
    r = client.post(
        "/delivery/invitations/import",
        data={"csrf": csrf, "exam": str(exam), "valid_hours": "12"},
        files={"file": ("people.csv", bad, "text/csv")},
    )
    assert r.status_code == 422
    text, targets = summary_of(r.text)
    assert "Nobody was invited" in text and "Line 3:" in text and "people.csv" in text
    assert targets and set(targets) == {"import-file"}
    marked(r.text, "import-file")
    assert r.text.index("Line 3:") < r.text.index("listed@example.org")
    assert 'value="12"' in r.text and f'value="{exam}" selected' in r.text


def test_a_failed_sign_in_is_summarised_and_marks_the_field(
    client: TestClient, db: BoundDatabase, tenant: Tenant
) -> None:
    user = make_user(db, tenant.id, ["grader"])
    form = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    r = client.post(
        "/signin",
        data={"csrf": csrf.group(1), "tenant": tenant.slug, "email": user.email, "password": "x"},
    )
    assert r.status_code == 401
    _, targets = summary_of(r.text)
    assert targets == ["email"]
    marked(r.text, "email")
    assert f'value="{user.email}"' in r.text


# -- error pages -------------------------------------------------------------------


def test_unknown_pages_are_html_for_browsers_and_problems_for_programs(client: TestClient) -> None:
    page = client.get("/no/such/page", headers={"Accept": BROWSER})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text and "/no/such/page" in page.text
    assert 'href="/"' in page.text

    program = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert program.status_code == 404
    assert program.headers["content-type"] == "application/problem+json"
    assert program.json()["detail"] == "nothing is served at /no/such/page"

    api = client.get("/api/v1/no-such-thing", headers={"Accept": BROWSER})
    assert api.headers["content-type"] == "application/problem+json" and api.status_code == 404

    wrong = client.put("/signin", headers={"Accept": BROWSER})
    assert wrong.status_code == 405 and wrong.headers["content-type"].startswith("text/html")
    assert "cannot be used this way" in wrong.text
    wrong_api = client.put("/api/v1/auth/token", headers={"Accept": BROWSER})
    assert wrong_api.headers["content-type"] == "application/problem+json"


def test_a_crash_shows_a_reference_the_log_has_and_no_traceback(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/crash-for-test", boom, methods=["GET"])
    app.add_api_route("/api/v1/crash-for-test", boom, methods=["GET"])
    client = TestClient(app, raise_server_exceptions=False)
    page = client.get("/crash-for-test", headers={"Accept": BROWSER})
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "secret internals" not in page.text and "Traceback" not in page.text
    ref = re.search(r"<code>([0-9a-f]{12})</code>", page.text)
    assert ref, page.text
    logged = capsys.readouterr()
    assert ref.group(1) in logged.out + logged.err
    api = client.get("/api/v1/crash-for-test", headers={"Accept": BROWSER})
    assert api.status_code == 500 and api.headers["content-type"] == "application/problem+json"
    assert api.json()["type"] == "urn:invigil:problem:internal"


def test_no_page_answers_json_to_a_browser(app: FastAPI, db: BoundDatabase, tenant: Tenant) -> None:
    """Every page route (GET), signed in with no page permission and with a
    missing id, and signed out; with a method it does not take; and an
    address under it that does not exist: HTML, a redirect or a file the
    user may download (an export), never JSON."""
    nobody, _ = web_client(app, db, tenant.id, ["billing_admin"])
    admin, _ = web_client(app, db, tenant.id, ["tenant_admin"])
    anonymous = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    wrong = []
    for route in iter_routes(app.routes):
        path = route.path
        if "GET" not in route.methods or path.startswith(("/api/", "/.well-known")):
            continue
        if path.startswith("/take/") and "/api/" in path:  # the player's API: for programs
            continue
        if path == "/proctoring/live/stream":  # the console's script reads it, as a program
            continue
        if path in ("/healthz", "/readyz", "/metrics", "/favicon.ico") or "images" in path:
            continue
        url = fill(path)
        asked = [(c, "GET", url) for c in (nobody, admin, anonymous)]
        asked += [(admin, "PATCH", url), (admin, "GET", url.rstrip("/") + "/no-such-page")]
        for client, method, address in asked:
            r = client.request(method, address, headers={"Accept": BROWSER})
            kind = r.headers.get("content-type", "")
            # A download (an export the signed-in user may take) is a file, never JSON.
            download = r.headers.get("content-disposition", "").startswith("attachment")
            if download and r.status_code == 200 and "json" not in kind:
                continue
            if r.status_code not in (301, 302, 303, 307) and not kind.startswith("text/html"):
                wrong.append((method, address, r.status_code, kind))
    assert not wrong


# -- favicon -----------------------------------------------------------------------


def test_the_favicon_and_the_icon_are_served(client: TestClient) -> None:
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = client.get("/signin")
    icon = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page.text)
    assert icon
    svg = client.get(icon.group(1))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")


# -- one-shot messages ---------------------------------------------------------------


def test_a_message_after_an_action_is_shown_once_and_cannot_be_put_in_a_link(
    app: FastAPI, db: BoundDatabase, tenant: Tenant
) -> None:
    client, csrf = web_client(app, db, tenant.id, ["question_manager"])
    r = client.post("/authoring/banks", data={"csrf": csrf, "name": "Flash bank"})
    assert r.status_code == 303 and "?" not in r.headers["location"]
    page = client.get(r.headers["location"])
    status = re.search(r'<div class="notice flash" role="status"><p>([^<]+)</p>', page.text)
    assert status and status.group(1).startswith("Question bank created.")
    again = client.get(r.headers["location"])
    assert "Question bank created." not in again.text  # spent

    crafted = client.get(r.headers["location"] + "?notice=bank-created")
    assert "Question bank created." not in crafted.text
    # A cookie sealed with another session's secret (or none) is ignored.
    client.cookies.set(flash.COOKIE, flash.seal("someone else's session", "Pay here"))
    assert "Pay here" not in client.get(r.headers["location"]).text
    mine = client.cookies.get(COOKIE)
    assert mine
    client.cookies.set(flash.COOKIE, flash.seal(mine, "Old", now=0))
    assert "Old" not in client.get(r.headers["location"]).text  # expired


def test_flash_seal_roundtrip() -> None:
    sealed = flash.seal("s", "Saved.")
    assert flash.unseal("s", sealed) == "Saved."
    assert flash.unseal("t", sealed) is None
    body, _, mac = sealed.partition(".")
    assert flash.unseal("s", body[:-2] + "xx." + mac) is None
