"""A verifier scans a certificate's QR code: the public page, in a real
browser, without signing in. Valid, revoked and unknown read differently;
axe finds nothing serious at 1280 and 375 px, in English and in Arabic
(right to left); the page never scrolls sideways on a phone."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from invigil.certification import lifecycle
from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.certification.factories import NOW, certificate, holder, program
from tests.conftest import make_tenant

PAGE_WIDTH = "() => document.scrollingElement.scrollWidth - window.innerWidth"


@pytest.fixture(scope="module")
def certs(database: Database, settings: Settings) -> dict[str, str]:
    tenant = make_tenant(database, settings)
    _, version = program(
        database, tenant.id, name="Working at Height", validity_months=120,
        description="Plans and carries out work at height with fall protection.",
    )  # fmt: skip
    valid = certificate(database, tenant.id, version, holder(database, tenant.id, "Noor Haddad"))
    revoked = certificate(database, tenant.id, version, holder(database, tenant.id, "Otto Roth"))
    with database.unit_of_work(tenant.id) as uow:
        lifecycle.change_state(uow, revoked, "revoked", "issued in error",
                               now=NOW + timedelta(days=2))  # fmt: skip
    return {"valid": str(valid), "revoked": str(revoked), "issuer": tenant.name}


def test_a_verifier_reads_valid_revoked_and_unknown_at_1280_and_375(
    page: Page, live_server: str, certs: dict[str, str]
) -> None:
    page.goto(f"{live_server}/verify/{certs['valid']}")
    expect(page.get_by_role("heading", name="Certificate verification")).to_be_visible()
    expect(page.get_by_role("heading", name="Valid", exact=True)).to_be_visible()
    expect(page.get_by_text("Noor Haddad")).to_be_visible()
    expect(page.get_by_text("Working at Height")).to_be_visible()
    expect(page.get_by_role("link", name="Download the credential (JSON)")).to_have_attribute(
        "href", f"/credentials/{certs['valid']}?format=json"
    )
    assert_accessible(page, "verification, valid (1280 px)")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(PAGE_WIDTH) <= 0
    assert_accessible(page, "verification, valid (375 px)")

    page.goto(f"{live_server}/verify/{certs['revoked']}")
    expect(page.get_by_role("heading", name="Revoked", exact=True)).to_be_visible()
    expect(page.get_by_text("It is no longer valid.")).to_be_visible()
    assert_accessible(page, "verification, revoked (375 px)")

    page.set_viewport_size({"width": 1280, "height": 800})
    response = page.goto(f"{live_server}/verify/{uuid.uuid4()}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Unknown certificate")).to_be_visible()
    expect(page.get_by_text("Noor Haddad")).to_have_count(0)
    assert_accessible(page, "verification, unknown (1280 px)")


def test_the_page_in_arabic_reads_right_to_left(
    page: Page, live_server: str, certs: dict[str, str]
) -> None:
    page.goto(f"{live_server}/verify/{certs['valid']}?lang=ar")
    html = page.locator("html")
    expect(html).to_have_attribute("dir", "rtl")
    expect(html).to_have_attribute("lang", "ar")
    expect(page.get_by_role("heading", name="صالحة", exact=True)).to_be_visible()
    assert_accessible(page, "verification in Arabic (1280 px)")
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(PAGE_WIDTH) <= 0
    assert_accessible(page, "verification in Arabic (375 px)")
