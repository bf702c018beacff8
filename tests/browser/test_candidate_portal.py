"""A candidate opens their portal in French from the link in their mail,
sees a flag with the snapshot behind it and contests it; the reviewer, in
a staff browser, sees the contest beside the flag. The request form, the
portal and the attempt page are axe-clean at desktop and phone width."""

from __future__ import annotations

import uuid
from datetime import timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery.models import Attempt, Candidate
from invigil.evidence import service as evidence_service
from invigil.evidence.service import Evidence
from invigil.identity import service
from invigil.proctoring import contests
from invigil.proctoring.models import ProctoringAction, Snapshot
from invigil.retention import portal_links
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.browser.axe import assert_accessible
from tests.browser.test_admin import sign_in
from tests.conftest import make_tenant
from tests.evidence.factories import jpeg
from tests.results.helpers import FLAGGING, make_release_exam, sit
from tests.retention.test_portal import kit

PASSWORD = "lantern-meadow-copper-42"
EXPLANATION = "Mon chat a marché sur le clavier et a caché l\u2019onglet."


def test_a_candidate_contests_a_flag_and_the_reviewer_sees_it(
    page: Page, database: Database, settings: Settings, live_server: str
) -> None:
    tenant = make_tenant(database, settings)
    with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
        tenants.set_languages(uow, ["en", "fr"], None)
    exam_id = make_release_exam(database, tenant.id, proctoring_policy=FLAGGING)
    sat = sit(database, settings, tenant.id, exam_id, flagged=True, language="fr")
    admin = f"reviewer-{uuid.uuid4().hex[:8]}@portal.test"
    with database.unit_of_work(tenant.id) as uow:
        service.create_user(
            uow, email=admin, roles=["tenant_admin"], password=PASSWORD, display_name="Rev"
        )
        attempt = uow.get(Attempt, sat.attempt_id)
        flag = uow.scalar(select(ProctoringAction).where(ProctoringAction.attempt_id == attempt.id))
        assert flag is not None
        picture = evidence_service.store(
            uow, Evidence.from_settings(settings), subject_type="attempt",
            subject_id=str(attempt.id), kind_name="snapshot", data=[jpeg(3000)],
        )  # fmt: skip
        uow.add(
            Snapshot(
                tenant_id=tenant.id, attempt_id=attempt.id, object_id=picture.id,
                taken_at=(flag.window_start or flag.created_at) + timedelta(seconds=1),
                reason="event", event_seq=flag.episode_seq,
            )
        )  # fmt: skip
        candidate = uow.get(Candidate, attempt.candidate_id)
        _, token = portal_links.issue(uow, kit(settings), candidate, "test")

    # The "See my data" form: one neutral answer.
    page.goto(f"{live_server}/portal/{tenant.slug}")
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the request form at {width} px")
    page.get_by_label("Your e-mail address").fill("nobody@example.org")
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_text("If we know this address, we have sent a link")).to_be_visible()

    # The portal, in the candidate's language (French).
    page.goto(f"{live_server}/my/{token}")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Vos données")).to_be_visible()
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the portal at {width} px")
    page.get_by_role("link", name="An exam").click()
    tab_hidden = "Signalement\u202f: L\u2019onglet de l\u2019examen était masqué."
    heading = page.get_by_role("heading", name=tab_hidden)
    expect(heading).to_be_visible()
    snapshot = page.locator(f'img[src$="/evidence/{picture.id}"]')
    expect(snapshot).to_be_visible()
    served = page.request.get(f"{live_server}/my/{token}/evidence/{picture.id}")
    assert served.status == 200 and served.headers["content-type"] == "image/jpeg"
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        assert_accessible(page, f"the attempt in the portal at {width} px")
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page scrolls sideways at {width} px"

    article = page.locator(f"#flag-{flag.id}")
    article.get_by_label("Votre explication").fill(EXPLANATION)
    article.get_by_role("button", name="Envoyer mon explication").click()
    expect(page.get_by_text("Votre explication est enregistrée.")).to_be_visible()
    expect(page.get_by_text(EXPLANATION)).to_be_visible()
    expect(page.get_by_role("button", name="Envoyer mon explication")).to_have_count(1)  # outcome
    assert_accessible(page, "the attempt after contesting")

    with database.unit_of_work(tenant.id) as uow:
        (row,) = contests.of_attempt(uow, sat.attempt_id)
        assert row.action_id == flag.id and row.text == EXPLANATION and row.language == "fr"

    # The reviewer sees it beside the flag.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.clear_cookies()
    sign_in(page, live_server, tenant.slug, admin, PASSWORD)
    page.goto(f"{live_server}/proctoring/reviews/{sat.attempt_id}")
    box = page.locator(f"#flag-{flag.id} .contest")
    expect(box).to_contain_text(EXPLANATION)
    expect(box).to_contain_text("Not answered yet.")
    assert_accessible(page, "the review page with a contest")
