"""The certificate mail: queued by the issue hook in the issuing
transaction, sent through a real SMTP server (aiosmtpd) with the PDF
and the signed credential attached, in the holder's language."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from invigil.certification import announce, credentials, lifecycle
from invigil.certification import mail as certificate_mail
from invigil.certification.models import Certificate, ProgramVersion
from invigil.delivery import mail
from invigil.delivery.models import Candidate, OutboxMail
from invigil.settings import Settings
from invigil.tenants import service as tenants
from invigil.verifier.credential import verify as verify_credential
from tests.certification.factories import NOW, holder, program
from tests.conftest import BoundDatabase, make_tenant
from tests.delivery.factories import kit_for, make_invitation
from tests.delivery.test_mail import Inbox, body_of, smtp_server, smtp_settings

__all__ = ["smtp_server"]  # the fixture, used by name


@pytest.fixture
def configured(settings: Settings, smtp_server: tuple[Inbox, int]) -> Iterator[Settings]:
    made = smtp_settings(settings, smtp_server[1])
    certificate_mail.configure(made)
    try:
        yield made
    finally:
        certificate_mail.configure(settings)


def _issue(db: BoundDatabase, tenant_id: uuid.UUID, version_id: uuid.UUID,
           holder_id: uuid.UUID) -> uuid.UUID:  # fmt: skip
    """Issue as issuance does: the certificate, then the announce hooks."""
    with db.unit_of_work(tenant_id) as uow:
        version = uow.get(ProgramVersion, version_id)
        cert = lifecycle.issue(
            uow, lifecycle.Issue(version=version, holder_id=holder_id, basis=[]), now=NOW
        )
        announce.issued(uow, cert)
        return cert.id


def test_the_hook_is_registered_with_the_pdf_renderer() -> None:
    assert certificate_mail.on_issued in announce.ISSUED
    assert certificate_mail.PDF in mail._RENDERERS


def test_the_holder_gets_the_mail_with_the_pdf_and_the_credential(
    db: BoundDatabase, settings: Settings, configured: Settings,
    smtp_server: tuple[Inbox, int],
) -> None:  # fmt: skip
    inbox, _ = smtp_server
    tenant = make_tenant(db, settings)
    _, version = program(db, tenant.id, name="First Aid at Work", validity_months=36)
    who = holder(db, tenant.id, "Mira Holder")
    cert_id = _issue(db, tenant.id, version, who)
    box = kit_for(settings).box
    with db.unit_of_work(tenant.id) as uow:
        cert = uow.get(Certificate, cert_id)
        person = uow.get(Candidate, who)
        row = uow.scalar(select(OutboxMail).where(OutboxMail.to_address == person.email))
        assert row is not None and row.invitation_id is None and row.error is None
        assert row.locale == "en" and row.subject == "Your certificate: First Aid at Work"
        assert row.attachments == [
            {"kind": "certificate_pdf", "id": str(cert_id)},
            {"kind": "certificate_credential", "id": str(cert_id)},
        ]
        sent = mail.send(uow, configured, box, row.id)
        assert sent.sent_at is not None, sent.error
        keys = credentials.issuer_jwk(uow, box)
    assert len(inbox.messages) == 1
    _, rcpts, msg = inbox.messages[0]
    assert rcpts == [person.email]
    assert isinstance(msg, EmailMessage)
    text = body_of(msg)
    link = f"{configured.issuer.rstrip('/')}/verify/{cert_id}"
    for expected in ("Mira Holder", "Congratulations", "First Aid at Work", cert.number, link,
                     "until", "Open Badges"):  # fmt: skip
        assert expected in text, expected
    files = {
        p.get_filename(): (p.get_content_type(), p.get_payload(decode=True))
        for p in msg.iter_attachments()
    }
    assert sorted(files) == [f"{cert.number}.jwt", f"{cert.number}.pdf"]
    kind, pdf_bytes = files[f"{cert.number}.pdf"]
    assert kind == "application/pdf"
    printed = " ".join(PdfReader(io.BytesIO(pdf_bytes)).pages[0].extract_text().split())
    assert "Mira Holder" in printed and cert.number in printed
    kind, token = files[f"{cert.number}.jwt"]
    assert kind == credentials.MEDIA_TYPE
    # The attached credential verifies offline against the issuer's key and names this certificate.
    document = verify_credential(token.decode("ascii"), keys)
    assert document["id"].endswith(str(cert_id))
    assert "Mira Holder" not in token.decode("ascii")  # the holder only as a salted hash


def test_the_mail_speaks_the_holders_language(
    db: BoundDatabase, settings: Settings, configured: Settings
) -> None:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de", "ar"], "en")
    _, version = program(db, tenant.id, name="Erste Hilfe", validity_months=12)
    invited = make_invitation(db, tenant.id, kit_for(settings), name="Jonas Deutsch",
                              language="de")  # fmt: skip
    with db.unit_of_work(tenant.id) as uow:
        who = uow.get(Candidate, invited.invitation.candidate_id).id
    cert_id = _issue(db, tenant.id, version, who)
    with db.unit_of_work(tenant.id) as uow:
        row = uow.scalar(select(OutboxMail).where(OutboxMail.invitation_id.is_(None),
                                                  OutboxMail.subject.like("Ihr Zertifikat%")))  # fmt: skip
        assert row is not None and row.locale == "de"
        assert "Herzlichen Glückwunsch" in row.body and str(cert_id) in row.body
        assert "Gültig vom" in row.body


def test_without_smtp_the_mail_waits_in_the_outbox(db: BoundDatabase, settings: Settings) -> None:
    certificate_mail.configure(settings.model_copy(update={"smtp_host": None}))
    try:
        tenant = make_tenant(db, settings)
        _, version = program(db, tenant.id, validity_months=12)
        who = holder(db, tenant.id)
        _issue(db, tenant.id, version, who)
        with db.unit_of_work(tenant.id) as uow:
            email = uow.get(Candidate, who).email
            row = uow.scalar(select(OutboxMail).where(OutboxMail.to_address == email))
            assert row is not None and row.error == mail.NOT_CONFIGURED
    finally:
        certificate_mail.configure(settings)


def test_an_issue_that_rolls_back_sends_nothing(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    _, version = program(db, tenant.id, validity_months=12)
    who = holder(db, tenant.id)
    with pytest.raises(RuntimeError), db.unit_of_work(tenant.id) as uow:
        cert = lifecycle.issue(
            uow,
            lifecycle.Issue(version=uow.get(ProgramVersion, version), holder_id=who, basis=[]),
            now=NOW,
        )
        announce.issued(uow, cert)
        raise RuntimeError("the issuing transaction fails after the hook")
    with db.unit_of_work(tenant.id) as uow:
        email = uow.get(Candidate, who).email
        assert uow.scalar(select(OutboxMail).where(OutboxMail.to_address == email)) is None
