"""Names and Role Provisioning Services 2.0: a course's learners invited
before they launch (docs/integrations/lti.md, ADR 0074).

A platform registration with ``roster_sync`` on lets an administrator ask,
per resource link, for the course's roster: a launch from the link must
have carried the NRPS claim (its ``context_memberships_url``) and the link
must open a published exam. The request is audited and queues the job
``lti.sync_roster``, which

1. signs the client assertion in a unit of work that commits (see
   :func:`invigil.lti.ags.client_assertion`);
2. outside any transaction, asks the token endpoint for a token with scope
   ``.../scope/contextmembership.readonly`` and reads the membership
   container (``Accept: application/vnd.ims.lti-nrps.v2.membershipcontainer+json``),
   following ``rel="next"`` Link headers, at most :data:`MAX_PAGES` pages
   and :data:`MAX_MEMBERS` members, every URL under the platform address
   rules of :mod:`invigil.lti.remote`;
3. invites each Active member holding a Learner role who has no seat on the
   link yet (the same candidate, invitation and seat a launch would make;
   mail only when asked); Inactive members, members without a Learner role
   and members without an e-mail address are counted and skipped.

A second sync invites only the learners who joined since. The outcome is
audited (``lti.roster_synced`` with counts, or ``lti.roster_sync_failed``
with the reason); a failure is not retried: the administrator reads the
reason and asks again.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import invitations
from invigil.delivery.candidates import find_or_create
from invigil.delivery.invitations import InviteRequest, Kit, published_exam
from invigil.errors import Conflict, DomainError
from invigil.lti import ags, remote
from invigil.lti.launches import account_of
from invigil.lti.models import LtiLink, LtiPlatform, LtiSeat
from invigil.lti.remote import LtiError

TASK = "invigil:lti.sync_roster"
QUEUE = "lti"
SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
CONTAINER = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 50
MAX_MEMBERS = 5000
LEARNER_ROLES = frozenset(
    {
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",
        "Learner",  # the short form LTI allows for context roles
    }
)


def request(
    uow: UnitOfWork, platform_id: uuid.UUID, link_id: uuid.UUID, *, send_mail: bool
) -> LtiLink:
    """Queue a roster sync for the link (audited), or say why not."""
    link = uow.get(LtiLink, link_id, label="resource link")
    if link.platform_id != platform_id:
        link = uow.get(LtiLink, uuid.uuid4(), label="resource link")  # not this platform's
    platform = uow.get(LtiPlatform, platform_id, label="learning platform")
    if not platform.roster_sync:
        raise Conflict(
            "roster sync is turned off for this platform: turn it on in its registration",
            field="roster_sync",
        )
    if link.memberships_url is None:
        raise Conflict(
            "no launch from this resource link has carried the platform's roster service"
            " (Names and Role Provisioning Services): launch it once from the course"
        )
    if link.exam_id is None:
        raise Conflict("the resource link opens no exam yet: choose its exam first")
    published_exam(uow, str(link.exam_id))
    audit.record(
        uow,
        "lti.roster_sync_requested",
        link,
        {"platform_id": platform.id, "exam_id": link.exam_id, "send_mail": send_mail},
    )
    uow.defer(
        TASK,
        queue=QUEUE,
        tenant_id=str(uow.tenant),
        link_id=str(link.id),
        send_mail=send_mail,
    )
    return link


@dataclass(frozen=True)
class Member:
    subject: str
    name: str
    email: str
    roles: tuple[str, ...]
    status: str


def _member(raw: Any) -> Member | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("user_id"), str):
        return None
    roles = raw.get("roles")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = (raw.get("given_name"), raw.get("family_name"))
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    email = raw.get("email")
    email = email.strip() if isinstance(email, str) and 3 <= len(email.strip()) <= 320 else ""
    status = raw.get("status")
    return Member(
        subject=raw["user_id"][:255],
        name=(name.strip()[:200] or email.split("@")[0][:200]),
        email=email,
        roles=tuple(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else (),
        status=status if isinstance(status, str) else "Active",  # NRPS: Active when absent
    )


def memberships(settings: Any, url: str, token: str) -> list[Member]:
    """Every member the container lists, page by page (``rel="next"``)."""
    members: list[Member] = []
    seen: set[str] = set()
    next_url: str | None = url
    pages = 0
    while next_url is not None:
        if pages == MAX_PAGES or next_url in seen:
            raise LtiError("roster_too_large", f"more than {MAX_PAGES} pages of members")
        seen.add(next_url)
        pages += 1
        answer = remote.request(
            "GET",
            next_url,
            settings,
            headers={"Accept": CONTAINER, "Authorization": f"Bearer {token}"},
        )
        try:
            body = answer.json()
        except ValueError:
            body = None
        if answer.status_code != 200 or not isinstance(body, dict):
            raise LtiError("platform_answer", f"the roster service answered {answer.status_code}")
        listed = body.get("members")
        if not isinstance(listed, list):
            raise LtiError("platform_answer", "the roster service listed no members")
        members.extend(m for m in map(_member, listed) if m is not None)
        if len(members) > MAX_MEMBERS:
            raise LtiError("roster_too_large", f"more than {MAX_MEMBERS} members")
        following = answer.links.get("next", {}).get("url")
        next_url = str(answer.url.join(following)) if following else None
    return members


def sync(db: Any, services: Any, tenant_id: str, link_id: str, *, send_mail: bool) -> None:
    """The job's work: read the roster, invite the learners new to the link."""
    tenant, lid = uuid.UUID(tenant_id), uuid.UUID(link_id)
    actor = Actor.system("lti.sync_roster")
    with db.unit_of_work(tenant, actor) as uow:
        link = uow.session.get(LtiLink, (tenant, lid))
        if link is None:
            return  # removed since
        platform = uow.get(LtiPlatform, link.platform_id)
        refused = (
            "roster_sync_off"
            if not platform.roster_sync
            else "no_roster_service"
            if link.memberships_url is None
            else "link_not_mapped"
            if link.exam_id is None
            else None
        )
        url, token_url = link.memberships_url or "", platform.token_url
        assertion = ags.client_assertion(uow, services.box, platform) if refused is None else ""
    try:
        if refused is not None:
            raise LtiError(refused)
        token = ags.access_token(services.settings, token_url, assertion, SCOPE)
        members = memberships(services.settings, url, token)
    except LtiError as exc:
        with db.unit_of_work(tenant, actor) as uow:
            link = uow.get(LtiLink, lid)
            audit.record(
                uow,
                "lti.roster_sync_failed",
                link,
                {
                    "reason": exc.reason,
                    "detail": exc.detail[:300],
                    "host": urlsplit(url).hostname,
                },
            )
        return
    with db.unit_of_work(tenant, actor) as uow:
        counts = invite(uow, Kit.of(services), uow.get(LtiLink, lid), members, send_mail)
        audit.record(uow, "lti.roster_synced", uow.get(LtiLink, lid), dict(counts))


