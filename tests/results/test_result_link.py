"""The result link and the candidate's result page: what each feedback level
shows, one identical answer for unknown, expired, revoked, foreign and
guest tokens, the mail in the candidate's language, and the staff API."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.uow import Actor
from invigil.delivery.models import OutboxMail
from invigil.results import release, result_link
from invigil.results.models import ResultLink
from invigil.settings import Settings
from invigil.tenants import service as tenants
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.results.helpers import link_kit, make_release_exam, sit


def released_with_token(
    db: BoundDatabase, settings: Settings, tenant_id: uuid.UUID, **exam: object
) -> tuple[uuid.UUID, str]:
    exam_id = make_release_exam(db, tenant_id, results_release="immediately", **exam)
    sat = sit(db, settings, tenant_id, exam_id)
    with db.unit_of_work(tenant_id) as uow:
        _, token = result_link.resend(uow, link_kit(settings), sat.attempt_id)
    return sat.attempt_id, token


def test_each_feedback_level_shows_only_what_it_allows(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant = make_tenant(db, settings)
    pages = {}
    for level in ("score", "categories", "questions"):
        _, token = released_with_token(db, settings, tenant.id, result_feedback=level)
        page = client.get(f"/result/{token}")
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "You scored" in page.text and "You passed." in page.text
        pages[level] = page.text
    assert "By category" not in pages["score"] and "By question" not in pages["score"]
    assert "By category" in pages["categories"] and "By question" not in pages["categories"]
    assert "By category" in pages["questions"] and "By question" in pages["questions"]
    assert "right" in pages["questions"]


def test_dead_foreign_and_guest_tokens_answer_exactly_like_an_unknown_one(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    tenant, other = make_tenant(db, settings), make_tenant(db, settings)
    unknown = client.get(f"/result/rl.{tenant.id.hex}.{'x' * 43}")
    assert unknown.status_code == 404
    expired_id, expired = released_with_token(db, settings, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        link = uow.scalar(select(ResultLink).where(ResultLink.attempt_id == expired_id))
        assert link is not None
        link.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    revoked_id, revoked = released_with_token(db, settings, tenant.id)
    with db.unit_of_work(tenant.id) as uow:
        result_link.revoke(uow, revoked_id)
    _, live = released_with_token(db, settings, tenant.id)
    foreign = live.replace(tenant.id.hex, other.id.hex)  # the same secret, another tenant
    guest = sit(db, settings, tenant.id, make_release_exam(db, tenant.id))
    with db.unit_of_work(tenant.id) as uow:
        from invigil.delivery.links import live_link

        assert live_link(uow, guest.invitation_id) is not None
    for token in (expired, revoked, foreign, live.replace("rl.", "gl.", 1)):
        dead = client.get(f"/result/{token}")
        assert (dead.status_code, dead.content) == (404, unknown.content), token
    assert client.get(f"/result/{live}").status_code == 200
    assert client.get(f"/take/{live}").status_code == 404  # a result token opens no exam


def test_a_release_mails_a_link_in_the_candidates_language(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    with db.unit_of_work(tenant.id) as uow:
        tenants.set_languages(uow, ["en", "de"], None)
    exam_id = make_release_exam(db, tenant.id, results_release="manual")
    sat = sit(db, settings, tenant.id, exam_id, language="de")
    with db.unit_of_work(tenant.id, Actor("user", str(uuid.uuid4()))) as uow:
        row = release.release_one(uow, sat.attempt_id)
        link = result_link.mail_release(uow, link_kit(settings), row.id)
        assert link is not None
        assert result_link.mail_release(uow, link_kit(settings), row.id) is link  # a retry
        issued = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "result_link.issued", AuditEvent.subject_id == str(link.id)
            )
        )
        assert issued is not None and issued.payload["language"] == "de"
        mail = uow.get(OutboxMail, uuid.UUID(issued.payload["mail_id"]))
        assert mail.subject == "Ihr Ergebnis: An exam"
        assert "Ihr persönlicher Ergebnis-Link" in mail.body
        assert "{guest_link}" in mail.body and mail.link_sealed is not None  # sealed, never clear


def test_the_staff_api_releases_lists_revokes_and_resends(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    exam_id = make_release_exam(db, tenant.id, essay=True, results_release="manual")
    sat = sit(db, settings, tenant.id, exam_id)
    admin = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    refused = client.post(f"/api/v1/attempts/{sat.attempt_id}/releases", headers=admin)
    assert refused.status_code == 409 and "needs grading" in refused.json()["detail"]
    bulk = client.post(
        f"/api/v1/exams/{exam_id}/releases",
        json={"attempt_ids": [str(sat.attempt_id)]},
        headers=admin,
    )
    assert bulk.status_code == 409 and bulk.json()["pending"] == [str(sat.attempt_id)]
    both = client.post(
        f"/api/v1/exams/{exam_id}/releases",
        json={"attempt_ids": [str(sat.attempt_id)], "all_final": True},
        headers=admin,
    )
    assert both.status_code == 422
    too_many = client.post(
        f"/api/v1/exams/{exam_id}/releases",
        json={"attempt_ids": [str(uuid.uuid4()) for _ in range(501)]},
        headers=admin,
    )
    assert too_many.status_code == 422
    with db.unit_of_work(tenant.id) as uow:
        from tests.results.helpers import grade

        grade(uow, sat.attempt_id)
    done = client.post(f"/api/v1/attempts/{sat.attempt_id}/releases", headers=admin)
    assert done.status_code == 200 and done.json()["revision"] == 2
    listed = client.get(f"/api/v1/attempts/{sat.attempt_id}/releases", headers=admin).json()
    assert [r["how"] for r in listed["items"]] == ["manual"] and listed["mode"] == "manual"
    assert listed["link"] is None  # the job has not run yet
    link = f"/api/v1/attempts/{sat.attempt_id}/result-link"
    sent = client.post(link, json={"action": "resend"}, headers=admin)
    assert sent.status_code == 200 and sent.json()["state"] == "live"
    gone = client.post(link, json={"action": "revoke"}, headers=admin)
    assert gone.status_code == 200 and gone.json()["state"] == "revoked"
    assert client.post(link, json={"action": "revoke"}, headers=admin).status_code == 409
    assert client.post(link, json={"action": "burn"}, headers=admin).status_code == 422


def test_the_exam_page_releases_the_chosen_attempts(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    from tests.test_pages_matrix import web_client

    tenant = make_tenant(db, settings)
    exam_id = make_release_exam(db, tenant.id, essay=True, results_release="manual")
    pending, graded = (sit(db, settings, tenant.id, exam_id) for _ in range(2))
    with db.unit_of_work(tenant.id) as uow:
        from tests.results.helpers import grade

        grade(uow, graded.attempt_id)
    client, csrf = web_client(app, db, tenant.id, ["exam_author"])
    page = client.get(f"/exams/{exam_id}/release")
    assert page.status_code == 200
    boxes = re.findall(r'name="attempt_ids" value="([0-9a-f-]+)"', page.text)
    assert boxes == [str(graded.attempt_id)]  # only a graded result can be chosen
    refused = client.post(
        f"/exams/{exam_id}/release",
        data={"csrf": csrf, "scope": "chosen", "attempt_ids": [str(pending.attempt_id)]},
    )
    assert refused.status_code == 409 and "error-summary" in refused.text
    assert str(pending.attempt_id) in refused.text
    done = client.post(
        f"/exams/{exam_id}/release",
        data={"csrf": csrf, "scope": "chosen", "attempt_ids": boxes},
    )
    assert done.status_code == 303
    with db.unit_of_work(tenant.id) as uow:
        assert [r.how for r in release.releases_of(uow, graded.attempt_id)] == ["bulk"]
    one = client.get(f"/attempts/{graded.attempt_id}/release")
    assert one.status_code == 200 and "in bulk" in one.text


def test_a_regrade_mails_a_new_link_saying_the_result_changed(
    db: BoundDatabase, settings: Settings, client: TestClient
) -> None:
    from invigil.delivery.models import Attempt
    from tests.results.helpers import grade

    tenant = make_tenant(db, settings)
    exam_id = make_release_exam(db, tenant.id, results_release="after_grading")
    sat = sit(db, settings, tenant.id, exam_id)
    kit = link_kit(settings)
    with db.unit_of_work(tenant.id) as uow:
        first = release.latest_release(uow, sat.attempt_id)
        assert first is not None and first.revision == 1
        _, old_token = result_link.issue(uow, kit, first, "released")
        regraded = release.on_result(
            uow, uow.get(Attempt, sat.attempt_id), grade(uow, sat.attempt_id)
        )
        assert regraded is not None and regraded.revision == 2
        assert result_link.mail_release(uow, kit, first.id) is None  # superseded: no mail
        link = result_link.mail_release(uow, kit, regraded.id)
        assert link is not None
        mails = list(uow.scalars(select(OutboxMail).where(OutboxMail.subject.like("Your result%"))))
        changed = [m for m in mails if m.subject.startswith("Your result has changed")]
        assert len(changed) == 1 and "graded again" in changed[0].body
    assert client.get(f"/result/{old_token}").status_code == 404  # replaced by the new link
