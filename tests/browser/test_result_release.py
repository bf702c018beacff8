"""Results reach candidates in a real browser: the result page in English and
in Arabic (right to left) is axe-clean at desktop and phone width; staff
release two graded attempts in bulk on the exam's release page, and the
candidate opens the link that the mail (through a real SMTP server on
loopback) carries."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil import i18n
from invigil.db.engine import Database
from invigil.delivery import mail
from invigil.delivery.links import LinkKey
from invigil.delivery.models import OutboxMail
from invigil.identity import service
from invigil.results import release, result_link
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.delivery.test_mail import Inbox, body_of, smtp_server, smtp_settings
from tests.results.helpers import make_release_exam, sit

__all__ = ["smtp_server"]  # the fixture, used below by name

PASSWORD = "lantern-meadow-copper-42"


def kit(settings: Settings, base: str, smtp: bool = False) -> result_link.Kit:
    keys = settings.keys_dir
    return result_link.Kit(
        LinkKey(keys / "guest-link.key"), SecretBox(keys / "secrets.key"), base, 30, smtp
    )


def result_url(database: Database, settings: Settings, live: str, language: str) -> str:
    tenant = make_tenant(database, settings)
    if language != "en":
        with database.unit_of_work(tenant.id) as uow:
            tenants.set_languages(uow, ["en", language], None)
    exam = make_release_exam(
        database, tenant.id, results_release="immediately", result_feedback="questions"
    )
    sat = sit(database, settings, tenant.id, exam, language=language)
    with database.unit_of_work(tenant.id) as uow:
        _, token = result_link.resend(uow, kit(settings, live), sat.attempt_id)
    return kit(settings, live).url(token)


def test_the_result_page_in_english_is_accessible(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    page.goto(result_url(database, settings, live_server, "en"))
    expect(page.get_by_role("heading", name="Your result")).to_be_visible()
    expect(page.get_by_text("You passed.")).to_be_visible()
    expect(page.get_by_role("heading", name="By question")).to_be_visible()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the result page at {width} px")


def test_the_result_page_in_arabic_reads_right_to_left(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    page.goto(result_url(database, settings, live_server, "ar"))
    assert page.evaluate("[document.documentElement.lang, document.dir]") == ["ar", "rtl"]
    expect(page.get_by_role("heading", name=i18n.gettext("ar", "Your result"))).to_be_visible()
    expect(page.get_by_role("heading", name=i18n.gettext("ar", "By question"))).to_be_visible()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{overflow} px wider than the window at {width} px"
        assert_accessible(page, f"the result page in Arabic at {width} px")


def test_staff_release_in_bulk_and_the_candidate_opens_the_mailed_link(
    page: Page,
    database: Database,
    settings: Settings,
    live_server: str,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    tenant = make_tenant(database, settings)
    author = f"author-{uuid.uuid4().hex[:8]}@release.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=author, roles=["exam_author"], password=PASSWORD, display_name="Rel"
        )
    exam = make_release_exam(
        database, tenant.id, results_release="manual", result_feedback="categories"
    )
    first, second = (sit(database, settings, tenant.id, exam) for _ in range(2))

    sign_in(page, live_server, tenant.slug, author, PASSWORD)
    page.goto(f"{live_server}/exams/{exam}/release")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Release results")
    assert_accessible(page, "the exam's release page")
    for sat in (first, second):
        page.locator(f"#choose-{sat.attempt_id}").check()
    page.get_by_role("button", name="Release the chosen results").click()
    expect(page.get_by_text("2 results released.")).to_be_visible()
    expect(page.get_by_role("cell", name="not released")).to_have_count(0)

    # What the results.mail_release job and then delivery.send_mail run.
    sending = smtp_settings(settings, port)
    with database.unit_of_work(tenant.id) as uow:
        row = release.latest_release(uow, first.attempt_id)
        assert row is not None and row.how == "bulk"
        link = result_link.mail_release(uow, kit(settings, live_server, smtp=True), row.id)
        assert link is not None
        sent = uow.scalar(
            select(OutboxMail)
            .where(OutboxMail.invitation_id == first.invitation_id, OutboxMail.subject.like("Your result%"))
        )  # fmt: skip
        assert sent is not None
        mail.send(uow, sending, SecretBox(settings.keys_dir / "secrets.key"), sent.id)
    ((_, _, message),) = inbox.messages[-1:]
    found = re.search(re.escape(live_server) + r"/result/\S+", body_of(message))
    assert found, body_of(message)

    page.context.clear_cookies()  # the candidate: no staff session
    page.goto(found.group(0))
    expect(page.get_by_role("heading", name="Your result")).to_be_visible()
    expect(page.get_by_role("heading", name="By category")).to_be_visible()
    expect(page.get_by_role("heading", name="By question")).to_have_count(0)
