"""An assessment the learning platform delivers itself, proctored by Invigil
end to end (LTI Proctoring Services): the platform of the tests
(tests/lti/lti_platform.py) launches LtiStartProctoring; the learner agrees
to proctoring and passes the system check (a fake camera showing a face);
the player frames the platform's own quiz after a signed LtiStartAssessment
the platform verifies; a focus loss is recorded while focus inside the
platform's frame is not; the platform's LtiEndAssessment submits the
attempt, whose events and policy actions staff then read."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from invigil.app import create_app
from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.lti import keys, platforms, remote
from invigil.lti.models import LtiLink
from invigil.settings import Settings
from tests.browser import candidate as c
from tests.browser import media
from tests.browser import proctoring as pr
from tests.conftest import make_tenant
from tests.delivery.factories import kit_for
from tests.live import running
from tests.lti.lti_platform import AP, LTI, Platform, platform


@pytest.fixture(scope="module")
def lti_server(settings: Settings, database: Database) -> Iterator[tuple[str, FastAPI]]:
    """The app with loopback platforms allowed, naming itself by its own address."""
    remote.forget()
    allowed = settings.model_copy(update={"lti_allow_private": True, "lti_allow_http": True})
    app = create_app(allowed, database, run_jobs=False)
    with running(app) as url:
        app.state.settings = app.state.services.settings = allowed.model_copy(
            update={"issuer": url}
        )
        yield url, app


@pytest.fixture(scope="module")
def lms() -> Iterator[Platform]:
    with platform() as running_lms:
        yield running_lms


@pytest.fixture(scope="module")
def devices(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    folder = tmp_path_factory.mktemp("lti-media")
    video = media.write_y4m(folder / "one-face.y4m", media.one_face())
    audio = media.write_silence(folder / "silence.wav")
    launched = pr.launch(browser, video, audio)
    try:
        yield launched
    finally:
        launched.close()


def _register(app: FastAPI, database: Database, tenant_id: uuid.UUID, lms: Platform) -> str:
    settings = app.state.services.settings
    lms.client_id = f"client-{uuid.uuid4().hex[:8]}"
    with database.unit_of_work(tenant_id, Actor.operator()) as uow:
        key = platforms.create(uow, settings, platforms.Values(**lms.registration())).public_key
    urls = platforms.ToolUrls.of(settings, key)
    lms.redirect_uri, lms.tool_login = urls.launch, urls.login

    def tool_jwks() -> dict[str, Any]:
        with database.unit_of_work(tenant_id) as uow:
            return keys.jwks(uow, app.state.services.box)

    lms.tool_jwks = tool_jwks
    return key


def test_an_lms_delivered_assessment_is_proctored_from_start_to_end(
    devices: Browser, lti_server: tuple[str, FastAPI], lms: Platform, database: Database,
    settings: Settings,
) -> None:  # fmt: skip
    url, app = lti_server
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), url)
    staff = pr.Staff.sign_in(database, tenant, url)
    key = _register(app, database, tenant.id, lms)
    link_id = f"quiz-{uuid.uuid4().hex[:6]}"
    exam = org.exam(proctoring_preset="standard")
    with database.unit_of_work(tenant.id) as uow:
        row = platforms.by_public_key(uow, key)
        assert row is not None
        uow.add(LtiLink(tenant_id=tenant.id, id=uuid.uuid4(), platform_id=row.id,
                        resource_link_id=link_id, exam_id=exam))  # fmt: skip
    sub = f"u-{uuid.uuid4().hex[:8]}"
    lms.person = {"sub": sub, "name": "Pia Proctored", "email": f"{sub}@school.test"}
    lms.next_launch = lms.start_proctoring(link_id, attempt=1)

    with pr.context_of(devices) as context:
        page = context.new_page()
        problems = c.watch(page)
        # The platform's launch: login, its form post, Invigil's landing page.
        page.goto(f"{url}/lti/{key}/login?{urlencode(lms.login_query())}")
        expect(page).to_have_url(re.compile(r"/take/gl\.[^/]+$"))
        page.get_by_label("I agree").check()
        page.get_by_role("button", name="Start exam").click()
        expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
        # System check, begin: the player frames the platform's own quiz.
        frame = page.frame_locator("#lms-frame")
        expect(frame.locator("#lms-quiz")).to_be_visible(timeout=30_000)
        attempt = str(c.boot(page)["attempt_id"])
        assert lms.assessments, lms.refusals
        started = lms.assessments[-1]
        assert started[AP + "session_data"] == lms.session_data[f"{link_id}:1"]
        assert started[LTI + "resource_link"]["id"] == link_id
        assert started[AP + "attempt_number"] == 1
        expect(page.locator("#proctor-status")).to_be_visible()

        # Working inside the platform's frame is no focus loss ...
        frame.locator("#answer").fill("4")
        time.sleep(2.5)
        assert "focus.lost" not in pr.kinds(staff.events(attempt))
        # ... another window in front is.
        other = pr.blur_window(page)
        staff.wait_for(attempt, pr.has("focus.lost"), page=page)
        other.close()
        page.bring_to_front()
        staff.wait_for(attempt, pr.has("focus.lost", ended=True), page=page)
        assert org.attempt(attempt).status == "in_progress"

        # The learner finishes on the platform, which sends LtiEndAssessment.
        frame.locator("#finish").click()
        expect(frame.locator("#lti-ended")).to_be_visible(timeout=15_000)
        assert org.attempt(attempt).status == "submitted"
        # The player hears it with its next heartbeat and closes.
        expect(page).to_have_url(re.compile(r"/done$"), timeout=60_000)
        assert problems == []

    done = org.attempt(attempt)
    assert done.status == "submitted" and done.submit_reason == "candidate"
    events = staff.events(attempt)
    assert "focus.lost" in pr.kinds(events)
    actions = {(a["rule_id"], a["action"]) for a in staff.actions(attempt)}
    assert ("focus-lost-warn", "warn") in actions
    with database.unit_of_work(tenant.id) as uow:
        audited = set(uow.scalars(select(AuditEvent.action).where(AuditEvent.action.like("lti.%"))))
    assert {"lti.proctoring_started", "lti.assessment_started", "lti.proctoring_ended"} <= audited


def test_a_learner_launch_lands_in_the_player(
    devices: Browser, lti_server: tuple[str, FastAPI], lms: Platform, database: Database,
    settings: Settings,
) -> None:  # fmt: skip
    url, app = lti_server
    tenant = make_tenant(database, settings)
    org = c.Org(tenant.id, database, kit_for(settings), url)
    key = _register(app, database, tenant.id, lms)
    link_id = f"rl-{uuid.uuid4().hex[:6]}"
    exam = org.exam()
    with database.unit_of_work(tenant.id) as uow:
        row = platforms.by_public_key(uow, key)
        assert row is not None
        uow.add(LtiLink(tenant_id=tenant.id, id=uuid.uuid4(), platform_id=row.id,
                        resource_link_id=link_id, exam_id=exam))  # fmt: skip
    sub = f"u-{uuid.uuid4().hex[:8]}"
    lms.person = {"sub": sub, "name": "Lea Learner", "email": f"{sub}@school.test"}
    lms.next_launch = lms.resource_launch(link_id)
    with pr.context_of(devices) as context:
        page = context.new_page()
        problems = c.watch(page)
        page.goto(f"{url}/lti/{key}/login?{urlencode(lms.login_query())}")
        # Opened as the whole window, the launch goes straight on to the exam.
        expect(page).to_have_url(re.compile(r"/take/gl\.[^/]+$"))
        page.get_by_label("I agree").check()
        page.get_by_role("button", name="Start exam").click()
        expect(page).to_have_url(re.compile(r"/take/[^/]+/exam$"))
        expect(page.get_by_role("heading", name=re.compile(r"^Question 1 of \d+$"))).to_be_visible(
            timeout=30_000
        )
        assert "lms" not in c.boot(page)
        attempt = str(c.boot(page)["attempt_id"])
        assert org.attempt(attempt).status == "in_progress"
        assert problems == []
