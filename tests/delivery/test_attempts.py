"""Attempts over HTTP as a candidate's browser makes them: consent, start,
binding, begin, saves with sequence numbers, deadlines, submit, result."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls
from invigil.delivery import attempts
from invigil.delivery.models import Attempt, AttemptAnswer, AttemptResult, Consent
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import (
    attempt_factory,
    exam_with_every_type,
    kit_for,
    make_invitation,
    token_of,
)

SHA = re.compile(r'name="consent_sha256" value="([0-9a-f]{64})"')
LANGUAGE = re.compile(r'name="consent_language" value="([A-Za-z_]+)"')


def consent_form(page: str) -> dict[str, str]:
    """What the landing page's "Start exam" form sends with "I agree" ticked:
    the hash and the language of the consent text it shows."""
    sha, language = SHA.search(page), LANGUAGE.search(page)
    assert sha and language, "the landing page carries the consent text's hash and language"
    return {"consent": "yes", "consent_sha256": sha.group(1), "consent_language": language[1]}


def browser(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


def invited(db: BoundDatabase, settings: Settings, **exam_settings: Any) -> tuple[Any, str]:
    tenant = make_tenant(db, settings)
    exam = exam_with_every_type(db, tenant.id, settings=exam_settings)
    made = make_invitation(db, tenant.id, kit_for(settings), exam)
    return made, token_of(made)


def start(client: TestClient, token: str) -> Any:
    page = client.get(f"/take/{token}")
    assert page.status_code == 200, page.text
    return client.post(f"/take/{token}/start", data=consent_form(page.text))


def begin(client: TestClient, token: str) -> Any:
    """``POST begin`` as the player does: an exam that watches faces first
    shows the server's face check a picture with a face in it."""
    r = client.post(f"/take/{token}/api/begin")
    if r.status_code == 409 and r.json()["type"].endswith(":no-face-seen"):
        from tests.proctoring import snapshots

        seen = client.post(f"/take/{token}/api/face-check", content=snapshots.one_face())
        assert seen.status_code == 200 and seen.json()["seen"], seen.text
        r = client.post(f"/take/{token}/api/begin")
    return r


def begun(app: FastAPI, token: str) -> tuple[TestClient, dict[str, Any]]:
    client = browser(app)
    assert start(client, token).status_code == 303
    r = begin(client, token)
    assert r.status_code == 200, r.text
    return client, r.json()


def item(index: int, response: Any, seq: int, **extra: Any) -> dict[str, Any]:
    return {"index": index, "response": response, "seq": seq} | extra


def stored(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str) -> dict[int, AttemptAnswer]:
    with db.unit_of_work(tenant_id) as uow:
        rows = uow.scalars(
            select(AttemptAnswer).where(AttemptAnswer.attempt_id == uuid.UUID(attempt_id))
        )
        return {r.slot: r for r in rows}


