"""Staff identity pages in a real browser: sign-in, inviting, roles, deactivation.

The live server commits for real, so this module makes its own tenant (a
unique slug) and its accounts once, and each test its own users.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from invigil.db.engine import Database
from invigil.identity import auth, service
from invigil.identity.pages import sentence
from invigil.settings import Settings
from tests.conftest import make_tenant

ADMIN_PASSWORD = "granite-harbor-sparrow-58"
STAFF_PASSWORD = "quiet-walnut-ferry-31"


@dataclass(frozen=True)
class Org:
    tenant_id: uuid.UUID
    slug: str
    admin: str
    database: Database

    def staff(self, roles: list[str]) -> str:
        """A committed active account with STAFF_PASSWORD; returns its email."""
        email = f"staff-{uuid.uuid4().hex[:8]}@school.test"
        with self.database.unit_of_work(self.tenant_id) as uow:
            service.create_user(uow, email=email, roles=roles, password=STAFF_PASSWORD)
        return email


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings) -> Org:
    tenant = make_tenant(database, settings)
    admin = "ada@school.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow,
            email=admin,
            roles=["tenant_admin"],
            password=ADMIN_PASSWORD,
            display_name="Ada Admin",
        )
    return Org(tenant.id, tenant.slug, admin, database)


@pytest.fixture
def other(browser: Browser) -> Iterator[BrowserContext]:
    """A second, separate browser (its own cookies): another person."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        yield context
    finally:
        context.close()


