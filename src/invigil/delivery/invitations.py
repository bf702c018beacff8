"""Invitations: invite (one), revoke, rotate (a new link), resend (the same
link), list.

An invitation pins the exam version that is published when it is made; its
window defaults to now .. now + the valid hours, always inside the exam's
own availability window. Each invitation has exactly one live guest link;
revoking or rotating ends it at once (the next request sees it ended).
Every change is audited in its own transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select

from invigil import audit, i18n
from invigil.content.exams import find_by_slug, latest_version
from invigil.content.models import Exam, ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery import links, mail
from invigil.delivery.candidates import find_or_create
from invigil.delivery.links import LinkKey
from invigil.delivery.models import Candidate, Invitation, OutboxMail
from invigil.errors import Conflict, Invalid, NotFound, TooManyRequests
from invigil.evidence.master import LocalMasterKey, MasterKey
from invigil.ledger import prices
from invigil.pagination import created_key, newest_first
from invigil.proctoring import disclosure
from invigil.proctoring.policy import resolve as resolve_policy
from invigil.security.secretbox import SecretBox
from invigil.tenants.models import Tenant


@dataclass(frozen=True)
class Kit:
    """What issuing links and mail needs from the process."""

    key: LinkKey
    box: SecretBox
    base_url: str
    valid_hours: int = 7 * 24
    smtp: bool = False
    master: MasterKey | None = None  # without it links cannot be sent again

    @classmethod
    def from_settings(cls, settings: Any) -> Kit:
        """For tools without the web app's services (the CLI, the demo)."""
        secret = settings.master_key.get_secret_value() if settings.master_key else None
        return cls(
            LinkKey(settings.keys_dir / "guest-link.key"),
            SecretBox(settings.keys_dir / "secrets.key"),
            settings.issuer,
            settings.invitation_valid_hours,
            bool(settings.smtp_host),
            LocalMasterKey(settings.keys_dir, secret),
        )

    @classmethod
    def of(cls, services: Any) -> Kit:
        settings = services.settings
        return cls(
            services.links,
            services.box,
            settings.issuer,
            settings.invitation_valid_hours,
            bool(settings.smtp_host),
            services.evidence.master,
        )

    def url(self, token: str) -> str:
        return f"{self.base_url.rstrip('/')}/take/{token}"


@dataclass(frozen=True)
class InviteRequest:
    name: str
    email: str
    exam: str  # id or slug
    external_ref: str = ""
    extra_time_percent: int | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    valid_hours: int | None = None
    send_mail: bool = True
    language: str | None = None  # one of the tenant's languages; None: the tenant's default


@dataclass(frozen=True)
class Invited:
    invitation: Invitation
    candidate: Candidate
    link: str


def require_invitation(uow: UnitOfWork, invitation_id: uuid.UUID) -> Invitation:
    return uow.get(Invitation, invitation_id, label="invitation")


def published_exam(uow: UnitOfWork, ref: str) -> tuple[Exam, ExamVersion]:
    """An exam by id or slug that candidates can be invited to now."""
    exam: Exam | None = None
    try:
        exam = uow.session.get(Exam, (uow.tenant, uuid.UUID(ref)))
    except ValueError:
        exam = find_by_slug(uow, ref.strip())
    if exam is None:
        raise NotFound(f"exam {ref} was not found")
    version = latest_version(uow, exam)
    if exam.status != "published" or version is None:
        raise Conflict(
            f"exam {exam.slug!r} is {exam.status}: only a published exam can take candidates"
        )
    return exam, version


def window(
    req: InviteRequest, version: ExamVersion, default_hours: int, now: datetime
) -> tuple[datetime, datetime]:
    """The invitation's window: given or now .. + hours, inside the exam's availability."""
    for at in (req.opens_at, req.closes_at):
        if at is not None and at.tzinfo is None:
            raise Invalid("give opening and closing times with a time zone (e.g. ...Z)")
    hours = req.valid_hours if req.valid_hours is not None else default_hours
    if not 1 <= hours <= 366 * 24:
        raise Invalid("valid hours must be between 1 and 8784 (a year)")
    settings = version.settings
    exam_opens = _parse(settings.get("opens_at"))
    exam_closes = _parse(settings.get("closes_at"))
    opens = req.opens_at or now
    if exam_opens and opens < exam_opens:
        opens = exam_opens  # the valid hours count from when the exam opens
    closes = req.closes_at or opens + timedelta(hours=hours)
    if exam_closes and closes > exam_closes:
        closes = exam_closes
    if closes <= opens:
        if exam_closes and exam_closes <= now:
            raise Conflict("the exam's availability window has closed; no one can be invited")
        raise Invalid("the invitation would close before it opens; check the window")
    return opens, closes


def _parse(value: object) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _author(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:80]


