"""Launches from a platform (docs/adr/0071-lti.md).

1. :func:`begin`: the platform's third-party-initiated login. A launch in
   flight (``lti_launches``): the ``state`` (by hash; it names its tenant),
   the browser it belongs to (the hash of a cookie only that browser holds)
   and a fresh ``nonce``; the browser goes to the platform's authorisation
   URL with them.
2. :func:`consume`: the platform posts the id_token back with the state.
   The state must be known, unexpired, unused and the same browser's; it is
   spent at once (with its nonce: a replayed token finds it used).
3. The route checks the id_token (:mod:`invigil.lti.message`) with no
   transaction held while the platform's keys are fetched.
4. What the launch means: a learner from a resource link mapped to a
   published exam becomes that exam's candidate (an invitation of their
   own, a fresh guest link each launch; :func:`learner`); an instructor
   becomes a staff member with the registration's role and gets a
   one-time hand-off into a staff session (:func:`staff`, :func:`enter`);
   a deep linking request lets an instructor pick an exam
   (:mod:`invigil.lti.deep_linking`).

Every refusal is audited (``lti.launch_refused`` with its reason).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, select

from invigil import audit
from invigil.content.models import Exam
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import invitations
from invigil.delivery.candidates import find_or_create
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.models import Invitation
from invigil.errors import DomainError
from invigil.identity import auth, grants
from invigil.identity.models import Role, User, UserRole
from invigil.identity.service import find_by_email, permissions_of, roles_of
from invigil.lti import message
from invigil.lti.models import LtiAccount, LtiLaunch, LtiLink, LtiPlatform, LtiSeat
from invigil.lti.platforms import ToolUrls
from invigil.security.permissions import ADMIN_PERMISSIONS
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import digest, new_secret
from invigil.settings import Settings
from invigil.tenants.models import Tenant

LOGIN_MINUTES = 5
HANDOFF_MINUTES = 10
STATE = "ls"
BROWSER = "lb"
HANDOFF = "lh"


def refuse(
    uow: UnitOfWork,
    box: SecretBox,
    reason: str,
    *,
    address: str,
    platform: LtiPlatform | None = None,
    detail: str = "",
) -> str:
    subject = (
        ("lti_platform", str(platform.id))
        if platform is not None
        else ("address", box.pseudonym(uow.tenant, "address", address))
    )
    audit.record(
        uow,
        "lti.launch_refused",
        subject,
        {
            "reason": reason,
            "detail": detail[:200],
            "address": box.pseudonym(uow.tenant, "address", address),
        },
    )
    return reason


@dataclass(frozen=True)
class Login:
    iss: str
    login_hint: str
    target_link_uri: str
    message_hint: str = ""
    client_id: str = ""
    deployment_id: str = ""


def begin(
    uow: UnitOfWork, settings: Settings, platform: LtiPlatform, login: Login
) -> tuple[str, str] | str:
    """The platform's authorisation URL and the browser's secret, or why not."""
    if not platform.enabled:
        return "not_configured"
    if login.iss != platform.issuer:
        return "login_issuer"
    if login.client_id and login.client_id != platform.client_id:
        return "login_client"
    if login.deployment_id and login.deployment_id not in platform.deployment_ids:
        return "deployment_unknown"
    if not login.login_hint:
        return "login_hint"
    state, browser = new_secret(STATE, uow.tenant), new_secret(BROWSER, uow.tenant)
    nonce = new_secret("ln", uow.tenant).rsplit(".", 1)[1]
    now = datetime.now(UTC)
    uow.session.execute(delete(LtiLaunch).where(LtiLaunch.expires_at < now - timedelta(hours=1)))
    uow.add(
        LtiLaunch(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            platform_id=platform.id,
            state_hash=digest(state),
            browser_hash=digest(browser),
            nonce=nonce,
            expires_at=now + timedelta(minutes=LOGIN_MINUTES),
        )
    )
    uow.flush()
    params = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": ToolUrls.of(settings, platform.public_key).launch,
        "login_hint": login.login_hint,
        "state": state,
        "nonce": nonce,
    }
    if login.message_hint:
        params["lti_message_hint"] = login.message_hint
    sep = "&" if "?" in platform.auth_login_url else "?"
    return f"{platform.auth_login_url}{sep}{urlencode(params)}", browser


def consume(uow: UnitOfWork, platform: LtiPlatform, state: str, browser: str) -> LtiLaunch | str:
    """Spend ``state`` (once, for the browser that began it), or say why not."""
    launch = uow.scalar(
        select(LtiLaunch).where(LtiLaunch.state_hash == digest(state)).with_for_update()
    )
    if launch is None or launch.platform_id != platform.id:
        return "state_unknown"
    if launch.used_at is not None:
        return "state_replayed"
    launch.used_at = datetime.now(UTC)
    uow.flush()
    if not browser or launch.browser_hash != digest(browser):
        return "state_other_browser"
    if launch.expires_at <= datetime.now(UTC):
        return "state_expired"
    if not platform.enabled:
        return "not_configured"
    return launch


def account_of(uow: UnitOfWork, platform: LtiPlatform, subject: str) -> LtiAccount:
    account = uow.scalar(
        select(LtiAccount).where(
            LtiAccount.platform_id == platform.id, LtiAccount.subject == subject
        )
    )
    if account is None:
        account = LtiAccount(
            tenant_id=uow.tenant, id=uuid.uuid4(), platform_id=platform.id, subject=subject
        )
        uow.add(account)
        uow.flush()
    return account


def _custom_exam(uow: UnitOfWork, claims: dict[str, Any]) -> uuid.UUID | None:
    custom = claims.get(message.CUSTOM)
    raw = custom.get("invigil_exam") if isinstance(custom, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        exam = uow.session.get(Exam, (uow.tenant, uuid.UUID(raw)))
    except ValueError:
        return None
    return exam.id if exam is not None else None


def link_of(uow: UnitOfWork, platform: LtiPlatform, claims: dict[str, Any]) -> LtiLink:
    """The resource link (recorded on its first launch), its line item kept
    current, and mapped by the exam a deep linking answer named (the
    platform's signed custom parameter) when it has none yet."""
    claim = claims[message.RESOURCE_LINK]
    link = uow.scalar(
        select(LtiLink).where(
            LtiLink.platform_id == platform.id, LtiLink.resource_link_id == claim["id"]
        )
    )
    if link is None:
        link = LtiLink(
            tenant_id=uow.tenant,
            id=uuid.uuid4(),
            platform_id=platform.id,
            resource_link_id=claim["id"],
        )
        uow.add(link)
    title = claim.get("title")
    if isinstance(title, str):
        link.title = title[:255]
    ags = claims.get(message.AGS)
    if isinstance(ags, dict) and isinstance(ags.get("lineitem"), str):
        link.lineitem_url = ags["lineitem"][:2000]
    nrps = claims.get(message.NRPS)
    if isinstance(nrps, dict) and isinstance(nrps.get("context_memberships_url"), str):
        link.memberships_url = nrps["context_memberships_url"][:2000]
    if link.exam_id is None:
        exam_id = _custom_exam(uow, claims)
        if exam_id is not None:
            link.exam_id = exam_id
            uow.flush()
            audit.record(uow, "lti.link_mapped", link, {"exam_id": exam_id, "by": "deep_linking"})
    uow.flush()
    return link


def _name_email(claims: dict[str, Any]) -> tuple[str, str]:
    email = claims.get("email")
    email = email.strip() if isinstance(email, str) and 3 <= len(email.strip()) <= 320 else ""
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        given, family = claims.get("given_name"), claims.get("family_name")
        name = " ".join(p for p in (given, family) if isinstance(p, str) and p.strip())
    return (name.strip()[:200] or email.split("@")[0][:200]), email


def learner(
    uow: UnitOfWork, kit: Kit, platform: LtiPlatform, claims: dict[str, Any], *, address: str
) -> str:
    """The learner's guest link to the exam the resource link opens, or a reason."""
    link = link_of(uow, platform, claims)
    if link.exam_id is None:
        return refuse(uow, kit.box, "link_not_mapped", address=address, platform=platform)
    name, email = _name_email(claims)
    if not email:
        return refuse(uow, kit.box, "no_email", address=address, platform=platform)
    account = account_of(uow, platform, claims["sub"])
    seat = uow.scalar(
        select(LtiSeat).where(LtiSeat.link_id == link.id, LtiSeat.account_id == account.id)
    )
    uow.actor = Actor("system", f"lti:{platform.id}")
    try:
        if account.candidate_id is None:
            candidate = find_or_create(
                uow, name=name, email=email, external_ref=f"lti:{claims['sub']}"[:200]
            )
            account.candidate_id = candidate.id
        invitation = uow.get(Invitation, seat.invitation_id) if seat is not None else None
        if (
            invitation is not None
            and invitation.status == "active"
            and invitation.exam_id == link.exam_id
            and invitation.closes_at > datetime.now(UTC)
        ):
            url = invitations.rotate(uow, kit, invitation.id, send_mail=False).link
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
            if seat is None:
                seat = LtiSeat(
                    tenant_id=uow.tenant,
                    id=uuid.uuid4(),
                    link_id=link.id,
                    account_id=account.id,
                    invitation_id=made.invitation.id,
                )
                uow.add(seat)
            else:
                seat.invitation_id = made.invitation.id
            uow.flush()
    except DomainError as exc:
        return refuse(
            uow, kit.box, "exam_unavailable", address=address, platform=platform, detail=exc.detail
        )
    assert seat is not None  # an invitation came from it, or it was just made
    audit.record(
        uow,
        "lti.learner_launched",
        seat,
        {"link_id": link.id, "invitation_id": seat.invitation_id, "platform_id": platform.id},
    )
    return url


def _may_link(uow: UnitOfWork, user: User, role: Role) -> bool:
    """An existing account found by e-mail is linked only when it holds no
    more than the instructor role gives: a platform's word about an e-mail
    must never open an administrator's account."""
    held = permissions_of(roles_of(uow, user.id))
    return held <= grants.role_permissions(role) and user.status == "active"


def staff(
    uow: UnitOfWork,
    box: SecretBox,
    platform: LtiPlatform,
    launch: LtiLaunch,
    claims: dict[str, Any],
    *,
    address: str,
) -> str:
    """The instructor's one-time hand-off secret into a staff session, or a reason."""
    if platform.instructor_role is None:
        return refuse(uow, box, "no_staff_role", address=address, platform=platform)
    role = uow.scalar(select(Role).where(Role.name == platform.instructor_role))
    if role is None:
        return refuse(uow, box, "no_staff_role", address=address, platform=platform)
    account = account_of(uow, platform, claims["sub"])
    user = uow.get(User, account.user_id) if account.user_id is not None else None
    if user is None:
        name, email = _name_email(claims)
        if not email:
            return refuse(uow, box, "no_email", address=address, platform=platform)
        user = find_by_email(uow, email)
        if user is not None and not _may_link(uow, user, role):
            return refuse(uow, box, "email_taken", address=address, platform=platform)
        uow.actor = Actor("system", f"lti:{platform.id}")
        if user is None:
            user = User(
                tenant_id=uow.tenant,
                id=uuid.uuid4(),
                email=email,
                status="active",
                display_name=name,
                password_hash=None,
            )
            uow.add(user)
            uow.flush()
            uow.add(UserRole(tenant_id=uow.tenant, user_id=user.id, role_id=role.id))
            uow.flush()
            audit.record(
                uow, "user.created", user, {"status": "active", "role_ids": [role.id], "via": "lti"}
            )
        account.user_id = user.id
        uow.flush()
        audit.record(uow, "lti.staff_linked", user, {"platform_id": platform.id})
    if user.status != "active":
        return refuse(uow, box, "not_active", address=address, platform=platform)
    if user.totp_enabled_at is not None:
        return refuse(uow, box, "mfa_account", address=address, platform=platform)
    secret = new_secret(HANDOFF, uow.tenant)
    launch.stage, launch.user_id, launch.handoff_hash = "launched", user.id, digest(secret)
    launch.expires_at = datetime.now(UTC) + timedelta(minutes=HANDOFF_MINUTES)
    uow.flush()
    return secret


@dataclass(frozen=True)
class Entered:
    secret: str
    enroll_only: bool


def enter(
    uow: UnitOfWork,
    settings: Settings,
    box: SecretBox,
    handoff: str,
    *,
    address: str,
    user_agent: str,
) -> Entered | None:
    """Spend an instructor's hand-off for a staff session (once, briefly)."""
    launch = uow.scalar(
        select(LtiLaunch).where(LtiLaunch.handoff_hash == digest(handoff)).with_for_update()
    )
    if launch is None or launch.stage != "launched" or launch.user_id is None:
        return None
    launch.stage = "done"
    if launch.expires_at <= datetime.now(UTC) or launch.return_url is not None:
        return None
    user = uow.get(User, launch.user_id)
    if user.status != "active":
        return None
    tenant = uow.get(Tenant, uow.tenant)
    granted = permissions_of(roles_of(uow, user.id))
    enroll_only = bool(
        tenant.require_mfa_for_admins and granted & {p.value for p in ADMIN_PERMISSIONS}
    )
    user.last_sign_in_at = datetime.now(UTC)
    uow.actor = Actor("user", str(user.id))
    session, secret = auth.open_session(
        uow,
        settings,
        user,
        kind="web",
        address=address,
        user_agent=user_agent,
        enroll_only=enroll_only,
    )
    audit.record(
        uow,
        "auth.signed_in",
        user,
        {
            "session": str(session.id),
            "kind": "web",
            "method": "lti",
            "platform_id": str(launch.platform_id),
            "address": box.pseudonym(uow.tenant, "address", address),
            "mfa": False,
            "enroll_only": enroll_only,
        },
    )
    return Entered(secret, enroll_only)
