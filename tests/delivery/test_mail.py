"""Mail through a real SMTP server on loopback (aiosmtpd), by the job worker too."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from invigil import i18n
from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.delivery import invitations, links, mail
from invigil.delivery.invitations import Invited
from invigil.delivery.models import OutboxMail
from invigil.errors import Conflict, TooManyRequests
from invigil.evidence import keys
from invigil.jobs.queue import make_app
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import kit_for, make_invitation
from tests.tenants.test_branding import logo_png


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        data = envelope.content  # type: ignore[attr-defined]
        self.messages.append(
            (
                envelope.mail_from,
                list(envelope.rcpt_tos),
                message_from_bytes(data, policy=policy.default),
            )  # type: ignore[attr-defined]
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "smtp_from": "Invigil Test <exams@invigil.test>",
        }
    )


def body_of(msg: Message) -> str:
    """The plain-text part."""
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    text: str = part.get_content()
    return text


def test_a_mail_goes_through_smtp_with_the_link(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    configured = smtp_settings(settings, port)
    kit = kit_for(settings, smtp=True)
    made = make_invitation(db, tenant_a.id, kit, name="Mia Mail", email="mia@example.org")  # type: ignore[attr-defined]
    with db.unit_of_work(tenant_a.id) as uow:  # type: ignore[attr-defined]
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert row is not None and row.link_sealed is not None and row.error is None
        assert made.link not in row.body and mail.PLACEHOLDER in row.body
        jobs = (
            uow.session.execute(
                text("SELECT args->>'mail_id' FROM procrastinate_jobs WHERE task_name = :t"),
                {"t": mail.TASK},
            )
            .scalars()
            .all()
        )
        assert str(row.id) in jobs  # deferred in the invitation's transaction
        sent = mail.send(uow, configured, kit.box, row.id)
        assert sent.sent_at is not None and sent.error is None and sent.link_sealed is None
        again = mail.send(uow, configured, kit.box, row.id)  # idempotent
        assert again.sent_at == sent.sent_at
    assert len(inbox.messages) == 1
    sender, rcpts, msg = inbox.messages[0]
    assert sender == "exams@invigil.test" and rcpts == ["mia@example.org"]
    assert msg["Subject"].startswith("Your invitation") and made.link in body_of(msg)
    assert "Mia Mail" in body_of(msg)


def test_without_smtp_the_mail_stays_in_the_outbox(
    db: BoundDatabase, tenant_a: object, settings: Settings
) -> None:
    kit = kit_for(settings, smtp=False)
    made = make_invitation(db, tenant_a.id, kit)  # type: ignore[attr-defined]
    with db.unit_of_work(tenant_a.id) as uow:  # type: ignore[attr-defined]
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert row is not None and row.sent_at is None and row.link_sealed is None
        assert row.error == mail.NOT_CONFIGURED
        assert mail.send(uow, settings, kit.box, row.id).error == mail.NOT_CONFIGURED


def test_an_unreachable_server_is_recorded(
    db: BoundDatabase, tenant_a: object, settings: Settings
) -> None:
    kit = kit_for(settings, smtp=True)
    made = make_invitation(db, tenant_a.id, kit)  # type: ignore[attr-defined]
    down = smtp_settings(settings, _free_port()).model_copy(update={"smtp_timeout_seconds": 2})
    with db.unit_of_work(tenant_a.id) as uow:  # type: ignore[attr-defined]
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert row is not None
        failed = mail.send(uow, down, kit.box, row.id)
        assert failed.sent_at is None and failed.error and failed.error.startswith("not sent:")
        assert failed.link_sealed is not None and failed.attempts == 1  # kept for a retry


@pytest.mark.slow
def test_the_worker_sends_the_mail(
    database: Database, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    tenant = make_tenant(database, settings)
    kit = kit_for(settings, smtp=True)
    email = f"w{uuid.uuid4().hex[:8]}@example.org"
    made = make_invitation(database, tenant.id, kit, email=email)
    services = SimpleNamespace(settings=smtp_settings(settings, port), box=kit.box)
    app = make_app(database.urls)

    async def drain() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=["mail"],
                wait=False,
                install_signal_handlers=False,
                additional_context={"db": database, "services": services},
            )

    asyncio.run(drain())
    assert [m[1] for m in inbox.messages] == [[email]]
    assert made.link in body_of(inbox.messages[0][2])
    with database.unit_of_work(tenant.id) as uow:
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id == made.invitation.id))
        assert row is not None and row.sent_at is not None and row.link_sealed is None


def _one_mail(db: BoundDatabase, tenant_id: uuid.UUID, invitation_id: uuid.UUID) -> OutboxMail:
    with db.unit_of_work(tenant_id) as uow:
        rows = uow.scalars(select(OutboxMail).where(OutboxMail.invitation_id == invitation_id))
        assert len(rows) >= 1
        return sorted(rows, key=lambda r: r.created_at)[-1]


def test_a_mail_is_text_and_branded_html_with_the_headers_mail_systems_expect(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    configured = smtp_settings(settings, port)
    kit = kit_for(settings, smtp=True)
    tenant_id = tenant_a.id  # type: ignore[attr-defined]
    with db.unit_of_work(tenant_id) as uow:
        branding.set_accent(uow, "#0b6e4f")
        branding.set_logo(uow, logo_png())
        name = branding.brand_of(uow).name
    made = make_invitation(db, tenant_id, kit, name="Hana Html", email="hana@example.org")
    row = _one_mail(db, tenant_id, made.invitation.id)
    with db.unit_of_work(tenant_id) as uow:
        mail.send(uow, configured, kit.box, row.id)
    [(_, _, msg)] = inbox.messages
    assert isinstance(msg, EmailMessage)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith("@invigil.test>")  # the sender's domain
    assert msg["Date"].endswith("+0000")
    plain, rich = list(msg.iter_parts())
    assert plain.get_content_type() == "text/plain" and made.link in plain.get_content()
    assert rich.get_content_type() == "multipart/related"
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert made.link in html and "Hana Html" in html and name in html
    assert "#0b6e4f" in html
    [image] = [p for p in rich.iter_parts() if p.get_content_maintype() == "image"]
    assert image.get_content_type() == "image/png"
    assert f"cid:{image['Content-ID'].strip('<>')}" in html
    assert "<script" not in html.lower()


def _mailed_in(
    db: BoundDatabase,
    tenant_a: object,
    settings: Settings,
    smtp_server: tuple[Inbox, int],
    language: str,
    name: str,
) -> tuple[Invited, EmailMessage]:
    """An invitation in ``language`` (enabled beside English), sent over SMTP."""
    inbox, port = smtp_server
    kit = kit_for(settings, smtp=True)
    tenant_id = tenant_a.id  # type: ignore[attr-defined]
    with db.unit_of_work(tenant_id) as uow:
        tenants.set_languages(uow, ["en", language], None)
    made = make_invitation(db, tenant_id, kit, name=name, language=language)
    row = _one_mail(db, tenant_id, made.invitation.id)
    with db.unit_of_work(tenant_id) as uow:
        mail.send(uow, smtp_settings(settings, port), kit.box, row.id)
    [(_, _, msg)] = inbox.messages
    assert isinstance(msg, EmailMessage)
    return made, msg


def test_a_mail_sent_again_after_a_crash_carries_the_same_message_id(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    """A worker that dies after the mail server accepted a mail but before
    its commit leaves the mail unsent in the outbox: the retried job sends it
    again, as the same message (mail systems drop the second copy)."""
    inbox, port = smtp_server
    configured = smtp_settings(settings, port)
    kit = kit_for(settings, smtp=True)
    tenant_id = tenant_a.id  # type: ignore[attr-defined]
    made = make_invitation(db, tenant_id, kit, name="Rita Retry", email="rita@example.org")
    row = _one_mail(db, tenant_id, made.invitation.id)
    with pytest.raises(RuntimeError), db.unit_of_work(tenant_id) as uow:
        mail.send(uow, configured, kit.box, row.id)
        raise RuntimeError("the worker died before its commit")
    with db.unit_of_work(tenant_id) as uow:
        assert mail.send(uow, configured, kit.box, row.id).sent_at is not None
    first, second = (m for _, _, m in inbox.messages)
    assert first["Message-ID"] == second["Message-ID"] == f"<{row.id}@invigil.test>"


def test_an_invitation_in_german_is_mailed_in_german(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    made, msg = _mailed_in(db, tenant_a, settings, smtp_server, "de", "Dora Deutsch")
    assert msg["Subject"].startswith("Ihre Einladung: ")
    plain = body_of(msg)
    assert plain.startswith("Guten Tag Dora Deutsch,")
    assert "Ihr persönlicher Link (geben Sie ihn nicht weiter):" in plain
    assert "Minuten." in plain or "UTC." in plain
    assert made.link in plain and "Hello" not in plain and "invited" not in plain
    # The dates the way German writes them ("06.12.2026, 18:00 UTC"), never ISO.
    opens = i18n.local_datetime(made.invitation.opens_at, "de")
    closes = i18n.local_datetime(made.invitation.closes_at, "de")
    assert re.fullmatch(r"\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2} UTC", opens), opens
    assert f"zwischen {opens} und {closes}" in " ".join(plain.split())
    assert not re.search(r"\d{4}-\d{2}-\d{2}", plain)
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert '<html lang="de" dir="ltr">' in html
    assert "Prüfung öffnen" in html and "Bitte antworten Sie nicht" in html
    assert "Guten Tag Dora Deutsch," in html
    assert "Open your exam" not in html and "do not reply" not in html


def test_an_invitation_in_arabic_is_mailed_right_to_left(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    _, msg = _mailed_in(db, tenant_a, settings, smtp_server, "ar", "Amal Arabi")
    assert msg["Subject"].startswith("دعوتك: ")
    plain = body_of(msg)
    assert plain.startswith("مرحبًا Amal Arabi،")
    # The exam's (English) title and the dates are isolated from the Arabic around
    # them, so "«Title.»" and "2026-12-06 20:31 UTC" are not reordered in a plain mail.
    assert "«\u2068" in plain and "\u2069»" in plain and " UTC\u2069" in plain
    html_part = msg.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    # Mail programs know no logical CSS: the direction and a physical alignment,
    # the link itself left to right.
    assert '<html lang="ar" dir="rtl">' in html and '<body dir="rtl"' in html
    assert "text-align:right" in html and "text-align:left" not in html
    assert '<p dir="ltr"' in html and "افتح اختبارك" in html


def test_resend_mails_the_same_link_again_audited_and_rate_limited(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    configured = smtp_settings(settings, port)
    kit = kit_for(settings, smtp=True, resendable=True)
    tenant_id = tenant_a.id  # type: ignore[attr-defined]
    made = make_invitation(db, tenant_id, kit, email="rene@example.org")
    later = datetime.now(UTC) + invitations.RESEND_GAP + timedelta(seconds=5)
    with db.unit_of_work(tenant_id) as uow:
        with pytest.raises(TooManyRequests):  # the invitation's own mail was just queued
            invitations.resend(uow, kit, made.invitation.id)
        again = invitations.resend(uow, kit, made.invitation.id, now=later)
        mail.send(uow, configured, kit.box, again.id)
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == "guest_link.resent"))
        assert entry is not None and entry.payload["mail_id"] == str(again.id)
        live = links.live_link(uow, made.invitation.id)
        assert live is not None and live.token_sealed is not None
        with pytest.raises(TooManyRequests):  # the resent mail was just queued
            invitations.resend(uow, kit, made.invitation.id)
    [(_, _, msg)] = inbox.messages
    assert made.link in body_of(msg)  # the same link, not a new one
    with db.unit_of_work(tenant_id) as uow:  # and it still opens the exam
        token = made.link.split("/take/", 1)[1]
        assert links.resolve(uow, kit.key, token).state == links.LinkState.VALID


def test_resend_refuses_what_it_cannot_send(
    db: BoundDatabase, tenant_a: object, settings: Settings
) -> None:
    tenant_id = tenant_a.id  # type: ignore[attr-defined]
    later = datetime.now(UTC) + invitations.RESEND_GAP + timedelta(seconds=5)
    no_smtp = kit_for(settings, smtp=False)
    made = make_invitation(db, tenant_id, no_smtp)
    with db.unit_of_work(tenant_id) as uow, pytest.raises(Conflict, match="mail is not set up"):
        invitations.resend(uow, no_smtp, made.invitation.id, now=later)
    kit = kit_for(settings, smtp=True, resendable=True)
    erased = make_invitation(db, tenant_id, kit, email="gone@example.org")
    with db.unit_of_work(tenant_id) as uow:
        keys.destroy_subject_keys(uow, "candidate", str(erased.candidate.id), "test")
        with pytest.raises(Conflict, match="send a new link"):
            invitations.resend(uow, kit, erased.invitation.id, now=later)
    revoked = make_invitation(db, tenant_id, kit, email="rev@example.org")
    with db.unit_of_work(tenant_id) as uow:
        invitations.revoke(uow, revoked.invitation.id)
        with pytest.raises(Conflict, match="revoked"):
            invitations.resend(uow, kit, revoked.invitation.id, now=later)


def test_staff_resend_over_the_api(app: FastAPI, db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    admin = make_user(db, tenant.id, ["tenant_admin"])
    made = make_invitation(db, tenant.id, kit_for(settings, smtp=True, resendable=True))
    client = TestClient(app)
    headers = bearer(app, db, admin)
    first = client.post(f"/api/v1/invitations/{made.invitation.id}/resend", headers=headers)
    # Without SMTP configured in the app, nothing can be sent: said plainly.
    assert first.status_code == 409 and "mail is not set up" in first.json()["detail"]


def test_a_mail_without_invitation_carries_rendered_attachments(
    db: BoundDatabase, tenant_a: object, settings: Settings, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    configured = smtp_settings(settings, port)
    kit = kit_for(settings, smtp=True)
    seen: list[str] = []

    def render(uow: object, s: Settings, box: object, ref: object) -> mail.Attachment:
        seen.append(ref["id"])  # type: ignore[index]
        return mail.Attachment("note.txt", "text/plain", b"rendered when sent")

    mail.register_attachment("test_note", render)
    with db.unit_of_work(tenant_a.id) as uow:  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="no renderer"):
            mail.queue_message(uow, "x@example.org", "S", "B", smtp=True,
                               attachments=[{"kind": "nobody_renders_this", "id": "1"}])  # fmt: skip
        row = mail.queue_message(
            uow, "holder@example.org", "Your certificate", "Hello\n\nIt is attached.",
            smtp=True, locale="de", attachments=[{"kind": "test_note", "id": "abc"}],
        )  # fmt: skip
        assert row.invitation_id is None and row.attachments == [{"kind": "test_note", "id": "abc"}]
        assert seen == []  # the outbox keeps the reference only
        sent = mail.send(uow, configured, kit.box, row.id)
        assert sent.sent_at is not None and seen == ["abc"]
    (_, rcpts, msg) = inbox.messages[0]
    assert rcpts == ["holder@example.org"]
    assert isinstance(msg, EmailMessage)
    files = [(p.get_filename(), p.get_content().rstrip("\n")) for p in msg.iter_attachments()]
    assert files == [("note.txt", "rendered when sent")]
    html = msg.get_body(preferencelist=("html",))
    assert html is not None and "Bitte antworten Sie nicht" in html.get_content()  # in its locale
