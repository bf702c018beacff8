"""LTI Proctoring Services 1.0: Invigil proctors an assessment the learning
platform delivers itself (docs/integrations/lti.md, ADR 0073).

1. :func:`start`: the platform's ``LtiStartProctoring`` launch (checked by
   :mod:`invigil.lti.message` like every launch, plus the attempt number,
   the start address and the session data). The resource link's exam is
   the *proctoring profile*: its policy, consent, requirements, window and
   time limit. The learner gets an invitation of their own for each
   attempt number (``lti_proctoring_sessions``) and goes through Invigil's
   landing page (consent) and player (system check, begin): the attempt
   that begins carries the proctoring pipeline exactly as for Invigil's own
   exams. The exam's questions are not shown.
2. :func:`assessment`: once the attempt runs, the player frames the
   platform's assessment: an ``LtiStartAssessment`` message signed by the
   tenant's tool key, posted to the platform's ``start_assessment_url``,
   echoing the session data and attempt number.
3. :func:`end`: the platform's ``LtiEndAssessment`` launch submits the
   attempt; review and integrity outcome follow the exam's policy.

Attempt numbers only go up: a start for a number below one already seen
for the learner on the link, or for an attempt that ended, is refused.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, invitations
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.models import Invitation
from invigil.errors import DomainError
from invigil.lti import keys, message
from invigil.lti.launches import _name_email, account_of, link_of, refuse
from invigil.lti.models import LtiAccount, LtiLink, LtiPlatform, LtiProctoringSession
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings

SUBMIT_REASON = "candidate"  # the learner finished on the platform, which says so


def _start_url_allowed(url: str, settings: Settings) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) and (
        parts.scheme == "https" or (parts.scheme == "http" and settings.lti_allow_http)
    )


def start(
    uow: UnitOfWork,
    kit: Kit,
    settings: Settings,
    platform: LtiPlatform,
    claims: dict[str, Any],
    *,
    address: str,
) -> str:
    """The learner's guest link into proctoring for this attempt, or a reason."""
    start_url = claims[message.START_ASSESSMENT_URL]
    if not _start_url_allowed(start_url, settings):
        return refuse(uow, kit.box, "token_claims", address=address, platform=platform,
                      detail="start_assessment_url")  # fmt: skip
    link = link_of(uow, platform, claims)
    if link.exam_id is None:
        return refuse(uow, kit.box, "link_not_mapped", address=address, platform=platform)
    name, email = _name_email(claims)
    if not email:
        return refuse(uow, kit.box, "no_email", address=address, platform=platform)
    account = account_of(uow, platform, claims["sub"])
    number = int(claims[message.ATTEMPT_NUMBER])
    data = str(claims.get(message.SESSION_DATA, ""))
    mine = (LtiProctoringSession.link_id == link.id, LtiProctoringSession.account_id == account.id)
    session = uow.scalar(
        select(LtiProctoringSession)
        .where(*mine, LtiProctoringSession.attempt_number == number)
        .with_for_update()
    )
    highest = uow.scalar(select(func.max(LtiProctoringSession.attempt_number)).where(*mine))
    if session is not None and session.status == "ended":
        return refuse(uow, kit.box, "attempt_ended", address=address, platform=platform,
                      detail=str(number))  # fmt: skip
    if session is None and highest is not None and number < highest:
        return refuse(uow, kit.box, "attempt_number", address=address, platform=platform,
                      detail=f"{number} < {highest}")  # fmt: skip
    uow.actor = Actor("system", f"lti:{platform.id}")
    try:
        if session is not None:
            # The same attempt launched again (a closed window, another
            # device): a fresh link to the same invitation and attempt.
            url = invitations.rotate(uow, kit, session.invitation_id, send_mail=False).link
            session.session_data, session.start_assessment_url = data, start_url
        else:
            made = invitations.invite(
                uow,
                kit,
                InviteRequest(
                    name=name,
                    email=email,
                    exam=str(link.exam_id),
                    external_ref=f"lti:{claims['sub']}"[:200],
                    send_mail=False,
                ),
            )
            url = made.link
            if account.candidate_id is None:
                account.candidate_id = made.invitation.candidate_id
            session = LtiProctoringSession(
                tenant_id=uow.tenant,
                id=uuid.uuid4(),
                link_id=link.id,
                account_id=account.id,
                invitation_id=made.invitation.id,
                deployment_id=str(claims[message.DEPLOYMENT])[:255],
                attempt_number=number,
                session_data=data,
                start_assessment_url=start_url,
            )
            uow.add(session)
        uow.flush()
    except DomainError as exc:
        return refuse(
            uow, kit.box, "exam_unavailable", address=address, platform=platform, detail=exc.detail
        )
    audit.record(
        uow,
        "lti.proctoring_started",
        ("lti_proctoring_session", session.id),
        {
            "platform_id": platform.id,
            "link_id": link.id,
            "invitation_id": session.invitation_id,
            "attempt_number": number,
        },
    )
    return url