def sign_in(page: Page, base: str, tenant: str, email: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_invites_a_user_who_sets_a_password_and_signs_in(
    page: Page, other: BrowserContext, live_server: str, org: Org
) -> None:
    sign_in(page, live_server, org.slug, org.admin, ADMIN_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    expect(page.get_by_role("region", name="Seats")).to_contain_text("Active")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    expect(page.get_by_text(f"Signed in as {org.admin} ({org.slug})")).to_be_visible()

    invite = page.get_by_role("region", name="Invite a user")
    invite.get_by_label("Email").fill("ines@school.test")
    invite.get_by_label("Name").fill("Ines Author")
    invite.get_by_label("exam_author", exact=True).check()
    invite.get_by_role("button", name="Invite user").click()

    expect(
        page.get_by_role("heading", name="One-time invitation link for ines@school.test")
    ).to_be_visible()
    link = page.get_by_label("One-time link").inner_text().strip()
    assert "/account/set-password?token=ut." in link
    row = page.get_by_role("row").filter(has_text="ines@school.test")
    expect(row).to_contain_text("invited")
    expect(row).to_contain_text("exam_author")
    page.screenshot(path="/tmp/invigil-users.png", full_page=True)

    # The invited person, in their own browser (the link is built from the
    # issuer setting: keep its path and query, use the live server).
    newcomer = other.new_page()
    newcomer.goto(live_server + link[link.index("/account/set-password") :])
    expect(newcomer.get_by_role("heading", name="Welcome to Invigil")).to_be_visible()
    newcomer.screenshot(path="/tmp/invigil-set-password.png", full_page=True)
    newcomer.get_by_label("New password", exact=True).fill("copper-meadow-violin-7")
    newcomer.get_by_label("Confirm new password").fill("copper-meadow-violin-7")
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_role("heading", name="Your password is set")).to_be_visible()
    newcomer.get_by_role("link", name="Sign in", exact=True).last.click()
    expect(newcomer.get_by_label("Tenant")).to_have_value(org.slug)
    expect(newcomer.get_by_label("Email")).to_have_value("ines@school.test")
    newcomer.get_by_label("Password", exact=True).fill("copper-meadow-violin-7")
    newcomer.get_by_role("button", name="Sign in").click()
    expect(newcomer).to_have_url(f"{live_server}/home")
    expect(newcomer.get_by_role("region", name="Drafts")).to_be_visible()
    newcomer.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
    expect(newcomer.get_by_role("heading", name="Your account")).to_be_visible()
    expect(newcomer.get_by_role("region", name="Profile")).to_contain_text("exam_author")
    # An author sees no admin links.
    nav = newcomer.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    expect(nav.get_by_role("link", name="Account")).to_be_visible()
    newcomer.screenshot(path="/tmp/invigil-account.png", full_page=True)

    # The link works once.
    newcomer.goto(live_server + link[link.index("/account/set-password") :])
    expect(newcomer.get_by_role("alert")).to_contain_text("This link is not valid")

    page.reload()  # the one-time link is not shown again
    expect(page.get_by_label("One-time link")).to_have_count(0)
    expect(page.get_by_role("row").filter(has_text="ines@school.test")).to_contain_text("active")


def test_admin_creates_a_custom_role_and_assigns_it(page: Page, live_server: str, org: Org) -> None:
    grader = org.staff(["grader"])
    sign_in(page, live_server, org.slug, org.admin, ADMIN_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Roles").click()
    expect(page.get_by_role("heading", name="Roles", exact=True)).to_be_visible()

    create = page.get_by_role("region", name="Create a custom role")
    create.get_by_label("Name").fill("lead_grader")
    create.get_by_label("Description").fill("Grades and reviews violations")
    create.get_by_label("grade:submit", exact=True).check()
    create.get_by_label("violation:review", exact=True).check()
    create.get_by_role("button", name="Create role").click()

    expect(page.get_by_role("status")).to_have_text("Role created.")
    expect(page.get_by_role("heading", name="Role lead_grader")).to_be_visible()
    expect(page.get_by_label("grade:submit", exact=True)).to_be_checked()
    expect(page.get_by_label("violation:review", exact=True)).to_be_checked()
    expect(page.get_by_label("exam:view", exact=True)).not_to_be_checked()

    page.get_by_role("link", name="All roles").click()
    row = page.get_by_role("row").filter(has_text="lead_grader")
    expect(row).to_contain_text("custom")
    expect(row).to_contain_text("grade:submit")
    expect(row).to_contain_text("violation:review")
    page.screenshot(path="/tmp/invigil-roles.png", full_page=True)

    # Assign it on the user's page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Users").click()
    page.get_by_role("link", name=grader).click()
    expect(page.get_by_role("heading", name=grader)).to_be_visible()
    roles = page.get_by_role("region", name="Roles")
    roles.get_by_label("lead_grader", exact=True).check()
    roles.get_by_role("button", name="Save roles").click()
    expect(page.get_by_role("status")).to_contain_text("Roles saved")
    expect(page.get_by_role("region", name="Details")).to_contain_text("lead_grader")
    page.screenshot(path="/tmp/invigil-user.png", full_page=True)

    # A role that is held cannot be deleted.
    page.goto(f"{live_server}/admin/roles")
    page.get_by_role("link", name="lead_grader").click()
    expect(page.get_by_role("region", name="Delete role")).to_contain_text("Revoke this role")


def test_a_deactivated_user_is_signed_out_at_once(
    page: Page, other: BrowserContext, live_server: str, org: Org
) -> None:
    author = org.staff(["exam_author"])
    theirs = other.new_page()
    sign_in(theirs, live_server, org.slug, author, STAFF_PASSWORD)
    expect(theirs).to_have_url(f"{live_server}/home")

    sign_in(page, live_server, org.slug, org.admin, ADMIN_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/admin/users")
    page.get_by_role("link", name=author).click()
    page.get_by_role("button", name="Deactivate").click()
    expect(page.get_by_role("status")).to_contain_text("deactivated and signed out")
    expect(page.get_by_role("region", name="Details")).to_contain_text("deactivated")

    theirs.reload()
    expect(theirs).to_have_url(f"{live_server}/signin?next=%2Fhome")
    expect(theirs.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(theirs, live_server, org.slug, author, STAFF_PASSWORD)
    expect(theirs.get_by_role("alert")).to_contain_text(sentence(auth.FAILED))


def test_a_failed_sign_in_shows_the_neutral_message(page: Page, live_server: str, org: Org) -> None:
    sign_in(page, live_server, org.slug, org.admin, "not-my-password-at-all")
    expect(page.get_by_role("alert")).to_contain_text(sentence(auth.FAILED))
    expect(page.get_by_label("Tenant")).to_have_value(org.slug)
    expect(page.get_by_label("Email")).to_have_value(org.admin)
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    page.screenshot(path="/tmp/invigil-signin.png", full_page=True)

    sign_in(page, live_server, "no-such-tenant", org.admin, ADMIN_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(sentence(auth.FAILED))


def test_sign_out_returns_to_the_sign_in_page(page: Page, live_server: str, org: Org) -> None:
    sign_in(page, live_server, org.slug, org.admin, ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server}/signin?notice=signed-out")
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{live_server}/admin/users")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_user_sets_up_an_authenticator_and_then_signs_in_with_a_code(
    page: Page, live_server: str, org: Org
) -> None:
    author = org.staff(["exam_author"])
    sign_in(page, live_server, org.slug, author, STAFF_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/account")
    page.get_by_role("button", name="Set up authenticator").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    expect(page.get_by_role("img", name="QR code of the authenticator key")).to_be_visible()
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    assert secret
    page.screenshot(path="/tmp/invigil-totp.png", full_page=True)
    totp = pyotp.TOTP(secret)
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("That code is not valid")
    page.get_by_label("Code from the app").fill(totp.now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status")).to_contain_text("Your authenticator is set up")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, org.slug, author, STAFF_PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("Enter the code from your authenticator app")
    page.get_by_label("Password", exact=True).fill(STAFF_PASSWORD)
    page.get_by_label("Authenticator code").fill(totp.now())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server}/home")
    page.goto(f"{live_server}/account")
    expect(page.get_by_role("region", name="Authenticator app")).to_contain_text("On")


def test_a_grader_is_refused_admin_pages_but_can_sign_out(
    page: Page, live_server: str, org: Org
) -> None:
    grader = org.staff(["grader"])
    sign_in(page, live_server, org.slug, grader, STAFF_PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    response = page.goto(f"{live_server}/admin/roles")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("role:view")
    page.screenshot(path="/tmp/invigil-forbidden.png", full_page=True)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