def test_get_changes_nothing_and_start_needs_consent(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    client = browser(app)
    for _ in range(3):
        assert client.get(f"/take/{token}").status_code == 200
    tid = made.invitation.tenant_id
    with db.unit_of_work(tid) as uow:
        assert uow.scalars(select(Attempt)) == [] and uow.scalars(select(Consent)) == []

    page = client.get(f"/take/{token}")
    assert 'id="consent"' in page.text and "I agree" in page.text and "Start exam" in page.text
    refused = client.post(f"/take/{token}/start", data={"consent_sha256": "x"})
    assert refused.status_code == 400 and "I agree" in refused.text
    with db.unit_of_work(tid) as uow:
        assert uow.scalars(select(Attempt)) == []

    changed = client.post(f"/take/{token}/start", data={"consent": "yes", "consent_sha256": "0"})
    assert changed.status_code == 409 and "consent text changed" in changed.text

    ok = start(client, token)
    assert ok.status_code == 303 and ok.headers["location"] == f"/take/{token}/exam"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/take" in cookie
    with db.unit_of_work(tid) as uow:
        consent = uow.scalar(select(Consent))
        assert consent is not None and consent.decision == "given"
        assert consent.text_sha256 == attempts.text_sha256(consent.text)
        assert "I agree to take this exam" in consent.text
        actions = [e.action for e in uow.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert actions[-2:] == ["consent.given", "attempt.created"]


def test_declining_is_recorded_and_starts_nothing(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    client = browser(app)
    r = client.post(f"/take/{token}/decline")
    assert r.status_code == 200 and "You did not consent" in r.text
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        consent = uow.scalar(select(Consent))
        assert consent is not None and consent.decision == "declined"
        assert consent.attempt_id is None
        assert uow.scalars(select(Attempt)) == []
        last = uow.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert last is not None and last.action == "consent.declined"
    assert client.get(f"/take/{token}/api/state").status_code == 409  # not started


def test_questions_stay_hidden_until_the_clock_starts(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(db, settings, time_limit_minutes=30)
    client = browser(app)
    start(client, token)
    ready = client.get(f"/take/{token}/api/state").json()
    assert ready["status"] == "ready" and ready["questions"] == [] and ready["deadline"] is None
    before = datetime.now(UTC)
    state = client.post(f"/take/{token}/api/begin").json()
    assert state["status"] == "in_progress" and len(state["questions"]) == 8
    deadline = datetime.fromisoformat(state["deadline"])
    assert timedelta(minutes=29) < deadline - before < timedelta(minutes=31)
    again = client.post(f"/take/{token}/api/begin").json()
    assert again["deadline"] == state["deadline"]  # idempotent
    body = state["questions"][0]["body"]
    assert "correct" not in body and "choices" in body  # no answers leave the server


def test_saves_are_idempotent_and_never_go_back(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    client, state = begun(app, token)
    api = f"/take/{token}/api/answers"
    r = client.post(api, json={"items": [item(0, 1, 1), item(2, True, 2)]})
    assert [x["status"] for x in r.json()["results"]] == ["saved", "saved"]
    again = client.post(api, json={"items": [item(0, 1, 1)]})
    assert again.json()["results"] == [{"seq": 1, "status": "duplicate"}]
    newer = client.post(api, json={"items": [item(0, 2, 5)]})
    assert newer.json()["results"][0]["status"] == "saved"
    older = client.post(api, json={"items": [item(0, 3, 4)]})
    assert older.json()["results"][0]["status"] == "stale"
    # In one batch, the highest seq for a question wins whatever the order.
    mixed = client.post(api, json={"items": [item(3, "3.14", 9), item(3, "2", 7)]})
    assert [x["status"] for x in mixed.json()["results"]] == ["saved", "stale"]
    rows = stored(db, made.invitation.tenant_id, state["attempt_id"])
    assert rows[0].response == 2 and rows[0].seq == 5
    assert rows[3].response == "3.14" and rows[2].response is True
    assert client.get(f"/take/{token}/api/state").json()["last_seq"] == 9


@pytest.mark.parametrize(
    ("index", "response"),
    [(0, 99), (0, "Paris"), (1, [0, 0]), (2, "yes"), (6, [0, 1]), (7, [0]), (42, 1)],
)
def test_answers_that_cannot_fit_the_question_are_rejected(
    app: FastAPI, db: BoundDatabase, settings: Settings, index: int, response: Any
) -> None:
    made, token = invited(db, settings)
    client, state = begun(app, token)
    r = client.post(f"/take/{token}/api/answers", json={"items": [item(index, response, 1)]})
    assert r.status_code == 200
    result = r.json()["results"][0]
    assert result["status"] == "rejected" and result["reason"]
    assert stored(db, made.invitation.tenant_id, state["attempt_id"]) == {}


def test_text_that_is_no_unicode_is_rejected_and_the_rest_saved(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """An escaped lone surrogate in a text answer (short, essay, a number as
    text) is that item's rejection with its reason, not a server error; the
    batch's other items are saved."""
    made, token = invited(db, settings)
    client, state = begun(app, token)
    items = [item(3, "2\ud800", 1), item(4, "a\ud800", 2), item(2, True, 3)]
    raw = json.dumps({"items": items})  # ASCII: the surrogates escaped
    r = client.post(
        f"/take/{token}/api/answers", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["rejected", "rejected", "saved"]
    assert all("valid Unicode text" in x["reason"] for x in results[:2])
    assert list(stored(db, made.invitation.tenant_id, state["attempt_id"])) == [2]


def right_order(state: dict[str, Any]) -> list[list[int]]:
    """The right ordering and matching answers, read off the candidate's paper
    (both are always shown shuffled)."""
    ordering, matching = state["questions"][6]["body"], state["questions"][7]["body"]
    events = ["Magna Carta", "French Revolution", "Moon landing"]
    capitals = ["Madrid", "Rome", "Lima"]
    return [
        [ordering["items"].index(e) for e in events],
        [matching["right"].index(c) for c in capitals],
    ]


def _move_deadline(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str, ago: int) -> None:
    with db.unit_of_work(tenant_id) as uow:
        a = uow.get(Attempt, uuid.UUID(attempt_id))
        a.deadline = datetime.now(UTC) - timedelta(seconds=ago)


def test_after_the_deadline_only_offline_answers_within_grace_are_taken(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, time_limit_minutes=10, offline_grace_seconds=120)
    client, state = begun(app, token)
    tid = made.invitation.tenant_id
    _move_deadline(db, tid, state["attempt_id"], ago=30)
    before = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    after = datetime.now(UTC).isoformat()
    r = client.post(
        f"/take/{token}/api/answers",
        json={
            "items": [
                item(0, 1, 1),  # online, after the deadline
                item(2, True, 2, offline=True, client_time=before),  # queued in time
                item(3, "3", 3, offline=True, client_time=after),  # queued too late
            ]
        },
    )
    statuses = [x["status"] for x in r.json()["results"]]
    assert statuses == ["rejected", "late", "rejected"]
    assert r.json()["results"][0]["reason"].startswith("the time is up")
    # The player words the refusal from its code, in the candidate's language.
    assert [x.get("code") for x in r.json()["results"]] == ["time-up", None, "time-up"]
    rows = stored(db, tid, state["attempt_id"])
    assert set(rows) == {2} and rows[2].late

    _move_deadline(db, tid, state["attempt_id"], ago=200)  # grace over
    r = client.post(
        f"/take/{token}/api/answers",
        json={"items": [item(4, "Berlin", 4, offline=True, client_time=before)]},
    )
    assert r.json()["results"][0]["status"] == "rejected"


def test_an_answer_in_flight_at_the_deadline_is_taken_as_late(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, time_limit_minutes=10, offline_grace_seconds=0)
    client, state = begun(app, token)
    tid = made.invitation.tenant_id
    given = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    _move_deadline(db, tid, state["attempt_id"], ago=1)
    r = client.post(
        f"/take/{token}/api/submit",
        json={"items": [item(0, 1, 1, client_time=given), item(2, True, 2)]},
    )
    assert [x["status"] for x in r.json()["results"]] == ["late", "rejected"]
    assert stored(db, tid, state["attempt_id"])[0].late


def test_submit_scores_every_type_and_records_an_immutable_result(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(
        db, settings, shuffle_options=False, results_release="immediately", pass_mark_percent=50
    )
    client, state = begun(app, token)
    right = [1, [0, 2, 4], True, "3,14", " berlin ", "An essay.", *right_order(state)]
    items = [item(i, r, i + 1, time_ms=1000 * (i + 1)) for i, r in enumerate(right)]
    r = client.post(f"/take/{token}/api/submit", json={"items": items})
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    assert client.post(f"/take/{token}/api/submit", json={}).status_code == 200  # idempotent
    late = client.post(f"/take/{token}/api/answers", json={"items": [item(0, 0, 99)]})
    assert late.status_code == 409 and late.json()["type"].endswith(":attempt-closed")

    tid = made.invitation.tenant_id
    with db.unit_of_work(tid) as uow:
        result = uow.scalar(select(AttemptResult))
        assert result is not None and result.revision == 1
        doc = result.document
        assert doc["awarded"] == "14.50" and doc["max"] == "24.50"  # all but the essay
        assert doc["needs_grading"] is True and doc["passed"] is None
        assert [q["awarded"] for q in doc["questions"]][5] is None
        assert doc["categories"]["Writing"]["pending_grading"] == 1
        assert doc["time_on_questions_ms"] == sum(1000 * (i + 1) for i in range(8))
        actions = [e.action for e in uow.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert actions[-3:] == ["result.recorded", "proctoring.sealed", "attempt.submitted"]
        last = uow.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert last is not None and last.payload["result_sha256"] == result.document_sha256

    done = client.get(f"/take/{token}/done")
    assert done.status_code == 200 and "14.50 of 24.50 points" in done.text
    assert "graded by a person" in done.text

    with pytest.raises(DBAPIError, match="permission denied"), db.unit_of_work(tid) as uow:
        uow.session.execute(text("UPDATE attempt_results SET awarded = 24.5"))


def test_a_second_browser_is_refused_until_staff_release_the_attempt(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    first, state = begun(app, token)
    first.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 1)]})

    second = browser(app)
    page = second.get(f"/take/{token}")
    assert page.status_code == 409 and "in progress in another browser" in page.text
    again = second.post(f"/take/{token}/start", data={"consent": "yes"})
    assert again.status_code == 409 and "another browser" in again.text
    api = second.get(f"/take/{token}/api/state")
    assert api.status_code == 401
    second.cookies.set(attempts.cookie_name(made.invitation.id), "ab.forged.value")
    api = second.get(f"/take/{token}/api/state")
    assert api.status_code == 409 and api.json()["type"].endswith(":in-progress-elsewhere")

    tid = made.invitation.tenant_id
    staff = bearer(app, db, make_user(db, tid, ["proctor_reviewer"]))
    released = browser(app).post(
        f"/api/v1/attempts/{state['attempt_id']}/release",
        json={"reason": "laptop died"},
        headers=staff,
    )
    assert released.status_code == 200 and released.json()["bound"] is False
    assert first.get(f"/take/{token}/api/state").status_code == 409  # the old browser is out

    second.cookies.clear()
    moved = second.post(f"/take/{token}/start")
    assert moved.status_code == 303
    resumed = second.get(f"/take/{token}/api/state").json()
    assert resumed["answers"]["0"]["response"] == 1  # nothing lost
    with db.unit_of_work(tid) as uow:
        actions = [e.action for e in uow.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        assert actions[-2:] == ["attempt.released", "attempt.bound"]


def test_a_revoked_invitation_stops_the_running_attempt_at_once(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    from invigil.delivery import invitations

    made, token = invited(db, settings)
    client, _ = begun(app, token)
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        invitations.revoke(uow, made.invitation.id)
    r = client.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 1)]})
    unknown = client.get("/take/gl.00000000000000000000000000000000.nothing/api/state")
    assert r.status_code == unknown.status_code == 404
    assert r.json()["detail"] == unknown.json()["detail"]


def test_the_closing_job_submits_attempts_whose_browser_is_gone(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, time_limit_minutes=5, offline_grace_seconds=60)
    client, state = begun(app, token)
    client.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 1)]})
    tid = made.invitation.tenant_id
    _move_deadline(db, tid, state["attempt_id"], ago=30)  # within grace: stays open
    assert attempts.close_due(db) == 0
    _move_deadline(db, tid, state["attempt_id"], ago=61)
    assert attempts.close_due(db) == 1
    with db.unit_of_work(tid) as uow:
        a = uow.get(Attempt, uuid.UUID(state["attempt_id"]))
        assert a.status == "submitted" and a.submit_reason == "deadline"
        assert uow.scalar(select(AttemptResult)) is not None
    hb = client.post(f"/take/{token}/api/heartbeat", json={"position": 1})
    assert hb.json()["status"] == "submitted"  # the browser learns on its next beat