def invite(
    uow: UnitOfWork, kit: Kit, link: LtiLink, members: list[Member], send_mail: bool
) -> Counter[str]:
    counts: Counter[str] = Counter(invited=0, already=0, inactive=0, not_learner=0, no_email=0)
    platform = uow.get(LtiPlatform, link.platform_id)
    for member in members:
        if member.status != "Active":
            counts["inactive"] += 1
            continue
        if not LEARNER_ROLES.intersection(member.roles):
            counts["not_learner"] += 1
            continue
        if not member.email:
            counts["no_email"] += 1
            continue
        account = account_of(uow, platform, member.subject)
        seat = uow.scalar(
            select(LtiSeat).where(LtiSeat.link_id == link.id, LtiSeat.account_id == account.id)
        )
        if seat is not None:
            counts["already"] += 1
            continue
        ref = f"lti:{member.subject}"[:200]
        try:
            with uow.session.begin_nested():
                if account.candidate_id is None:
                    candidate = find_or_create(uow, name=member.name, email=member.email,
                                               external_ref=ref)  # fmt: skip
                    account.candidate_id = candidate.id
                made = invitations.invite(
                    uow,
                    kit,
                    InviteRequest(name=member.name, email=member.email, exam=str(link.exam_id),
                                  external_ref=ref, send_mail=send_mail),
                )  # fmt: skip
                seat = LtiSeat(tenant_id=uow.tenant, id=uuid.uuid4(), link_id=link.id,
                               account_id=account.id, invitation_id=made.invitation.id)  # fmt: skip
                uow.add(seat)
                uow.flush()
        except DomainError:
            counts["refused"] += 1
            continue
        counts["invited"] += 1
    return counts