def session_of(uow: UnitOfWork, invitation_id: uuid.UUID) -> LtiProctoringSession | None:
    return uow.scalar(
        select(LtiProctoringSession).where(LtiProctoringSession.invitation_id == invitation_id)
    )


def platform_origin(uow: UnitOfWork, invitation_id: uuid.UUID) -> str | None:
    """Where the platform's assessment is served from, for an invitation
    that carries an LMS-delivered assessment (None for Invigil's own)."""
    session = session_of(uow, invitation_id)
    if session is None:
        return None
    parts = urlsplit(session.start_assessment_url)
    return f"{parts.scheme}://{parts.netloc}"


def assessment(
    uow: UnitOfWork, box: SecretBox, invitation: Invitation
) -> tuple[LtiPlatform, str, str] | None:
    """(platform, start address, signed ``LtiStartAssessment``) while the
    proctored attempt runs, else None."""
    session = session_of(uow, invitation.id)
    if session is None or session.status == "ended":
        return None
    attempt = attempts.latest(uow, invitation.id)
    if attempt is None or attempt.status != "in_progress":
        return None
    link = uow.get(LtiLink, session.link_id)
    account = uow.get(LtiAccount, session.account_id)
    platform = uow.get(LtiPlatform, link.platform_id)
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "sub": account.subject,
        "iat": now,
        "exp": now + 300,
        "nonce": uuid.uuid4().hex,
        message.MESSAGE_TYPE: message.START_ASSESSMENT,
        message.VERSION: "1.3.0",
        message.DEPLOYMENT: session.deployment_id,
        message.RESOURCE_LINK: {"id": link.resource_link_id},
        message.ATTEMPT_NUMBER: session.attempt_number,
        message.SESSION_DATA: session.session_data,
        message.END_ASSESSMENT_RETURN: True,
    }
    token = keys.sign(uow, box, claims)
    first = session.status == "started"
    session.status = "assessing"
    session.assessing_at = session.assessing_at or datetime.now(UTC)
    uow.flush()
    audit.record(
        uow,
        "lti.assessment_started",
        ("lti_proctoring_session", session.id),
        {"attempt_id": attempt.id, "attempt_number": session.attempt_number, "again": not first},
    )
    return platform, session.start_assessment_url, token


def end(
    uow: UnitOfWork, box: SecretBox, platform: LtiPlatform, claims: dict[str, Any], *, address: str
) -> LtiProctoringSession | str:
    """The platform's ``LtiEndAssessment``: the attempt is submitted (its
    review and outcome follow the exam's policy), or a reason."""
    number = int(claims[message.ATTEMPT_NUMBER])
    link = uow.scalar(
        select(LtiLink).where(
            LtiLink.platform_id == platform.id,
            LtiLink.resource_link_id == claims[message.RESOURCE_LINK]["id"],
        )
    )
    account = uow.scalar(
        select(LtiAccount).where(
            LtiAccount.platform_id == platform.id, LtiAccount.subject == claims["sub"]
        )
    )
    session = None
    if link is not None and account is not None:
        session = uow.scalar(
            select(LtiProctoringSession)
            .where(
                LtiProctoringSession.link_id == link.id,
                LtiProctoringSession.account_id == account.id,
                LtiProctoringSession.attempt_number == number,
            )
            .with_for_update()
        )
    if session is None:
        return refuse(uow, box, "end_without_start", address=address, platform=platform,
                      detail=str(number))  # fmt: skip
    if session.status == "ended":
        return session  # said again: nothing more to do
    uow.actor = Actor("system", f"lti:{platform.id}")
    attempt = attempts.latest(uow, session.invitation_id, lock=True)
    submitted = False
    if attempt is not None and attempt.status == "in_progress":
        attempts.submit(uow, attempt, SUBMIT_REASON)
        submitted = True
    session.status, session.ended_at = "ended", datetime.now(UTC)
    uow.flush()
    audit.record(
        uow,
        "lti.proctoring_ended",
        ("lti_proctoring_session", session.id),
        {
            "attempt_id": attempt.id if attempt is not None else None,
            "attempt_number": number,
            "submitted": submitted,
        },
    )
    return session
