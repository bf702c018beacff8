"""LTI Proctoring Services 1.0: Invigil proctors an assessment the platform
(tests/lti/lti_platform.py) delivers itself. The platform launches
LtiStartProctoring, verifies the tool's signed LtiStartAssessment (against
the tool's JWKS) and ends with LtiEndAssessment; the attempt that carried
the proctoring is then submitted. Every refusal is a page and an audit
entry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.app import create_app
from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.delivery import attempts
from invigil.delivery.landing import consent_text
from invigil.delivery.models import Attempt, Invitation
from invigil.lti import platforms, remote
from invigil.lti import proctoring_services as ap
from invigil.lti.models import LtiLink, LtiProctoringSession
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.delivery.factories import kit_for
from tests.delivery.test_attempts import begin, browser, start
from tests.lti.lti_platform import AP, LTI, Platform, platform
from tests.lti.test_lti import assert_refused, launch, learner, refusals, register
from tests.results.helpers import make_release_exam


@pytest.fixture
def app(settings: Settings, db: BoundDatabase) -> FastAPI:
    remote.forget()
    lti = settings.model_copy(update={"lti_allow_private": True, "lti_allow_http": True})
    return create_app(lti, db, run_jobs=False)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with platform() as running_lms:
        yield running_lms


def proctored(app: FastAPI, db: BoundDatabase, tenant: Tenant, lms: Platform) -> tuple[str, str]:
    """A registration whose quiz link is mapped to a published exam (the proctoring profile)."""
    key = register(app, db, tenant, lms)
    exam = make_release_exam(db, tenant.id, results_release="manual")
    link_id = f"quiz-{uuid.uuid4().hex[:6]}"
    with db.unit_of_work(tenant.id) as uow:
        row = platforms.by_public_key(uow, key)
        assert row is not None
        uow.add(LtiLink(tenant_id=tenant.id, id=uuid.uuid4(), platform_id=row.id,
                        resource_link_id=link_id, exam_id=exam))  # fmt: skip
    lms.person = learner()
    return key, link_id


def session_row(db: BoundDatabase, tenant: Tenant, link_id: str, number: int = 1) -> Any:
    with db.unit_of_work(tenant.id) as uow:
        link = uow.scalar(select(LtiLink).where(LtiLink.resource_link_id == link_id))
        assert link is not None
        row = uow.scalar(
            select(LtiProctoringSession).where(
                LtiProctoringSession.link_id == link.id,
                LtiProctoringSession.attempt_number == number,
            )
        )
        if row is not None:
            uow.session.expunge(row)
        return row


def begin_attempt(db: BoundDatabase, tenant: Tenant, settings: Settings, invitation_id: Any) -> Any:
    """What the landing page and the player do: consent, start, begin."""
    kit = kit_for(settings)
    now = datetime.now(UTC)
    with db.unit_of_work(tenant.id, Actor("candidate", "c-1")) as uow:
        inv = uow.get(Invitation, invitation_id)
        version = attempts.version_of(uow, inv.exam_id, inv.exam_version)
        text = consent_text(version)
        attempt = attempts.start(
            uow, kit.key, inv, version, consent_text=text, consent_language="en",
            shown_sha256=attempts.text_sha256(text), shown_language="en",
            browser=attempts.Browser(address="test", user_agent="test"), now=now,
        ).attempt  # fmt: skip
        attempt.face_seen_at = now
        attempts.begin(uow, attempt, version, inv, now=now)
        return attempt.id


def start_assessment_jwt(
    app: FastAPI, db: BoundDatabase, tenant: Tenant, invitation_id: Any
) -> str:
    """What the player's frame posts to the platform (``/take/{token}/lms``)."""
    with db.unit_of_work(tenant.id) as uow:
        found = ap.assessment(uow, app.state.services.box, uow.get(Invitation, invitation_id))
        assert found is not None
        _platform, url, token = found
        assert url.endswith("/assessment")
        return token


def actions(db: BoundDatabase, tenant: Tenant) -> list[str]:
    with db.unit_of_work(tenant.id) as uow:
        rows = uow.session.execute(select(AuditEvent.action).where(AuditEvent.action.like("lti.%")))
        return [a for (a,) in rows]


