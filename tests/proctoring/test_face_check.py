"""The system check's face check: an exam that watches faces begins only once
the server's own face detector has seen a face in a picture from the camera."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.delivery.models import Attempt
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.test_attempts import browser, invited, start
from tests.proctoring import snapshots


def test_an_exam_that_watches_faces_begins_only_after_the_server_saw_a_face(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, proctoring_preset="standard")
    client = browser(app)
    assert start(client, token).status_code == 303
    api = f"/take/{token}/api"

    refused = client.post(f"{api}/begin")
    assert refused.status_code == 409 and refused.json()["type"].endswith(":no-face-seen")
    assert "camera check has not seen" in refused.json()["detail"]

    empty = client.post(f"{api}/face-check", content=snapshots.no_face()).json()
    assert empty == {"needed": True, "seen": False, "faces": 0, "problem": None}
    dark = client.post(f"{api}/face-check", content=snapshots.dark()).json()
    assert dark["seen"] is False and dark["problem"] == "too_dark"
    garbage = client.post(f"{api}/face-check", content=b"not a picture")
    assert garbage.status_code == 422
    assert client.post(f"{api}/begin").status_code == 409  # still no face seen

    seen = client.post(f"{api}/face-check", content=snapshots.one_face()).json()
    assert seen["seen"] is True and seen["faces"] == 1
    began = client.post(f"{api}/begin")
    assert began.status_code == 200 and began.json()["status"] == "in_progress"

    tid = made.invitation.tenant_id
    with db.unit_of_work(tid) as uow:
        attempt = uow.get(Attempt, uuid.UUID(began.json()["attempt_id"]))
        assert attempt.face_seen_at is not None
        entries = uow.scalars(select(AuditEvent).where(AuditEvent.action == "proctoring.face_seen"))
        assert len(entries) == 1 and entries[0].payload["faces"] == 1
    # Seen once is seen: a later picture without a face does not undo it.
    later = client.post(f"{api}/face-check", content=snapshots.no_face()).json()
    assert later["seen"] is True and later["faces"] == 0


def test_an_exam_without_a_face_detector_begins_without_the_check(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(db, settings, proctoring_preset="practice")
    client = browser(app)
    assert start(client, token).status_code == 303
    assert client.post(f"/take/{token}/api/begin").status_code == 200


def test_the_face_check_needs_the_candidates_browser(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(db, settings, proctoring_preset="standard")
    owner = browser(app)
    assert start(owner, token).status_code == 303
    stranger = browser(app)  # the link, but not the browser that started the exam
    r = stranger.post(f"/take/{token}/api/face-check", content=snapshots.one_face())
    assert r.status_code == 401