@pytest.mark.parametrize(
    "stmt",
    [
        "UPDATE attempt_results SET awarded = 0",
        "DELETE FROM attempt_results",
        "TRUNCATE attempt_results CASCADE",
        "UPDATE consents SET decision = 'declined'",
        "DELETE FROM consents",
    ],
)
def test_even_a_superuser_cannot_change_results_or_consents(
    database: Database, urls: DatabaseUrls, settings: Settings, stmt: str
) -> None:
    tenant: Tenant = make_tenant(database, settings)
    attempt_id = uuid.UUID(attempt_factory(database, tenant))
    with database.unit_of_work(tenant.id) as uow:
        attempts.submit(uow, uow.get(Attempt, attempt_id), "candidate")
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.exec_driver_sql(stmt)
    engine.dispose()


def test_the_closing_job_finds_due_attempts_in_every_tenant(
    database: Database, settings: Settings
) -> None:
    """On real, committed data (RLS binds the owner too, so the platform
    function must visit each tenant itself)."""
    due = []
    for _ in range(2):
        tenant = make_tenant(database, settings)
        attempt_id = uuid.UUID(attempt_factory(database, tenant))
        with database.unit_of_work(tenant.id) as uow:
            a = uow.get(Attempt, attempt_id)
            a.deadline = datetime.now(UTC) - timedelta(seconds=a.grace_seconds + 5)
        due.append((tenant.id, attempt_id))
    assert attempts.close_due(database) >= 2
    for tenant_id, attempt_id in due:
        with database.unit_of_work(tenant_id) as uow:
            a = uow.get(Attempt, attempt_id)
            assert a.status == "submitted" and a.submit_reason == "deadline"
            # The platform function put the caller's tenant binding back.
            setting = uow.session.execute(text("SELECT current_setting('app.tenant_id')"))
            assert setting.scalar_one() == str(tenant_id)
            uow.session.execute(text("SELECT * FROM platform_due_attempts(now(), 10)")).all()
            setting = uow.session.execute(text("SELECT current_setting('app.tenant_id')"))
            assert setting.scalar_one() == str(tenant_id)