def test_start_assess_end_closes_the_proctored_attempt(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform,
    settings: Settings,
) -> None:  # fmt: skip
    key, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.start_proctoring(link_id, attempt=1)
    r = launch(client, lms, key)
    assert r.status_code == 200, (r.text, refusals(db, tenant_a))
    assert 'id="lti-continue"' in r.text and "/take/gl." in r.text
    row = session_row(db, tenant_a, link_id)
    assert row.status == "started" and row.attempt_number == 1
    assert row.session_data == lms.session_data[f"{link_id}:1"]
    # Before the attempt runs, nothing goes to the platform.
    with db.unit_of_work(tenant_a.id) as uow:
        assert (
            ap.assessment(uow, app.state.services.box, uow.get(Invitation, row.invitation_id))
            is None
        )
    attempt_id = begin_attempt(db, tenant_a, settings, row.invitation_id)
    token = start_assessment_jwt(app, db, tenant_a, row.invitation_id)
    # The platform verifies the signed start (tool JWKS, iss, aud, nonce, session data).
    answer = httpx.post(f"{lms.base}/assessment", data={"JWT": token})
    assert answer.status_code == 200 and "lms-quiz" in answer.text, lms.refusals
    claims = lms.assessments[-1]
    assert claims[AP + "attempt_number"] == 1
    assert claims[LTI + "resource_link"]["id"] == link_id
    assert claims[AP + "end_assessment_return"] is True
    assert claims["sub"] == lms.person["sub"]
    # The same token again: the platform refuses the replayed nonce.
    again = httpx.post(f"{lms.base}/assessment", data={"JWT": token})
    assert again.status_code == 400 and "nonce replayed" in lms.refusals[-1]
    assert session_row(db, tenant_a, link_id).status == "assessing"
    # The platform ends the assessment: the attempt is submitted.
    lms.next_launch = lms.end_assessment(link_id, 1)
    ended = launch(client, lms, key)
    assert ended.status_code == 200, (ended.text, refusals(db, tenant_a))
    assert 'id="lti-ended"' in ended.text and f"{lms.base}/course" in ended.text
    with db.unit_of_work(tenant_a.id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        assert attempt.status == "submitted" and attempt.submit_reason == "candidate"
    assert session_row(db, tenant_a, link_id).status == "ended"
    done = actions(db, tenant_a)
    for action in ("lti.proctoring_started", "lti.assessment_started", "lti.proctoring_ended"):
        assert action in done
    # Ended: a start for the same attempt is refused, as is a start after it.
    lms.next_launch = lms.start_proctoring(link_id, attempt=1)
    assert_refused(launch(client, lms, key), "attempt_ended", 409)
    with db.unit_of_work(tenant_a.id) as uow:
        assert (
            ap.assessment(uow, app.state.services.box, uow.get(Invitation, row.invitation_id))
            is None
        )


def test_a_relaunch_of_the_same_attempt_keeps_its_session_and_a_lower_number_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform,
) -> None:  # fmt: skip
    key, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.start_proctoring(link_id, attempt=2)
    assert launch(client, lms, key).status_code == 200
    first = session_row(db, tenant_a, link_id, 2)
    lms.next_launch = lms.start_proctoring(link_id, attempt=2)
    assert launch(client, lms, key).status_code == 200
    second = session_row(db, tenant_a, link_id, 2)
    assert second.id == first.id and second.invitation_id == first.invitation_id
    assert second.session_data == lms.session_data[f"{link_id}:2"] != first.session_data
    lms.next_launch = lms.start_proctoring(link_id, attempt=1)
    assert_refused(launch(client, lms, key), "attempt_number", 409)
    assert "attempt_number" in refusals(db, tenant_a)


