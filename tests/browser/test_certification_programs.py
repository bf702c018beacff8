"""A certification manager sets up a program in a real browser (exam,
minimum, validity, approval), a candidate's passing result becomes final
and the evaluation job runs, the issuance waits for approval and is
approved in the browser; the certificate is then suspended and reinstated
with reasons, its history showing each change. axe finds nothing serious
at 1280 and 375 px."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from invigil.certification import jobs
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.certification.factories import holder
from tests.certification.sittings import sit_as
from tests.conftest import PASSWORD, make_tenant, make_user
from tests.results.cohort import make_exam4

PAGE_WIDTH = "() => document.scrollingElement.scrollWidth - window.innerWidth"


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    slug: str
    manager: str  # the certification manager's email


@pytest.fixture(scope="module")
def org(database: Database, settings: Settings) -> Org:
    """A tenant of its own (the demo tenants' attempts are other tests' facts)."""
    made = make_tenant(database, settings)
    user = make_user(database, made.id, ["certification_manager"],
                     email=f"manager@{made.slug}.test")  # fmt: skip
    return Org(made.id, made.slug, user.email)


def test_a_manager_sets_up_a_program_and_approves_the_certificate(
    page: Page, live_server: str, database: Database, org: Org
) -> None:
    tenant = org.id
    exam = make_exam4(database, tenant).id
    name = f"Forklift safety {uuid.uuid4().hex[:4]}"
    sign_in(page, live_server, org.slug, org.manager, PASSWORD)
    expect(page).to_have_url(f"{live_server}/home")
    page.get_by_role("link", name="Certification", exact=True).first.click()
    expect(page).to_have_url(f"{live_server}/certification")
    page.get_by_role("link", name="New program").click()
    page.get_by_label("Name").fill(name)
    page.locator(f'input[name="exam_ids"][value="{exam}"]').check()
    page.get_by_label("Minimum percentage in each").fill("abc")
    page.get_by_role("button", name="Save program").click()
    expect(page.get_by_role("alert")).to_contain_text("minimum percentage")
    page.get_by_label("Minimum percentage in each").fill("70")
    page.get_by_label("Valid for, in months").fill("12")
    page.get_by_label("An approver (certification:approve) confirms each issuance").check()
    page.get_by_role("button", name="Save program").click()
    expect(page.get_by_text("Program saved as version 1.")).to_be_visible()
    assert_accessible(page, "the program form (1280 px)")

    # A candidate's passing result becomes final; the worker's job evaluates them.
    who = holder(database, tenant, f"Frida Forklift {uuid.uuid4().hex[:4]}")
    sit_as(database, tenant, exam, who, "85.00")
    assert jobs.run_evaluation(database, str(tenant), str(who)) == 1

    page.goto(f"{live_server}/certification")
    page.get_by_role("link", name="waiting for approval").click()
    request = page.get_by_role("region", name=name)
    expect(request).to_contain_text("85.00")
    assert_accessible(page, "the approvals (1280 px)")
    request.get_by_role("button", name="Approve and issue").click()
    expect(page.get_by_text("Approved: certificate")).to_be_visible()
    expect(page.locator("#state")).to_contain_text("issued")

    page.get_by_label("Suspend").check()
    page.get_by_role("button", name="Change the state").click()
    expect(page.get_by_role("alert")).to_be_visible()  # a reason is needed
    page.get_by_label("Suspend").check()
    page.get_by_label("Reason (recorded").fill("Badge photo under review")
    page.get_by_role("button", name="Change the state").click()
    expect(page.get_by_text("Certificate suspended.")).to_be_visible()
    expect(page.locator("#state")).to_contain_text("suspended")
    page.get_by_label("Reinstate").check()
    page.get_by_label("Reason (recorded").fill("Photo confirmed")
    page.get_by_role("button", name="Change the state").click()
    expect(page.get_by_text("Certificate reinstated.")).to_be_visible()
    history = page.get_by_role("table", name="State history")
    expect(history).to_contain_text("Badge photo under review")
    expect(history).to_contain_text("Photo confirmed")
    assert_accessible(page, "the certificate (1280 px)")

    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(PAGE_WIDTH) <= 0
    assert_accessible(page, "the certificate (375 px)")
    page.goto(f"{live_server}/certification/certificates")
    expect(page.get_by_role("table", name="Certificates, newest first")).to_contain_text(
        "Frida Forklift")  # fmt: skip
    assert page.evaluate(PAGE_WIDTH) <= 0
    assert_accessible(page, "the certificates (375 px)")
    page.goto(f"{live_server}/certification")
    assert_accessible(page, "certification (375 px)")
