"""The candidate's result link: what the token is, what is kept, how it resolves.

A token is ``rl.<tenant id hex>.<256 random bits>`` (the guest link's
shape with its own prefix, :mod:`invigil.delivery.links`): it names its
tenant so the page can open a unit of work under RLS, and the database
finds it only by HMAC-SHA256 of the whole token under the server's link
key, so neither a copy of the database nor a log of statements opens a
result. The prefix is checked before anything is looked up and the two
kinds live in different tables: a result token never opens an exam, a
guest token never opens a result.

A link works for :attr:`invigil.settings.Settings.result_link_days` (30
by default) and only for reading one attempt's released result. Staff can
end it (``revoked``) or send a new one (the old one ``replaced``): at
most one link of an attempt is live. Unknown, expired, revoked and
replaced tokens all answer one identical page (:func:`resolve` gives them
one state), so a guesser learns nothing.

Issuing writes the candidate's mail in the same transaction (the outbox,
:func:`invigil.delivery.mail.queue`), in the language they took the exam
in, with the link sealed until it is sent. :func:`mail_release` is the
job every release queues (:mod:`invigil.results.release`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from invigil import audit, i18n
from invigil.content import exam_text
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import language, mail
from invigil.delivery.attempts import version_of
from invigil.delivery.links import LinkKey, staff_state
from invigil.delivery.models import Attempt, Candidate, Invitation
from invigil.errors import Conflict
from invigil.i18n import N_
from invigil.results.models import ResultLink, ResultRelease
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import new_secret, split_secret
from invigil.tenants.models import Tenant
from invigil.web.pages import templates

PREFIX = "rl"
MAX_TOKEN = 200
SUBJECT = N_("Your result: %(title)s")
SUBJECT_CHANGED = N_("Your result has changed: %(title)s")


@dataclass(frozen=True)
class Kit:
    """What issuing a link and its mail needs from the process."""

    key: LinkKey
    box: SecretBox
    base_url: str
    days: int = 30
    smtp: bool = False

    @classmethod
    def of(cls, services: Any) -> Kit:
        settings = services.settings
        return cls(
            services.links,
            services.box,
            settings.issuer,
            settings.result_link_days,
            bool(settings.smtp_host),
        )

    def url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/result/{token}"

    def portal_url(self, slug: str) -> str:
        """The tenant's "See my data" page, where a candidate asks for their portal link."""
        return f"{self.base_url.rstrip('/')}/portal/{slug}"


def tenant_of(token: str) -> uuid.UUID | None:
    """The tenant a result token names; None for anything else (a guest link too)."""
    return split_secret(PREFIX, token) if len(token) <= MAX_TOKEN else None


def live_link(uow: UnitOfWork, attempt_id: uuid.UUID) -> ResultLink | None:
    return uow.scalar(
        select(ResultLink).where(ResultLink.attempt_id == attempt_id, ResultLink.ended_at.is_(None))
    )


def links_of(uow: UnitOfWork, attempt_id: uuid.UUID) -> list[ResultLink]:
    return list(
        uow.scalars(
            select(ResultLink)
            .where(ResultLink.attempt_id == attempt_id)
            .order_by(ResultLink.created_at.desc(), ResultLink.id)
        )
    )


def state_of(link: ResultLink | None, now: datetime | None = None) -> str:
    """none | live | expired | revoked | replaced (for staff)."""
    if link is None:
        return "none"
    return staff_state(link.ended_at, link.ended_reason, link.expires_at, now)


def resolve(
    uow: UnitOfWork | None, key: LinkKey, token: str, now: datetime | None = None
) -> ResultLink | None:
    """The live, unexpired link of ``token``, else None (one answer for
    unknown, expired, revoked and replaced). Reads only."""
    hashed = key.hash(token[:MAX_TOKEN])  # always computed: the same work for every answer
    if uow is None or uow.tenant_id is None:
        return None
    link = uow.scalar(select(ResultLink).where(ResultLink.token_hash == hashed))
    if link is None or state_of(link, now) != "live":
        return None
    return link


def _end(uow: UnitOfWork, link: ResultLink, reason: str) -> None:
    link.ended_at = datetime.now(UTC)
    link.ended_reason = reason
    uow.flush()


def revoke(uow: UnitOfWork, attempt_id: uuid.UUID) -> ResultLink:
    """Staff end the attempt's live link (audited)."""
    link = live_link(uow, attempt_id)
    if link is None:
        raise Conflict("this attempt has no live result link to revoke")
    _end(uow, link, "revoked")
    audit.record(uow, "result_link.revoked", link, {"attempt_id": attempt_id})
    return link


