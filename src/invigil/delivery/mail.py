"""Mail: an outbox row in the invitation's transaction, sent by a job.

The body is stored with a placeholder where the guest link goes; the link
itself is sealed (AES-256-GCM under the secret-box key, bound to the row)
and kept only until the send job is done with it, then erased. So the
database never holds a usable token in the clear, and once the mail is
handled it holds none at all — staff still see the whole mail, with the
link shown as withheld.

What goes out is ``multipart/alternative``: the plain text as written here,
and an HTML part in the tenant's branding (its name, accent colour and
logo, the logo as an inline ``multipart/related`` image, never a remote
one), rendered from the same text. Every mail carries ``Auto-Submitted:
auto-generated`` (RFC 3834: no auto-replies to it), a ``Message-ID`` in the
sender's domain made of the outbox row's id (a mail sent again after a
worker died keeps it) and a ``Date`` in UTC (``+0000``).

Mail that belongs to no invitation (a certificate to its holder, a
recertification reminder, an escalation to a group's manager) is queued by
:func:`queue_message`, in its own language, with attachments named by
reference (``{"kind": "certificate_pdf", "id": ...}``): the send job asks
the renderer registered for the kind (:func:`register_attachment`, by the
domain that owns the files) for the file, so the outbox keeps ids only.

Without ``INVIGIL_SMTP_HOST`` nothing is sent: the mail stays in the outbox
marked "not sent: SMTP not configured" (staff got the link when they
invited, and can rotate it to send a new one once SMTP is set up).
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from sqlalchemy import select

from invigil import i18n
from invigil.content import exam_text
from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import language
from invigil.delivery.models import Candidate, Invitation, OutboxMail
from invigil.logs import get_logger
from invigil.pagination import created_key, newest_first
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings
from invigil.tenants import branding
from invigil.tenants.branding import Brand, Logo
from invigil.web.pages import templates

log = get_logger(__name__)

TASK = "invigil:delivery.send_mail"
QUEUE = "mail"
PLACEHOLDER = "{guest_link}"
WITHHELD = "[guest link withheld: it is shown once to whoever invites, and only mailed]"
NOT_CONFIGURED = i18n.N_("not sent: SMTP not configured")  # stored; translated where shown
SUBJECT = i18n.N_("Your invitation: %(title)s")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf"
    data: bytes


# kind -> renderer(uow, settings, box, reference) -> the file, registered by
# the domain that owns the files (certification: the PDF and the credential).
Renderer = Callable[[UnitOfWork, Settings, SecretBox, Mapping[str, Any]], Attachment]
_RENDERERS: dict[str, Renderer] = {}


def register_attachment(kind: str, render: Renderer) -> None:
    _RENDERERS[kind] = render


def _context(mail_id: uuid.UUID) -> str:
    return f"mail-outbox-link:{mail_id}"


def compose(
    candidate: Candidate,
    version: ExamVersion,
    invitation: Invitation,
    locale: str = i18n.DEFAULT,
    written_in: str = i18n.DEFAULT,
) -> tuple[str, str]:
    """The subject and plain text of an invitation, in ``locale`` (the
    words are in templates/mail/invitation.txt, translated like the pages;
    the exam's title is translated when the version froze it in ``locale``,
    else as written, in ``written_in``)."""
    minutes = version.settings.get("time_limit_minutes")
    title = exam_text.words(version, locale, written_in).title.text
    subject = i18n.gettext(locale, SUBJECT) % {"title": title}
    body = templates.env.get_template("mail/invitation.txt").render(
        locale=locale,
        name=candidate.name,
        title=title,
        opens=i18n.local_datetime(invitation.opens_at, locale),
        closes=i18n.local_datetime(invitation.closes_at, locale),
        minutes=int(minutes) if isinstance(minutes, int | float) and minutes else None,
        link=PLACEHOLDER,
    )
    return subject[:300], body.strip("\n")


def queue_invitation(
    uow: UnitOfWork,
    box: SecretBox,
    invitation: Invitation,
    candidate: Candidate,
    version: ExamVersion,
    link: str,
    *,
    smtp: bool,
) -> OutboxMail:
    """Write the mail; with SMTP configured, seal the link and defer the send
    job in this transaction. Without, mark it not sent and keep no link."""
    subject, body = compose(
        candidate,
        version,
        invitation,
        language.of_invitation(uow, invitation),
        language.of_invitation(uow, None),
    )
    return queue(uow, box, invitation, candidate.email, subject, body, link, smtp=smtp)


def queue(
    uow: UnitOfWork,
    box: SecretBox,
    invitation: Invitation | None,
    to: str,
    subject: str,
    body: str,
    link: str,
    *,
    smtp: bool,
    locale: str | None = None,
) -> OutboxMail:
    """Write a mail to a candidate whose ``body`` holds :data:`PLACEHOLDER`
    where ``link`` goes; with SMTP configured, seal the link and defer the
    send job in this transaction. Without, mark it not sent and keep no link.
    (The send job speaks the invitation's language in the HTML part, else
    ``locale``: a mail of no invitation, such as the portal link.)"""
    mail_id = uuid.uuid4()
    row = OutboxMail(
        tenant_id=uow.tenant,
        id=mail_id,
        locale=locale,
        invitation_id=invitation.id if invitation is not None else None,
        to_address=to,
        subject=subject[:300],
        body=body,
        link_sealed=box.seal(link.encode(), _context(mail_id)) if smtp else None,
        error=None if smtp else NOT_CONFIGURED,
    )
    uow.add(row)
    uow.flush()
    if smtp:
        uow.defer(TASK, queue=QUEUE, tenant_id=str(uow.tenant), mail_id=str(mail_id))
    return row


def queue_message(
    uow: UnitOfWork,
    to: str,
    subject: str,
    body: str,
    *,
    smtp: bool,
    locale: str | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
) -> OutboxMail:
    """Write a mail that belongs to no invitation (no guest link in it);
    with SMTP configured, defer the send job in this transaction. Each
    attachment names a registered kind and the id of what it renders."""
    message = Message(to, subject, body, locale, tuple(attachments))
    return queue_messages(uow, [message], smtp=smtp)[0]


@dataclass(frozen=True)
class Message:
    """One mail of :func:`queue_messages`."""

    to: str
    subject: str
    body: str
    locale: str | None = None
    attachments: Sequence[Mapping[str, Any]] = ()


def queue_messages(uow: UnitOfWork, messages: Sequence[Message], *, smtp: bool) -> list[OutboxMail]:
    """Mails that belong to no invitation (no guest link), in one INSERT
    (jobs mail many people in one transaction: recertification reminders);
    with SMTP configured, their send jobs deferred in this transaction."""
    for m in messages:
        for ref in m.attachments:
            if ref.get("kind") not in _RENDERERS:
                raise ValueError(f"no renderer for attachments of kind {ref.get('kind')!r}")
    rows = [
        OutboxMail(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            invitation_id=None,
            to_address=m.to,
            subject=m.subject[:300],
            body=m.body,
            link_sealed=None,
            error=None if smtp else NOT_CONFIGURED,
            attachments=[dict(ref) for ref in m.attachments],
            locale=m.locale,
        )
        for m in messages
    ]
    uow.session.add_all(rows)
    uow.flush()
    if smtp:
        for row in rows:
            uow.defer(TASK, queue=QUEUE, tenant_id=str(uow.tenant), mail_id=str(row.id))
    return rows


def shown_body(mail: OutboxMail) -> str:
    return mail.body.replace(PLACEHOLDER, WITHHELD)


def smtp_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def send(uow: UnitOfWork, settings: Settings, box: SecretBox, mail_id: uuid.UUID) -> OutboxMail:
    """Send one outbox mail (idempotent: a sent mail is left alone)."""
    mail = uow.scalar(select(OutboxMail).where(OutboxMail.id == mail_id).with_for_update())
    if mail is None:
        raise LookupError(f"mail {mail_id} is not in the outbox")
    if mail.sent_at is not None:
        return mail
    if not smtp_configured(settings):
        mail.error = NOT_CONFIGURED
        mail.link_sealed = None
        uow.flush()
        return mail
    body = mail.body
    if PLACEHOLDER in body:
        link = box.open(mail.link_sealed, _context(mail.id)).decode() if mail.link_sealed else None
        body = body.replace(PLACEHOLDER, link or WITHHELD)
    mail.attempts += 1
    if mail.invitation_id is not None:
        locale = language.of_invitation(uow, uow.get(Invitation, mail.invitation_id))
    else:
        locale = mail.locale or language.of_invitation(uow, None)
    message = compose_message(
        settings,
        mail.to_address,
        mail.subject,
        body,
        branding.brand_of(uow),
        branding.logo_of(uow),
        locale=locale,
        message_id=mail.id,
    )
    for ref in mail.attachments or []:
        file = _RENDERERS[ref["kind"]](uow, settings, box, ref)
        maintype, _, subtype = file.content_type.partition("/")
        message.add_attachment(file.data, maintype=maintype, subtype=subtype,
                               filename=file.filename)  # fmt: skip
    try:
        deliver(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        mail.error = f"not sent: {exc}"[:2000]
        log.warning("mail.failed", mail=str(mail.id), error=str(exc))
    else:
        mail.sent_at = datetime.now(UTC)
        mail.error = None
        mail.link_sealed = None
    uow.flush()
    return mail


def sender_domain(settings: Settings) -> str:
    """The domain of ``INVIGIL_SMTP_FROM``'s address (Message-IDs are made in it)."""
    address = parseaddr(settings.smtp_from)[1]
    domain = address.rpartition("@")[2].strip().lower()
    return domain or "invigil.invalid"


