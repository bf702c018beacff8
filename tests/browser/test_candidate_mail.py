"""From the invitation email to the confirmation page: the mail goes through a
real SMTP server on loopback, and the candidate follows the link in it."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.delivery import mail
from invigil.delivery.invitations import Kit
from invigil.delivery.links import LinkKey
from invigil.delivery.models import OutboxMail
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.conftest import make_tenant
from tests.delivery.factories import exam_with_every_type, make_invitation
from tests.delivery.test_mail import Inbox, body_of, smtp_server, smtp_settings

__all__ = ["smtp_server"]  # the fixture, used below by name


def test_the_whole_journey_starts_from_the_emailed_link(
    page: Page,
    database: Database,
    settings: Settings,
    live_server: str,
    smtp_server: tuple[Inbox, int],
) -> None:
    inbox, port = smtp_server
    tenant = make_tenant(database, settings)
    keys = settings.keys_dir
    kit = Kit(
        LinkKey(keys / "guest-link.key"), SecretBox(keys / "secrets.key"), live_server, 24, True
    )
    exam = exam_with_every_type(
        database, tenant.id, settings={"results_release": "immediately", "shuffle_options": False}
    )
    made = make_invitation(database, tenant.id, kit, exam, name="Eve Mail", email="eve@example.org")
    with database.unit_of_work(tenant.id) as uow:  # what the delivery.send_mail job runs
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert row is not None
        mail.send(uow, smtp_settings(settings, port), kit.box, row.id)

    ((_, recipients, message),) = inbox.messages
    assert recipients == ["eve@example.org"]
    found = re.search(re.escape(live_server) + r"/take/\S+", body_of(message))
    assert found, body_of(message)

    c.start(page, found.group(0))
    c.heading(page, 1, 8)
    c.answer(page, "single_choice")
    c.saved(page)
    page.get_by_role("button", name="Submit exam").first.click()
    page.get_by_role("button", name="Submit now").click()
    expect(page.get_by_text("Your exam has been submitted.")).to_be_visible()
    expect(page.get_by_role("heading", name="Your result")).to_be_visible()
    expect(page.get_by_text("1.00 of 24.50 points")).to_be_visible()  # the essay waits for a grader