def mail_language(uow: UnitOfWork, attempt: Attempt, invitation: Invitation) -> str:
    """The language the candidate took the exam in, else their invitation's,
    else the tenant's default (among the tenant's languages)."""
    tenant = uow.get(Tenant, uow.tenant)
    return i18n.negotiate(
        enabled=language.enabled_of(uow),
        chosen=attempt.language,
        invitation=invitation.language,
        tenant_default=tenant.default_language if tenant is not None else None,
    )


def compose(
    uow: UnitOfWork,
    attempt: Attempt,
    candidate: Candidate,
    changed: bool,
    days: int,
    portal: str | None = None,
) -> tuple[str, str, str]:
    """The subject and plain text of the result mail, and their language."""
    invitation = uow.get(Invitation, attempt.invitation_id)
    locale = mail_language(uow, attempt, invitation)
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    written_in = language.of_invitation(uow, None)
    title = exam_text.words(version, locale, written_in).title.text
    subject = i18n.gettext(locale, SUBJECT_CHANGED if changed else SUBJECT) % {"title": title}
    body = templates.env.get_template("mail/result.txt").render(
        locale=locale,
        name=candidate.name,
        title=title,
        changed=changed,
        days=days,
        link=mail.PLACEHOLDER,
        portal=portal,
    )
    return subject, body.strip("\n"), locale


def issue(uow: UnitOfWork, kit: Kit, release: ResultRelease, reason: str) -> tuple[ResultLink, str]:
    """A new live link to ``release``'s attempt (ending the one before), and
    the mail that carries it; audited as ``result_link.issued``."""
    attempt = uow.get(Attempt, release.attempt_id)
    candidate = uow.get(Candidate, attempt.candidate_id)
    invitation = uow.get(Invitation, attempt.invitation_id)
    before = live_link(uow, attempt.id)
    if before is not None:
        _end(uow, before, "replaced")
    token = new_secret(PREFIX, uow.tenant)
    link = ResultLink(
        id=uuid.uuid4(),
        tenant_id=uow.tenant,
        attempt_id=attempt.id,
        release_id=release.id,
        token_hash=kit.key.hash(token),
        expires_at=datetime.now(UTC) + timedelta(days=kit.days),
    )
    uow.add(link)
    uow.flush()
    changed = reason == "released" and _released_before(uow, release)
    tenant = uow.get(Tenant, uow.tenant)
    portal = kit.portal_url(tenant.slug)
    subject, body, locale = compose(uow, attempt, candidate, changed, kit.days, portal)
    sent = mail.queue(
        uow, kit.box, invitation, candidate.email, subject, body, kit.url(token), smtp=kit.smtp
    )
    audit.record(
        uow,
        "result_link.issued",
        link,
        {
            "attempt_id": attempt.id,
            "release_id": release.id,
            "revision": release.revision,
            "reason": reason,
            "replaces": before.id if before is not None else None,
            "expires_at": link.expires_at,
            "mail_id": sent.id,
            "language": locale,
        },
    )
    return link, token


def _released_before(uow: UnitOfWork, release: ResultRelease) -> bool:
    return (
        uow.scalar(
            select(ResultRelease.id)
            .where(
                ResultRelease.attempt_id == release.attempt_id,
                ResultRelease.revision < release.revision,
            )
            .limit(1)
        )
        is not None
    )


def resend(uow: UnitOfWork, kit: Kit, attempt_id: uuid.UUID) -> tuple[ResultLink, str]:
    """Staff send a new link to the attempt's latest release (the old one stops working)."""
    from invigil.results.release import latest_release

    latest = latest_release(uow, attempt_id)
    if latest is None:
        raise Conflict("this attempt's result is not released: release it first")
    return issue(uow, kit, latest, "resent")


def mail_release(uow: UnitOfWork, kit: Kit, release_id: uuid.UUID) -> ResultLink | None:
    """The job a release queues: a link and its mail, unless a newer release
    of the same attempt came since (its own job sends that one)."""
    from invigil.results.release import latest_release

    release = uow.session.get(ResultRelease, (uow.tenant, release_id))
    if release is None:
        return None
    latest = latest_release(uow, release.attempt_id)
    if latest is not None and latest.id != release.id:
        return None
    live = live_link(uow, release.attempt_id)
    if live is not None and live.release_id == release.id:
        return live  # this job ran before (a retry)
    return issue(uow, kit, release, "released")[0]


def run_mail_release(db: Any, services: Any, tenant_id: str, release_id: str) -> None:
    with db.unit_of_work(uuid.UUID(tenant_id), Actor.system("results.mail_release")) as uow:
        mail_release(uow, Kit.of(services), uuid.UUID(release_id))
