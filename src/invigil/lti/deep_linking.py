"""Deep Linking 2.0: an instructor picks a published exam for a new activity.

The platform launches an ``LtiDeepLinkingRequest``; Invigil shows the
tenant's published exams in the platform's frame (no staff session is
needed: the verified launch is the instructor's word, and the pick is
bound to it by a one-time secret). The answer is an
``LtiDeepLinkingResponse`` signed with the tenant's tool key: one
``ltiResourceLink`` content item whose custom parameter names the exam and
whose ``lineItem`` asks the platform for a gradebook column (so scores can
be posted to it). The platform's first launch of the new resource link
carries that parameter back, signed, and the link is mapped to the exam.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import select

from invigil import audit
from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.invitations import published_exam
from invigil.errors import DomainError
from invigil.lti import keys, message
from invigil.lti.launches import HANDOFF, refuse
from invigil.lti.models import LtiLaunch, LtiPlatform
from invigil.lti.platforms import ToolUrls
from invigil.security.secretbox import SecretBox
from invigil.security.tokens import digest, new_secret
from invigil.settings import Settings
from invigil.web.pages import render

MINUTES = 30


def start(
    uow: UnitOfWork,
    box: SecretBox,
    platform: LtiPlatform,
    launch: LtiLaunch,
    claims: dict[str, Any],
    *,
    address: str,
) -> str:
    """The pick's one-time secret (the launch remembers where to answer)."""
    if platform.instructor_role is None:
        return refuse(uow, box, "no_staff_role", address=address, platform=platform)
    settings_claim = claims[message.DL_SETTINGS]
    secret = new_secret(HANDOFF, uow.tenant)
    launch.stage, launch.handoff_hash = "launched", digest(secret)
    launch.return_url = settings_claim["deep_link_return_url"][:2000]
    data = settings_claim.get("data")
    launch.return_data = data[:4000] if isinstance(data, str) else None
    launch.expires_at = datetime.now(UTC) + timedelta(minutes=MINUTES)
    uow.flush()
    return secret


def picker(request: Request, uow: UnitOfWork, secret: str) -> Response:
    exams = uow.scalars(
        select(Exam).where(Exam.status == "published").order_by(Exam.title).limit(500)
    )
    launch = uow.scalar(select(LtiLaunch).where(LtiLaunch.handoff_hash == digest(secret)))
    assert launch is not None
    platform = uow.get(LtiPlatform, launch.platform_id)
    return render(
        request,
        "lti/pick.html",
        {"page": None, "exams": exams, "pick": secret, "key": platform.public_key},
    )


def respond(
    uow: UnitOfWork, settings: Settings, box: SecretBox, secret: str, exam_ref: str
) -> tuple[LtiPlatform, str, str] | str:
    """(platform, return URL, signed answer) for the picked exam, or a reason."""
    launch = uow.scalar(
        select(LtiLaunch).where(LtiLaunch.handoff_hash == digest(secret)).with_for_update()
    )
    if launch is None or launch.stage != "launched" or launch.return_url is None:
        return "state_unknown"
    if launch.expires_at <= datetime.now(UTC):
        return "state_expired"
    try:
        exam, _ = published_exam(uow, exam_ref)
    except DomainError:
        return "exam_unavailable"
    launch.stage = "done"
    platform = uow.get(LtiPlatform, launch.platform_id)
    now = int(time.time())
    item: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": exam.title[:255],
        "url": ToolUrls.of(settings, platform.public_key).launch,
        "custom": {"invigil_exam": str(exam.id)},
        "lineItem": {
            "label": exam.title[:255],
            "resourceId": str(exam.id),
            "scoreMaximum": 100,
        },
    }
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now,
        "exp": now + 600,
        "nonce": uuid.uuid4().hex,
        message.MESSAGE_TYPE: "LtiDeepLinkingResponse",
        message.VERSION: "1.3.0",
        message.DEPLOYMENT: launch.deployment_id,
        message.DL_ITEMS: [item],
    }
    if launch.return_data is not None:
        claims[message.DL_DATA] = launch.return_data
    token = keys.sign(uow, box, claims)
    audit.record(
        uow, "lti.deep_link_answered", platform, {"exam_id": exam.id, "launch_id": launch.id}
    )
    return platform, launch.return_url, token
