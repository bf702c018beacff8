"""The home page: sign-in lands there for every role, each widget shows only
to holders of its permission, and the widgets say what waits, in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.db.uow import Actor
from invigil.identity import service as identity
from invigil.security.permissions import BUILTIN_ROLES
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.web import home
from tests.conftest import BoundDatabase, make_user
from tests.content.factories import make_exam
from tests.identity.test_pages import page_sign_in
from tests.proctoring.test_reviews import flagged
from tests.test_pages_matrix import web_client

WIDGET = re.compile(r'<section class="card home-widget[^"]*" id="([a-z-]+)"')


def text(html: str) -> str:
    """What a person reads: the page without its tags, spaces collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_every_domain_registered_its_widgets(app: FastAPI) -> None:
    keys = {w.key for w in home.registered()}
    assert {
        "review-queue",
        "flags-by-kind",
        "grading-queue",
        "latest-submissions",
        "attempts-over-time",
        "drafts",
        "question-banks",
        "seats",
        "security-events",
    } <= keys


@pytest.mark.parametrize("role", sorted(BUILTIN_ROLES))
def test_sign_in_lands_on_the_home_page_for_every_role(
    client: TestClient, db: BoundDatabase, tenant_a: Tenant, role: str
) -> None:
    user = make_user(db, tenant_a.id, [role])
    r = page_sign_in(client, tenant_a.slug, user.email)
    assert r.status_code == 303 and r.headers["location"] == "/home"
    page = client.get("/home")
    assert page.status_code == 200
    assert '<a href="/home" aria-current="page">Home</a>' in page.text


def test_each_role_sees_exactly_the_widgets_its_permissions_allow(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    for role, granted in sorted(BUILTIN_ROLES.items()):
        client, _ = web_client(app, db, tenant_a.id, [role])
        shown = WIDGET.findall(client.get("/home").text)
        expected = [w.key for w in home.registered() if w.permission in granted]
        assert shown == expected, role
    # The roles the issue names each get their work.
    wanted = {
        "proctor_reviewer": "review-queue",
        "grader": "grading-queue",
        "exam_author": "drafts",
        "question_manager": "question-banks",
        "tenant_admin": "security-events",
        "results_viewer": "latest-submissions",
        "shortlister": "latest-submissions",
    }
    for role, key in wanted.items():
        assert key in [w.key for w in home.widgets_for_permissions(BUILTIN_ROLES[role])], role


def test_the_widgets_say_what_waits(
    app: FastAPI, db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    s = flagged(app, db, settings)  # a new tenant: one flagged, submitted attempt with an essay
    make_exam(db, s.tenant_id, title="Unfinished draft")
    from invigil.tenants.models import Tenant as T

    with db.unit_of_work(s.tenant_id) as uow:
        slug = uow.get(T, s.tenant_id).slug
    grader = make_user(db, s.tenant_id, ["grader"])
    assert page_sign_in(client, slug, grader.email, "not-the-password").status_code == 401
    refused, _ = web_client(app, db, s.tenant_id, ["grader"])
    assert refused.get("/admin/users").status_code == 403

    boss = make_user(db, s.tenant_id, ["tenant_admin"])
    with db.unit_of_work(s.tenant_id, Actor("user", str(boss.id))) as uow:
        identity.set_roles(uow, grader.id, ["grader", "results_viewer"])

    admin, _ = web_client(app, db, s.tenant_id, ["tenant_admin"])
    page = text(admin.get("/home").text)
    assert f"{boss.email} gave {grader.email} the role results_viewer" in page
    assert "1 attempt to review; the oldest has waited" in page
    assert re.search(r"\d+ responses? to grade in 1 attempt; the oldest has waited", page)
    assert "1 exam with changes not published yet. Unfinished draft (never published" in page
    assert re.search(r"Question banks \S.* \(8 questions\)", page)
    assert f"A sign-in as {grader.email} failed (wrong password)" in page
    assert re.search(r"\S+@\S+ was refused /admin/users \(needs user:view\)", page)
    assert "Flags raised in the last 30 days, by kind" in page and "Tab hidden" in page
    assert "Attempts started and submitted per day" in page


# Tables that grow with use: the home page reads them only through a window
# of time or a LIMIT (users and exams are the tenant's staff and catalogue).
GROWING = ("attempts", "attempt_results", "proctoring_actions", "audit_events", "exams")


def test_the_home_page_reads_growing_tables_only_in_bounded_windows(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    client, _ = web_client(app, db, tenant_a.id, ["tenant_admin"])
    seen: list[str] = []

    def keep(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", keep)
    try:
        assert client.get("/home").status_code == 200
    finally:
        event.remove(Engine, "before_cursor_execute", keep)
    reads = [
        s for s in seen if s.startswith("SELECT") and any(f"FROM {t} " in s + " " for t in GROWING)
    ]
    assert len(reads) >= 6, seen
    unbounded = [s for s in reads if "LIMIT" not in s and ">=" not in s]
    assert unbounded == []


def test_how_long_something_waited_is_said_in_the_readers_language() -> None:
    now = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    assert home.age(now - timedelta(days=3, hours=5), now) == "3 days"
    assert home.age(now - timedelta(hours=1, minutes=59), now, "de") == "1 Stunde"
    assert home.age(now - timedelta(minutes=2), now, "de") == "2 Minuten"
    assert home.age(now - timedelta(seconds=20), now, "de") == "weniger als eine Minute"
    assert home.age(None) == ""
