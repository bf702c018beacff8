"""The certificate mail: when a certificate is issued, its holder gets a
mail with the printed certificate and the signed credential attached.

Registered at start-up (:func:`install`) as a hook of
:data:`invigil.certification.announce.ISSUED`, so the mail is written to the
outbox in the issuing transaction (an issue that rolls back sends nothing)
and sent by the mail job. It is in the holder's language (their latest
invitation's, else the tenant's default), the words in
``templates/mail/certificate.txt``: congratulations, the program, the
number, the validity and the public verification address.

The attachments are named by reference in the outbox and rendered when the
mail is sent (:func:`invigil.delivery.mail.register_attachment`):
``certificate_pdf`` (:func:`invigil.certification.pdf.render`) and
``certificate_credential`` (the VC-JWT of
:func:`invigil.certification.credentials.signed`, as ``<number>.jwt``;
both registered by :func:`install`). Both render from the certificate's id alone, so the
outbox holds no document, only ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from invigil import i18n
from invigil.certification import announce
from invigil.certification.models import Certificate, Program
from invigil.db.uow import UnitOfWork
from invigil.delivery import mail
from invigil.delivery.models import Candidate, OutboxMail
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings, get_settings
from invigil.tenants.models import Tenant
from invigil.web.pages import templates

PDF = "certificate_pdf"
CREDENTIAL = "certificate_credential"
SUBJECT = i18n.N_("Your certificate: %(program)s")

_configured: list[Settings] = []


def configure(settings: Settings) -> None:
    """The settings the hook writes mail with (the app's; else the environment's)."""
    _configured[:] = [settings]


def settings_now() -> Settings:
    return _configured[0] if _configured else get_settings()


def install() -> None:
    """Register the hook and the attachment renderers (once)."""
    if on_issued not in announce.ISSUED:
        announce.ISSUED.append(on_issued)
    mail.register_attachment(PDF, render_pdf)
    mail.register_attachment(CREDENTIAL, render_credential)


def _certificate(uow: UnitOfWork, ref: Mapping[str, Any]) -> Certificate:
    return uow.get(Certificate, uuid.UUID(str(ref["id"])), label="certificate")


def render_pdf(
    uow: UnitOfWork, settings: Settings, box: SecretBox, ref: Mapping[str, Any]
) -> mail.Attachment:
    from invigil.certification import pdf

    cert = _certificate(uow, ref)
    return mail.Attachment(pdf.filename(cert), "application/pdf", pdf.render(uow, settings, cert))


def render_credential(
    uow: UnitOfWork, settings: Settings, box: SecretBox, ref: Mapping[str, Any]
) -> mail.Attachment:
    from invigil.certification import credentials

    cert = _certificate(uow, ref)
    signed: str = credentials.signed(uow, box, settings, cert)
    return mail.Attachment(f"{cert.number}.jwt", credentials.MEDIA_TYPE, signed.encode("ascii"))


def compose(uow: UnitOfWork, settings: Settings, cert: Certificate, locale: str) -> tuple[str, str]:
    """The subject and plain text of a certificate mail, in ``locale``."""
    from invigil.certification.pdf import verification_url

    holder = uow.get(Candidate, cert.holder_id)
    program = uow.get(Program, cert.program_id)
    tenant = uow.get(Tenant, uow.tenant)
    subject = i18n.gettext(locale, SUBJECT) % {"program": program.name}
    body = templates.env.get_template("mail/certificate.txt").render(
        locale=locale,
        name=holder.name,
        program=program.name,
        issuer=tenant.name,
        number=cert.number,
        issued=i18n.local_date(cert.issued_at, locale),
        expires=i18n.local_date(cert.expires_at, locale) if cert.expires_at else None,
        link=verification_url(settings, cert.id),
    )
    return subject[:300], body.strip("\n")


def queue(uow: UnitOfWork, settings: Settings, cert: Certificate) -> OutboxMail:
    """Write the certificate mail to the holder (sent by the mail job)."""
    from invigil.certification.pdf import holder_language

    locale = holder_language(uow, cert.holder_id)
    subject, body = compose(uow, settings, cert, locale)
    holder = uow.get(Candidate, cert.holder_id)
    attachments = [{"kind": PDF, "id": str(cert.id)}, {"kind": CREDENTIAL, "id": str(cert.id)}]
    return mail.queue_message(
        uow,
        holder.email,
        subject,
        body,
        smtp=mail.smtp_configured(settings),
        locale=locale,
        attachments=attachments,
    )


def on_issued(uow: UnitOfWork, cert: Certificate) -> None:
    """The :data:`announce.ISSUED` hook."""
    queue(uow, settings_now(), cert)