def tenant_language(uow: UnitOfWork, code: str | None) -> str | None:
    """An invitation's language: None (the tenant's default), or one of the
    languages the tenant enables, else :class:`Invalid` naming the field."""
    if code is None or not code.strip():
        return None
    enabled = uow.get(Tenant, uow.tenant).languages
    found = i18n.normalise(code)
    if found is None or found not in enabled:
        raise Invalid(
            f"the language {code.strip()[:35]!r} is not enabled for your organisation; "
            f"choose one of {', '.join(enabled)}",
            field="language",
        )
    return found


def billing_level(version: ExamVersion) -> str:
    """The proctoring level the exam version is priced at (what its policy captures)."""
    return disclosure.billing_level(disclosure.captures(resolve_policy(version.settings)))


def invite(uow: UnitOfWork, kit: Kit, req: InviteRequest, now: datetime | None = None) -> Invited:
    now = now or datetime.now(UTC)
    exam, version = published_exam(uow, req.exam)
    opens, closes = window(req, version, kit.valid_hours, now)
    extra = req.extra_time_percent
    if extra is None:
        extra = int(version.settings.get("accommodations", {}).get("extra_time_percent", 0))
    if not 0 <= extra <= 300:
        raise Invalid("extra time must be between 0 and 300 percent")
    language = tenant_language(uow, req.language)
    candidate = find_or_create(uow, name=req.name, email=req.email, external_ref=req.external_ref)
    invitation = Invitation(
        tenant_id=uow.tenant,
        candidate_id=candidate.id,
        exam_id=exam.id,
        exam_version=version.version,
        opens_at=opens,
        closes_at=closes,
        extra_time_percent=extra,
        status="active",
        created_by=_author(uow),
        language=language,
    )
    uow.add(invitation)
    uow.flush()
    # Charged in this transaction: no invitation without its charge, no
    # charge without its invitation (402 naming the shortfall when short).
    prices.charge_event(uow, "invitation", invitation.id, billing_level(version), now=now)
    link, token = links.issue(uow, kit.key, invitation, kit.master)
    audit.record(
        uow,
        "invitation.created",
        invitation,
        {
            "candidate_id": candidate.id,
            "exam_id": exam.id,
            "exam_version": version.version,
            "opens_at": opens.isoformat(),
            "closes_at": closes.isoformat(),
            "extra_time_percent": extra,
            "language": language,
            "link_id": link.id,
        },
    )
    if req.send_mail:
        mail.queue_invitation(
            uow, kit.box, invitation, candidate, version, kit.url(token), smtp=kit.smtp
        )
    return Invited(invitation, candidate, kit.url(token))


def revoke(uow: UnitOfWork, invitation_id: uuid.UUID, now: datetime | None = None) -> Invitation:
    """End the invitation and its live link at once (the next request sees it)."""
    now = now or datetime.now(UTC)
    invitation = _locked(uow, invitation_id)
    if invitation.status == "revoked":
        raise Conflict("this invitation is already revoked")
    live = links.live_link(uow, invitation.id)
    if live is not None:
        links.end(live, "revoked", now)
    invitation.status = "revoked"
    invitation.revoked_at = now
    uow.flush()
    audit.record(
        uow, "invitation.revoked", invitation, {"link_id": live.id if live is not None else None}
    )
    return invitation


def rotate(
    uow: UnitOfWork, kit: Kit, invitation_id: uuid.UUID, *, send_mail: bool = True
) -> Invited:
    """A new link (sent again by mail); the old one stops working at once."""
    now = datetime.now(UTC)
    invitation = _locked(uow, invitation_id)
    if invitation.status == "revoked":
        raise Conflict("this invitation is revoked; invite the candidate again instead")
    old = links.live_link(uow, invitation.id)
    if old is not None:
        links.end(old, "replaced", now)
        uow.flush()  # the old link leaves the one-live-link index before the new one enters
    link, token = links.issue(uow, kit.key, invitation, kit.master)
    audit.record(
        uow,
        "guest_link.rotated",
        invitation,
        {"old_link_id": old.id if old is not None else None, "link_id": link.id},
    )
    candidate = uow.get(Candidate, invitation.candidate_id)
    if send_mail:
        mail.queue_invitation(
            uow, kit.box, invitation, candidate, _version(uow, invitation), kit.url(token),
            smtp=kit.smtp,
        )  # fmt: skip
    return Invited(invitation, candidate, kit.url(token))


def _version(uow: UnitOfWork, invitation: Invitation) -> ExamVersion:
    version = uow.scalar(
        select(ExamVersion).where(
            ExamVersion.exam_id == invitation.exam_id,
            ExamVersion.version == invitation.exam_version,
        )
    )
    assert version is not None
    return version


# Resending is for a candidate who lost the mail, not a way to flood an inbox:
# at least this long between two mails of one invitation, at most so many a day.
RESEND_GAP = timedelta(minutes=2)
RESEND_PER_DAY = 5