def html_of(body: str, brand: Brand, logo_cid: str | None, locale: str = i18n.DEFAULT) -> str:
    """The HTML part: the text's paragraphs in the tenant's branding; a
    paragraph that is a link becomes a button to it."""
    paragraphs = [p.strip() for p in body.split("\n\n") if p.strip()]
    blocks = []
    for p in paragraphs:
        lines = p.split("\n")
        link = next((line for line in lines if line.startswith(("https://", "http://"))), None)
        rest = [line for line in lines if line != link]
        blocks.append({"lines": rest, "link": link})
    return templates.env.get_template("mail/invitation.html").render(
        brand=brand, blocks=blocks, logo_cid=logo_cid, locale=locale
    )


def compose_message(
    settings: Settings,
    to: str,
    subject: str,
    body: str,
    brand: Brand,
    logo: Logo | None = None,
    *,
    locale: str = i18n.DEFAULT,
    message_id: uuid.UUID | None = None,
) -> EmailMessage:
    """The whole mail (see the module docstring for its parts and headers).
    ``message_id``: the outbox row's, so that a mail sent again after a crash
    between the server's acceptance and the commit carries the same
    Message-ID, by which mail systems drop the second copy."""
    domain = sender_domain(settings)
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))  # aware UTC: "+0000"
    msg["Message-ID"] = f"<{message_id}@{domain}>" if message_id else make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body)
    cid = make_msgid(domain=domain) if logo is not None else None
    msg.add_alternative(html_of(body, brand, cid[1:-1] if cid else None, locale), subtype="html")
    if logo is not None and cid is not None:
        html = list(msg.iter_parts())[1]  # text/plain, then text/html
        maintype, subtype = logo.content_type.split("/")
        html.add_related(
            logo.data, maintype=maintype, subtype=subtype, cid=cid,
            filename=f"logo.{logo.extension}", disposition="inline",
        )  # fmt: skip
    return msg


def deliver(settings: Settings, msg: EmailMessage) -> None:
    assert settings.smtp_host is not None
    context = ssl.create_default_context()
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    smtp = (
        smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        if settings.smtp_ssl
        else smtplib.SMTP(host, port, timeout=timeout)
    )
    with smtp:
        if settings.smtp_starttls and not settings.smtp_ssl:
            smtp.starttls(context=context)
        if settings.smtp_username:
            password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
            smtp.login(settings.smtp_username, password)
        smtp.send_message(msg)


def list_outbox(
    uow: UnitOfWork, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[OutboxMail], str | None]:
    """Newest first."""
    order = newest_first(OutboxMail)
    return order.page(
        uow.scalars(order.apply(select(OutboxMail), cursor, limit)), limit, created_key
    )
