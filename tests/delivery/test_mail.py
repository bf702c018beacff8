"""Mail through a real SMTP server on loopback (aiosmtpd), by the job worker too."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, text

from invigil.db.engine import Database
from invigil.delivery import mail
from invigil.delivery.models import OutboxMail
from invigil.jobs.queue import make_app
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for, make_invitation


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        data = envelope.content  # type: ignore[attr-defined]
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(data))  # type: ignore[attr-defined]
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
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


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