def resend(
    uow: UnitOfWork, kit: Kit, invitation_id: uuid.UUID, now: datetime | None = None
) -> OutboxMail:
    """Mail the invitation's live link again, unchanged (audited, rate-limited).
    The link stays the one the candidate may already hold; nothing is shown to
    staff (they got it when they invited)."""
    now = now or datetime.now(UTC)
    invitation = _locked(uow, invitation_id)
    if invitation.status == "revoked":
        raise Conflict("this invitation is revoked; invite the candidate again instead")
    if now >= invitation.closes_at:
        raise Conflict("this invitation has closed; invite the candidate again instead")
    if not kit.smtp:
        raise Conflict("mail is not set up on this server (INVIGIL_SMTP_HOST): nothing can be sent")
    live = links.live_link(uow, invitation.id)
    if live is None or kit.master is None:
        raise Conflict(
            "this invitation has no link that can be sent again: send a new link instead"
        )
    _resend_allowed(uow, invitation, now)
    try:
        token = links.unseal_token(uow, kit.key, kit.master, live)
    except links.NotKept:
        raise Conflict(
            "this link cannot be sent again (it was issued before links were kept for "
            "resending, or the candidate's data was erased): send a new link instead"
        ) from None
    candidate = uow.get(Candidate, invitation.candidate_id)
    sent = mail.queue_invitation(
        uow, kit.box, invitation, candidate, _version(uow, invitation), kit.url(token), smtp=True
    )
    audit.record(
        uow, "guest_link.resent", invitation,
        {"link_id": live.id, "mail_id": sent.id, "candidate_id": candidate.id},
    )  # fmt: skip
    return sent


def _resend_allowed(uow: UnitOfWork, invitation: Invitation, now: datetime) -> None:
    sent = list(
        uow.scalars(
            select(OutboxMail.created_at).where(
                OutboxMail.invitation_id == invitation.id,
                OutboxMail.created_at > now - timedelta(days=1),
            )
        )
    )
    if sent and max(sent) > now - RESEND_GAP:
        wait = int((max(sent) + RESEND_GAP - now).total_seconds()) + 1
        raise TooManyRequests(
            f"a mail for this invitation was queued moments ago; wait {wait} seconds "
            "before sending it again",
            retry_after=wait,
        )
    if len(sent) >= RESEND_PER_DAY:
        raise TooManyRequests(
            f"this invitation was mailed {len(sent)} times in the last day; "
            "try again tomorrow, or contact the candidate another way",
            retry_after=3600,
        )


def _locked(uow: UnitOfWork, invitation_id: uuid.UUID) -> Invitation:
    """Row-locked, so a revoke and a rotate of one invitation run one after the other."""
    found = uow.scalar(select(Invitation).where(Invitation.id == invitation_id).with_for_update())
    if found is None:
        raise NotFound(f"invitation {invitation_id} was not found")
    uow.session.refresh(found)
    return found


def list_invitations(
    uow: UnitOfWork,
    *,
    exam_id: uuid.UUID | None = None,
    status: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[tuple[Invitation, Candidate]], str | None]:
    """Newest first."""
    stmt = select(Invitation, Candidate).join(Candidate, Candidate.id == Invitation.candidate_id)
    if exam_id is not None:
        stmt = stmt.where(Invitation.exam_id == exam_id)
    if status:
        stmt = stmt.where(Invitation.status == status)
    order = newest_first(Invitation)
    rows = [(r[0], r[1]) for r in uow.session.execute(order.apply(stmt, cursor, limit))]
    return order.page(rows, limit, lambda row: created_key(row[0]))


STATES = ("open", "not_yet_open", "expired", "revoked")


def rows_select() -> Select[Invitation, Candidate]:
    """Every invitation with its candidate (the staff table pages it)."""
    return select(Invitation, Candidate).join(Candidate, Candidate.id == Invitation.candidate_id)


def in_state(state: str) -> ColumnElement[bool]:
    """The SQL twin of :func:`state_of` (one of :data:`STATES`)."""
    now = func.statement_timestamp()  # not now(): the start of a long transaction
    live = Invitation.status != "revoked"
    return {
        "revoked": Invitation.status == "revoked",
        "not_yet_open": and_(live, Invitation.opens_at > now),
        "expired": and_(live, Invitation.opens_at <= now, Invitation.closes_at <= now),
        "open": and_(live, Invitation.opens_at <= now, Invitation.closes_at > now),
    }[state]


def state_of(invitation: Invitation, now: datetime | None = None) -> str:
    """For staff lists: active, not_yet_open, expired or revoked."""
    now = now or datetime.now(UTC)
    if invitation.status == "revoked":
        return "revoked"
    if now < invitation.opens_at:
        return "not_yet_open"
    if now >= invitation.closes_at:
        return "expired"
    return "open"
