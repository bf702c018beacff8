"""Assignment and Grade Services 2.0: a released result goes to the
platform's gradebook.

A release (first or again after a regrade) of an attempt whose invitation
a learner's launch made, from a resource link with a line item, queues one
``lti_score_posts`` row and a job in the same transaction. The job asks the
platform's token endpoint for an access token (client credentials, the
client authenticated by a JWT assertion signed with the tenant's tool key,
scope ``.../scope/score``) and posts the score to ``<line item>/scores``:
``scoreGiven`` / ``scoreMaximum`` (the result's points), ``activityProgress``
Completed, ``gradingProgress`` FullyGraded, the learner's platform
``userId``, a ``comment`` and the ``timestamp`` of the release. A failure is
retried by the queue (five tries, a minute apart, then the post is marked
failed); each success and each final failure is audited.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Attempt, AttemptResult
from invigil.lti import keys, remote
from invigil.lti.models import LtiAccount, LtiLink, LtiPlatform, LtiScorePost, LtiSeat
from invigil.lti.remote import LtiError
from invigil.results.models import ResultRelease
from invigil.security.secretbox import SecretBox
from invigil.settings import Settings

TASK = "invigil:lti.post_score"
QUEUE = "lti"
MAX_TRIES = 5
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def on_release(
    uow: UnitOfWork, release: ResultRelease, attempt: Attempt, result: AttemptResult
) -> None:
    seat = uow.scalar(select(LtiSeat).where(LtiSeat.invitation_id == attempt.invitation_id))
    if seat is None:
        return
    link = uow.get(LtiLink, seat.link_id)
    if link.lineitem_url is None:
        return
    post = LtiScorePost(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        seat_id=seat.id,
        release_id=release.id,
        status="pending",
    )
    uow.add(post)
    uow.flush()
    uow.defer(TASK, queue=QUEUE, tenant_id=str(uow.tenant), post_id=str(post.id))


def scores_url(lineitem: str) -> str:
    """``<line item>/scores``, the line item's query kept (AGS 2.0, 3.4)."""
    parts = urlsplit(lineitem)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def client_assertion(uow: UnitOfWork, box: SecretBox, platform: LtiPlatform) -> str:
    """The JWT that authenticates Invigil at the platform's token endpoint.

    Signed in its own unit of work, which must commit before the token
    endpoint is asked: the platform checks the assertion against Invigil's
    JWKS, and a tenant's first key is made (under a lock) when first
    needed, so an open transaction would hide it and hold the lock the
    JWKS request waits for."""
    now = int(time.time())
    return keys.sign(
        uow,
        box,
        {
            "iss": platform.client_id,
            "sub": platform.client_id,
            "aud": platform.token_url,
            "iat": now,
            "exp": now + 300,
            "jti": uuid.uuid4().hex,
        },
    )


def access_token(settings: Settings, token_url: str, assertion: str, scope: str) -> str:
    """A service token (client credentials); called outside any transaction."""
    answer = remote.fetch_json(
        token_url,
        settings,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": scope,
        },
    )
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise LtiError("platform_answer", "the token endpoint gave no access token")
    return token


def score_of(release: ResultRelease, result: AttemptResult, subject: str) -> dict[str, Any]:
    return {
        "userId": subject,
        "scoreGiven": float(Decimal(result.awarded)),
        "scoreMaximum": float(Decimal(result.max_points)),
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "comment": f"Invigil result, revision {result.revision}",
        "timestamp": release.released_at.astimezone(UTC).isoformat(timespec="milliseconds"),
    }


def post(db: Any, services: Any, tenant_id: str, post_id: str, *, last_try: bool) -> None:
    """Send one score (called by the job); raises for the queue to retry."""
    tenant, pid = uuid.UUID(tenant_id), uuid.UUID(post_id)
    settings, box = services.settings, services.box
    with db.unit_of_work(tenant, Actor.system("lti.post_score")) as uow:
        row = uow.session.get(LtiScorePost, (tenant, pid))
        if row is None or row.status == "posted":
            return
        seat = uow.get(LtiSeat, row.seat_id)
        link = uow.get(LtiLink, seat.link_id)
        platform = uow.get(LtiPlatform, link.platform_id)
        account = uow.get(LtiAccount, seat.account_id)
        release = uow.get(ResultRelease, row.release_id)
        result = uow.get(AttemptResult, release.result_id)
        score = score_of(release, result, account.subject)
        lineitem = link.lineitem_url or ""
        token_url = platform.token_url
        assertion = client_assertion(uow, box, platform)
    error: LtiError | None = None
    try:
        token = access_token(settings, token_url, assertion, SCORE_SCOPE)
    except LtiError as exc:
        error = exc
    if error is None:
        try:
            answer = remote.request(
                "POST",
                scores_url(lineitem),
                settings,
                json=score,
                headers={"Authorization": f"Bearer {token}", "Content-Type": SCORE_TYPE},
            )
            if answer.status_code not in (200, 201, 202, 204):
                error = LtiError("platform_answer", f"the gradebook answered {answer.status_code}")
        except LtiError as exc:
            error = exc
    with db.unit_of_work(tenant, Actor.system("lti.post_score")) as uow:
        row = uow.session.get(LtiScorePost, (tenant, pid), with_for_update=True)
        assert row is not None
        row.tries += 1
        if error is None:
            row.status, row.posted_at, row.last_error = "posted", datetime.now(UTC), ""
            audit.record(
                uow,
                "lti.score_posted",
                row,
                {
                    "release_id": row.release_id,
                    "score_given": score["scoreGiven"],
                    "score_maximum": score["scoreMaximum"],
                    "lineitem_host": urlsplit(lineitem).hostname,
                },
            )
            return
        row.last_error = str(error)[:500]
        if last_try:
            row.status = "failed"
            audit.record(
                uow,
                "lti.score_failed",
                row,
                {"release_id": row.release_id, "reason": error.reason, "tries": row.tries},
            )
    raise error
