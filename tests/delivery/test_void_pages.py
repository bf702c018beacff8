"""Voiding from the staff attempt page and through the API: who may, what
the forms refuse and where they say so, 409 the second time, 404 for
another tenant's attempt, the player refused afterwards, and the attempt
shown as voided on its page, in the attempts list and in the API."""

from __future__ import annotations

import html
import re
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.delivery.models import Attempt, AttemptVoid
from invigil.identity.models import User
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.test_attempts import begun, invited, item
from tests.test_pages_matrix import web_client


def words(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment)))


def test_a_tenant_admin_voids_a_running_attempt_from_its_page(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    player, state = begun(app, token)
    aid, tid = state["attempt_id"], made.invitation.tenant_id
    path = f"/delivery/attempts/{aid}"
    admin, csrf = web_client(app, db, tid, ["tenant_admin"])

    page = admin.get(path)
    assert page.status_code == 200 and 'action="' + path + '/void"' in page.text
    assert "Void this attempt" in page.text and 'id="void-confirm"' in page.text

    proctor, proctor_csrf = web_client(app, db, tid, ["proctor_reviewer"])
    assert 'action="' + path + '/void"' not in proctor.get(path).text
    form = {"csrf": proctor_csrf, "reason": "duplicate", "confirm": "yes"}
    assert proctor.post(path + "/void", data=form).status_code == 403

    unconfirmed = admin.post(path + "/void", data={"csrf": csrf, "reason": "duplicate"})
    assert unconfirmed.status_code == 422 and 'href="#void-confirm"' in unconfirmed.text
    assert "Confirm that you want to void this attempt" in words(unconfirmed.text)
    no_note = {"csrf": csrf, "reason": "other", "note": "  ", "confirm": "yes"}
    blank = admin.post(path + "/void", data=no_note)
    assert blank.status_code == 422 and 'href="#void-note"' in blank.text
    assert 'id="void-note" name="note" maxlength="1000" rows="3" aria-invalid="true"' in blank.text
    assert 'value="other" id="void-reason-other" required checked' in blank.text  # kept
    bad = admin.post(path + "/void", data={"csrf": csrf, "reason": "boredom", "confirm": "yes"})
    assert bad.status_code == 422 and 'href="#void-reason"' in bad.text
    forged = admin.post(path + "/void", data={"csrf": "x", "reason": "duplicate", "confirm": "yes"})
    assert forged.status_code == 403

    intruder, intruder_csrf = web_client(app, db, make_tenant(db, settings).id, ["tenant_admin"])
    theirs = {"csrf": intruder_csrf, "reason": "duplicate", "confirm": "yes"}
    assert intruder.post(path + "/void", data=theirs).status_code == 404
    with db.unit_of_work(tid) as uow:
        assert uow.scalar(select(AttemptVoid)) is None
        assert uow.get(Attempt, uuid.UUID(aid)).status == "in_progress"  # type: ignore[union-attr]

    good = {"csrf": csrf, "reason": "technical_failure", "note": "Webcam <froze>", "confirm": "yes"}
    done = admin.post(path + "/void", data=good)
    assert done.status_code == 303 and done.headers["location"] == path
    after = admin.get(path)
    text = words(after.text)
    assert "Attempt voided." in text and "Void this attempt" not in text
    assert "Voided" in text and "Technical failure" in text and "Webcam <froze>" in text
    assert "Webcam <froze>" not in after.text  # escaped
    assert "None: the start was not charged" in text  # an unmetered tenant
    assert "by staff, voiding it" in text  # how it was submitted
    with db.unit_of_work(tid) as uow:
        row = uow.scalar(select(AttemptVoid))
        assert row is not None and row.voided_by.startswith("user:")
        who = row.voided_by.split(":", 1)[1]
        entry = uow.scalar(select(AuditEvent).where(AuditEvent.action == "attempt.voided"))
        assert entry is not None and entry.actor_kind == "user" and entry.actor_id == who
    assert "Reason: Technical failure" in text  # the timeline's line

    result_page = admin.get(f"/attempts/{aid}/result")
    assert result_page.status_code == 200
    assert "This result belongs to a voided attempt" in words(result_page.text)

    again = admin.post(path + "/void", data=good)
    assert again.status_code == 409 and "voided already" in words(again.text)

    # The player is refused as for a closed attempt, and stops.
    saved = player.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 9)]})
    assert saved.status_code == 409 and saved.json()["type"].endswith(":attempt-closed")
    beat = player.post(f"/take/{token}/api/heartbeat", json={"position": 0})
    assert beat.status_code == 409 and beat.json()["type"].endswith(":attempt-closed")

    listed = admin.get("/delivery/attempts?status=voided")
    assert listed.status_code == 200 and aid in listed.text
    shown = words(listed.text)
    assert "Voided" in shown and "Technical failure" in shown and "nothing to refund" in shown
    with db.unit_of_work(tid) as uow:
        email = uow.get(User, uuid.UUID(who)).email  # type: ignore[union-attr]
    assert f"by {email}" in shown
    assert aid not in admin.get("/delivery/attempts?status=in_progress").text


def test_the_api_voids_once_and_answers_404_for_another_tenant(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    player, state = begun(app, token)
    sent = player.post(f"/take/{token}/api/submit", json={"items": [item(0, 1, 1)]})
    assert sent.status_code == 200
    aid, tid = state["attempt_id"], made.invitation.tenant_id
    admin = bearer(app, db, make_user(db, tid, ["tenant_admin"]))
    proctor = bearer(app, db, make_user(db, tid, ["proctor_reviewer"]))
    other = make_tenant(db, settings)
    stranger = bearer(app, db, make_user(db, other.id, ["tenant_admin"]))
    client = TestClient(app, raise_server_exceptions=False)
    url = f"/api/v1/attempts/{aid}/void"
    body = {"reason": "duplicate", "note": "invited twice by mistake"}

    assert client.post(url, json=body, headers=proctor).status_code == 403
    theirs = client.post(url, json=body, headers=stranger)
    nobody = str(uuid.uuid4())
    missing = client.post(f"/api/v1/attempts/{nobody}/void", json=body, headers=stranger)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.text.replace(aid, "ID") == missing.text.replace(nobody, "ID")  # same body
    bad = client.post(url, json={"reason": "boredom"}, headers=admin)
    assert bad.status_code == 422 and "reason" in bad.text
    long = client.post(url, json={"reason": "other", "note": "x" * 1001}, headers=admin)
    assert long.status_code == 422 and "note" in long.text
    blank = client.post(url, json={"reason": "other", "note": " "}, headers=admin)
    assert blank.status_code == 422 and blank.json().get("field") == "note"
    extra = client.post(url, json={**body, "refund": 99}, headers=admin)
    assert extra.status_code == 422

    done = client.post(url, json=body, headers=admin)
    assert done.status_code == 201, done.text
    out = done.json()
    assert (out["reason"], out["status_before"], out["refund_transfer_id"]) == (
        "duplicate",
        "submitted",
        None,
    )
    assert len(out["sha256"]) == 64
    twice = client.post(url, json=body, headers=admin)
    assert twice.status_code == 409 and twice.json()["type"].endswith(":already-voided")

    attempt = client.get(f"/api/v1/attempts/{aid}", headers=admin).json()
    assert attempt["void"]["id"] == out["id"] and attempt["status"] == "submitted"
    listed = client.get(f"/api/v1/attempts?invitation_id={made.invitation.id}", headers=admin)
    assert listed.json()["items"][0]["void"]["reason"] == "duplicate"
    result = client.get(f"/api/v1/attempts/{aid}/result", headers=admin).json()
    assert result["voided"] is True