@pytest.mark.parametrize(
    ("bend", "reason", "status"),
    [
        ({"_tamper": True}, "token_signature", 401),
        ({AP + "attempt_number": 0}, "token_claims", 401),
        ({AP + "attempt_number": "two"}, "token_claims", 401),
        ({AP + "start_assessment_url": None}, "token_claims", 401),
        ({AP + "session_data": {"not": "text"}}, "token_claims", 401),
        ({LTI + "resource_link": None}, "token_claims", 401),
    ],
)
def test_a_bad_start_proctoring_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform,
    bend: dict[str, Any], reason: str, status: int,
) -> None:  # fmt: skip
    key, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.start_proctoring(link_id)
    lms.bend = bend
    assert_refused(launch(client, lms, key), reason, status)
    assert reason in refusals(db, tenant_a)
    assert session_row(db, tenant_a, link_id) is None


def test_a_replayed_start_proctoring_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.start_proctoring(link_id)
    answer = httpx.get(
        httpx.URL(
            str(client.get(f"/lti/{key}/login", params=lms.login_query(), follow_redirects=False)
                .headers["location"])
        )
    ).json()  # fmt: skip
    form = {"id_token": answer["id_token"], "state": answer["state"]}
    path = httpx.URL(answer["to"]).path
    assert client.post(path, data=form).status_code == 200
    assert_refused(client.post(path, data=form), "state_replayed", 400)


def test_end_without_start_and_with_another_attempt_number_is_refused(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.end_assessment(link_id, 1)
    assert_refused(launch(client, lms, key), "end_without_start", 409)
    lms.next_launch = lms.start_proctoring(link_id, attempt=1)
    assert launch(client, lms, key).status_code == 200
    lms.next_launch = lms.end_assessment(link_id, 3)  # an attempt that never started
    assert_refused(launch(client, lms, key), "end_without_start", 409)
    assert session_row(db, tenant_a, link_id).status == "started"


def test_another_tenants_platform_cannot_end_a_session(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, tenant_b: Tenant,
    lms: Platform,
) -> None:  # fmt: skip
    key_a, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.start_proctoring(link_id)
    assert launch(client, lms, key_a).status_code == 200
    person = lms.person
    # The same platform registered by tenant B says the same learner's attempt ended.
    key_b = register(app, db, tenant_b, lms)
    lms.person = person
    lms.next_launch = lms.end_assessment(link_id, 1)
    assert_refused(launch(client, lms, key_b), "end_without_start", 409)
    assert "end_without_start" in refusals(db, tenant_b)
    assert session_row(db, tenant_a, link_id).status == "started"


def test_through_the_pages_the_player_frames_the_platforms_assessment(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant, lms: Platform
) -> None:
    key, link_id = proctored(app, db, tenant_a, lms)
    lms.next_launch = lms.start_proctoring(link_id, attempt=1)
    r = launch(client, lms, key)
    take = next(p for p in r.text.split('"') if "/take/gl." in p)
    token = urlsplit(take).path.split("/")[2]
    candidate = browser(app)
    assert start(candidate, token).status_code == 303
    # Not begun yet: the frame's page says the assessment cannot open.
    assert candidate.get(f"/take/{token}/lms").status_code == 409
    assert begin(candidate, token).status_code == 200
    player = candidate.get(f"/take/{token}/exam")
    assert player.status_code == 200
    assert f"frame-src 'self' {lms.base}" in player.headers["content-security-policy"]
    assert f"/take/{token}/lms" in player.text  # the boot names the frame's page
    page = candidate.get(f"/take/{token}/lms")
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in csp and f"form-action 'self' {lms.base}" in csp
    assert f'action="{lms.base}/assessment"' in page.text
    jwt_value = page.text.split('name="JWT" value="', 1)[1].split('"', 1)[0]
    answer = httpx.post(f"{lms.base}/assessment", data={"JWT": jwt_value})
    assert answer.status_code == 200, lms.refusals
    # Another learner's browser gets nothing from this link.
    assert browser(app).get(f"/take/{token}/lms").status_code in (303, 401)
    lms.next_launch = lms.end_assessment(link_id, 1)
    assert launch(client, lms, key).status_code == 200
    assert candidate.get(f"/take/{token}/lms").status_code == 409
    state = candidate.get(f"/take/{token}/api/state").json()
    assert state["status"] == "submitted"
