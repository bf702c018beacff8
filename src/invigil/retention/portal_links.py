"""The candidate's portal link: what the token is, what is kept, how it
resolves, how it is requested, replaced and revoked (ADR 0059).

A token is ``pt.<tenant id hex>.<256 random bits>`` (the guest and result
links' shape with its own prefix): it names its tenant so that the portal
can open a unit of work under RLS, and the database finds it only by
HMAC-SHA256 of the whole token under the server's link key
(:class:`invigil.delivery.links.LinkKey`), so neither a copy of the
database nor a log of statements opens a portal. The prefix is checked
before anything is looked up and each kind of link has its own table: a
portal token opens no exam and no result page, and the reverse.

A link opens one candidate's portal, for reading what is recorded about
them and for contesting a flag; nothing else. It works for
:attr:`invigil.settings.Settings.portal_link_hours` (24 by default); at
most one link of a candidate is live: a new one ends the older
(``replaced``), staff can end it (``revoked``). Unknown, expired, revoked
and replaced tokens all answer one identical page.

A candidate asks for a link with their e-mail address on the tenant's
request page (:func:`ask`); the answer is the same whether or not the
address is known (nothing tells a stranger who is a candidate), and so is
the work the request does: it only queues a job with the address sealed
(:data:`REQUEST_TASK`), whatever the address. The job (:func:`request`)
looks the address up; a known address gets a mail, in the candidate's
language, with the link sealed until it is sent; while a link sent less
than :data:`RESEND_AFTER` ago is live, asking again sends nothing more (no
one can flood a mailbox).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from invigil import audit, i18n
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import language, mail
from invigil.delivery.links import LinkKey, staff_state
from invigil.delivery.models import Attempt, Candidate, Invitation
from invigil.errors import Conflict
from invigil.i18n import N_
from invigil.retention.models import PortalLink
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import new_secret, split_secret
from invigil.tenants import branding
from invigil.tenants.models import Tenant
from invigil.web.pages import templates

PREFIX = "pt"
MAX_TOKEN = 200
MAX_EMAIL = 320
RESEND_AFTER = timedelta(minutes=5)
SUBJECT = N_("Your data at %(organisation)s: your personal link")
ISSUED = "portal_link.issued"
REQUEST_TASK = "invigil:retention.portal_request"
REQUEST_QUEUE = "mail"
REVOKED = "portal_link.revoked"


@dataclass(frozen=True)
class Kit:
    """What issuing a link and its mail needs from the process."""

    key: LinkKey
    box: SecretBox
    base_url: str
    hours: int = 24
    smtp: bool = False

    @classmethod
    def of(cls, services: Any) -> Kit:
        settings = services.settings
        return cls(
            services.links,
            services.box,
            settings.issuer,
            settings.portal_link_hours,
            bool(settings.smtp_host),
        )

    def url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/my/{token}"


def tenant_of(token: str) -> uuid.UUID | None:
    """The tenant a portal token names; None for anything else (another kind of link too)."""
    return split_secret(PREFIX, token) if len(token) <= MAX_TOKEN else None


def live_link(uow: UnitOfWork, candidate_id: uuid.UUID) -> PortalLink | None:
    return uow.scalar(
        select(PortalLink).where(
            PortalLink.candidate_id == candidate_id, PortalLink.ended_at.is_(None)
        )
    )


def links_of(uow: UnitOfWork, candidate_id: uuid.UUID) -> list[PortalLink]:
    return list(
        uow.scalars(
            select(PortalLink)
            .where(PortalLink.candidate_id == candidate_id)
            .order_by(PortalLink.created_at.desc(), PortalLink.id)
            .limit(50)
        )
    )


def state_of(link: PortalLink | None, now: datetime | None = None) -> str:
    """none | live | expired | revoked | replaced (for staff)."""
    if link is None:
        return "none"
    return staff_state(link.ended_at, link.ended_reason, link.expires_at, now)


def resolve(
    uow: UnitOfWork | None, key: LinkKey, token: str, now: datetime | None = None
) -> PortalLink | None:
    """The live, unexpired link of ``token``, else None (one answer for
    unknown, expired, revoked and replaced). Reads only."""
    hashed = key.hash(token[:MAX_TOKEN])  # always computed: the same work for every answer
    if uow is None or uow.tenant_id is None:
        return None
    link = uow.scalar(select(PortalLink).where(PortalLink.token_hash == hashed))
    if link is None or state_of(link, now) != "live":
        return None
    return link


def _end(uow: UnitOfWork, link: PortalLink, reason: str) -> None:
    link.ended_at = datetime.now(UTC)
    link.ended_reason = reason
    uow.flush()


def mail_language(uow: UnitOfWork, candidate: Candidate) -> str:
    """The language of the candidate's latest attempt, else of their latest
    invitation, else the tenant's default (among the tenant's languages)."""
    attempt = uow.scalar(
        select(Attempt)
        .where(Attempt.candidate_id == candidate.id, Attempt.language.is_not(None))
        .order_by(Attempt.created_at.desc())
        .limit(1)
    )
    invitation = uow.scalar(
        select(Invitation)
        .where(Invitation.candidate_id == candidate.id)
        .order_by(Invitation.created_at.desc())
        .limit(1)
    )
    tenant = uow.get(Tenant, uow.tenant)
    return i18n.negotiate(
        enabled=language.enabled_of(uow),
        chosen=attempt.language if attempt is not None else None,
        invitation=invitation.language if invitation is not None else None,
        tenant_default=tenant.default_language if tenant is not None else None,
    )


def compose(uow: UnitOfWork, candidate: Candidate, hours: int) -> tuple[str, str, str]:
    """The subject and plain text of the portal mail, and their language."""
    locale = mail_language(uow, candidate)
    organisation = branding.brand_of(uow).name
    subject = i18n.gettext(locale, SUBJECT) % {"organisation": organisation}
    body = templates.env.get_template("mail/portal_link.txt").render(
        locale=locale,
        name=candidate.name,
        organisation=organisation,
        hours=hours,
        link=mail.PLACEHOLDER,
    )
    return subject, body.strip("\n"), locale


def issue(uow: UnitOfWork, kit: Kit, candidate: Candidate, reason: str) -> tuple[PortalLink, str]:
    """A new live link for ``candidate`` (ending the one before) and the mail
    that carries it; audited as ``portal_link.issued`` (ids only)."""
    before = live_link(uow, candidate.id)
    if before is not None:
        _end(uow, before, "replaced")
    token = new_secret(PREFIX, uow.tenant)
    link = PortalLink(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        candidate_id=candidate.id,
        token_hash=kit.key.hash(token),
        expires_at=datetime.now(UTC) + timedelta(hours=kit.hours),
    )
    uow.add(link)
    uow.flush()
    subject, body, locale = compose(uow, candidate, kit.hours)
    sent = mail.queue(
        uow, kit.box, None, candidate.email, subject, body, kit.url(token),
        smtp=kit.smtp, locale=locale,
    )  # fmt: skip
    audit.record(
        uow,
        ISSUED,
        link,
        {
            "candidate_id": candidate.id,
            "reason": reason,
            "replaces": before.id if before is not None else None,
            "expires_at": link.expires_at,
            "mail_id": sent.id,
            "language": locale,
        },
    )
    return link, token


def find_candidate(uow: UnitOfWork, email: str) -> Candidate | None:
    address = email.strip()
    if not address or len(address) > MAX_EMAIL or "@" not in address:
        return None
    return uow.scalar(select(Candidate).where(func.lower(Candidate.email) == address.lower()))


def request(
    uow: UnitOfWork | None, kit: Kit, email: str, now: datetime | None = None
) -> PortalLink | None:
    """A candidate asks for their link. Returns the link sent (None when the
    address is unknown, or a link went out less than :data:`RESEND_AFTER`
    ago): the caller answers the same in every case."""
    if uow is None or uow.tenant_id is None:
        return None
    candidate = find_candidate(uow, email)
    if candidate is None:
        return None
    live = live_link(uow, candidate.id)
    now = now or datetime.now(UTC)
    if live is not None and state_of(live, now) == "live" and now - live.created_at < RESEND_AFTER:
        return None
    return issue(uow, kit, candidate, "requested")[0]


def _sealed_context(tenant_id: uuid.UUID) -> str:
    return f"invigil/portal-request/{tenant_id}"


def ask(uow: UnitOfWork, box: SecretBox, email: str) -> None:
    """A request from the form: the address, sealed, in a job (the same work
    for every address; the job decides)."""
    sealed = box.seal(email.strip()[:MAX_EMAIL].encode(), _sealed_context(uow.tenant))
    uow.defer(
        REQUEST_TASK,
        queue=REQUEST_QUEUE,
        tenant_id=str(uow.tenant),
        sealed=base64.urlsafe_b64encode(sealed).decode(),
    )


def run_request(db: Any, services: Any, tenant_id: str, sealed: str) -> PortalLink | None:
    """The job :func:`ask` queued."""
    tenant = uuid.UUID(tenant_id)
    email = services.box.open(base64.urlsafe_b64decode(sealed), _sealed_context(tenant)).decode()
    with db.unit_of_work(tenant, Actor.system("retention.portal_request")) as uow:
        return request(uow, Kit.of(services), email)


def revoke(uow: UnitOfWork, candidate_id: uuid.UUID) -> PortalLink:
    """Staff end the candidate's live link (audited)."""
    uow.get(Candidate, candidate_id, label="candidate")
    link = live_link(uow, candidate_id)
    if link is None or state_of(link) != "live":
        raise Conflict("this candidate has no live portal link to revoke")
    _end(uow, link, "revoked")
    audit.record(uow, REVOKED, link, {"candidate_id": candidate_id})
    return link
