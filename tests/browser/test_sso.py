"""Single sign-on in a real browser: a tenant's staff member signs in through
the tenant's OpenID Provider (another site: ``localhost`` while Invigil is on
127.0.0.1) and lands on the staff home page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect

from invigil.app import create_app
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.identity import oidc, service, sso
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.identity.oidc_provider import Provider, provider
from tests.live import running


@pytest.fixture(scope="module")
def op() -> Iterator[Provider]:
    with provider(host="localhost") as running_op:
        yield running_op


@pytest.fixture(scope="module")
def sso_server(settings: Settings, database: Database) -> Iterator[tuple[str, FastAPI]]:
    """The app with private providers allowed, naming itself by its own address
    (the redirect URI the provider sends the browser back to)."""
    oidc.forget()
    allowed = settings.model_copy(update={"sso_allow_private": True, "sso_allow_http": True})
    app = create_app(allowed, database, run_jobs=False)
    with running(app) as url:
        app.state.settings = app.state.services.settings = allowed.model_copy(
            update={"issuer": url}
        )
        yield url, app


def test_a_staff_member_signs_in_through_the_provider_and_lands_on_home(
    page: Page, sso_server: tuple[str, FastAPI], op: Provider, database: Database,
    settings: Settings,
) -> None:  # fmt: skip
    url, app = sso_server
    tenant = make_tenant(database, settings)
    email = f"sam-{uuid.uuid4().hex[:6]}@school.test"
    client_id, secret = f"invigil-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    op.register(client_id, secret, f"{url}/signin/sso/callback")
    services = app.state.services
    with database.unit_of_work(tenant.id, Actor.operator()) as uow:
        service.create_user(uow, email=email, roles=["grader"], display_name="Sam Staff")
        sso.update(
            uow, services.settings, services.box, enabled=True, display_name="School Login",
            issuer=op.issuer, client_id=client_id, client_secret=secret,
            allowed_domains=["school.test"],
        )  # fmt: skip
    op.person = {"sub": uuid.uuid4().hex, "email": email, "email_verified": True}
    page.goto(f"{url}/signin?tenant={tenant.slug}")
    page.get_by_role("link", name="Sign in with School Login").click()
    expect(page).to_have_url(re.compile(r"/home$"))
    expect(page.get_by_text(email).first).to_be_visible()
    assert any(c["name"] == "invigil_session" for c in page.context.cookies())
