"""Live monitoring on the server: what a proctor's steps do to the clock
and the answers (the server decides, whatever the player shows), what the
candidate sees and answers, the console's tiles, the fan-out of signals
between processes, and the records ``audit verify`` checks."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from invigil.app import create_app
from invigil.audit import service as audit_service
from invigil.audit.models import AuditEvent
from invigil.cli.audit import _sources
from invigil.context import Services
from invigil.db import signals
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls, libpq
from invigil.delivery import attempts
from invigil.delivery.models import Attempt, AttemptClientChange
from invigil.errors import Conflict, Invalid
from invigil.proctoring import live, live_view
from invigil.proctoring.live_broker import Broker
from invigil.proctoring.models import LiveIntervention
from invigil.security.keys import Keys
from invigil.settings import Settings
from invigil.verifier import verify
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.test_attempts import begun, invited, item
from tests.evidence import factories
from tests.identity.test_pages import page_sign_in
from tests.live import running
from tests.results import bundles
from tests.test_pages_matrix import web_client

PROCTOR = Actor("user", str(uuid.uuid4()))
SSE = {"accept": "text/event-stream"}


def _uow(db: Database, tenant: uuid.UUID) -> Any:
    return db.unit_of_work(tenant, PROCTOR)


def _sitting(app: FastAPI, db: BoundDatabase, settings: Settings, **exam: Any) -> Any:
    made, token = invited(db, settings, **({"time_limit_minutes": 30} | exam))
    client, state = begun(app, token)
    return made.invitation.tenant_id, uuid.UUID(state["attempt_id"]), client, token, state


def _attempt(db: Database, tenant: uuid.UUID, attempt_id: uuid.UUID) -> Attempt:
    with db.unit_of_work(tenant) as uow:
        found = uow.scalar(select(Attempt).where(Attempt.id == attempt_id))
        assert found is not None
        uow.session.expunge(found)
        return found


def test_added_time_moves_the_deadline_and_the_player_hears_of_it(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    before = _attempt(db, tenant, aid).deadline
    assert before is not None
    with _uow(db, tenant) as uow:
        live.add_time(uow, aid, 10, "the candidate's laptop restarted")
    after = _attempt(db, tenant, aid)
    assert after.deadline == before + timedelta(minutes=10)
    assert after.added_seconds == 600 and after.live_seq == 1
    beat = client.post(f"/take/{token}/api/heartbeat", json={"position": 0}).json()
    assert beat["live_seq"] == 1
    assert datetime.fromisoformat(beat["deadline"]) == after.deadline
    with _uow(db, tenant) as uow, pytest.raises(Invalid) as refused:
        live.add_time(uow, aid, 0, "nothing")
    assert refused.value.extensions["field"] == "minutes"
    with _uow(db, tenant) as uow, pytest.raises(Invalid) as refused:
        live.add_time(uow, aid, 5, "   ")
    assert refused.value.extensions["field"] == "reason"


def test_an_untimed_exam_has_no_time_to_add(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    _, state = begun(app, token)
    tenant, aid = made.invitation.tenant_id, uuid.UUID(state["attempt_id"])
    if _attempt(db, tenant, aid).deadline is not None:
        pytest.skip("the factory's exam is timed")
    with _uow(db, tenant) as uow, pytest.raises(Invalid):
        live.add_time(uow, aid, 5, "an accommodation")


def test_a_pause_stops_answers_and_the_closing_job_and_a_resume_moves_the_deadline(
    app: FastAPI, db: BoundDatabase, settings: Settings, database: Database
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    deadline = _attempt(db, tenant, aid).deadline
    assert deadline is not None
    paused_at = datetime.now(UTC)
    with _uow(db, tenant) as uow:
        live.pause(uow, aid, "a second person walked in", now=paused_at)
    with _uow(db, tenant) as uow, pytest.raises(Conflict):
        live.pause(uow, aid, "again")
    # Answered after the pause: refused whole (409 paused); the player keeps it.
    r = client.post(f"/take/{token}/api/answers", json={"items": [item(4, "x", 1)]})
    assert r.status_code == 409 and r.json()["type"].endswith(":paused"), r.text
    # Given before the pause (on the wire when it came): taken.
    before = (paused_at - timedelta(seconds=2)).isoformat()
    r = client.post(
        f"/take/{token}/api/answers", json={"items": [item(4, "x", 2, client_time=before)]}
    )
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "saved", r.text
    assert r.json()["paused_at"] is not None
    # The deadline passes while paused: the closing job leaves it alone (it may
    # close other tests' attempts in the same database: not counted here).
    attempts.close_due(database, now=deadline + timedelta(hours=1))
    assert _attempt(db, tenant, aid).status == "in_progress"
    resumed_at = paused_at + timedelta(minutes=7)
    with _uow(db, tenant) as uow:
        live.resume(uow, aid, now=resumed_at)
    after = _attempt(db, tenant, aid)
    assert after.paused_at is None and after.deadline == deadline + timedelta(minutes=7)
    with _uow(db, tenant) as uow, pytest.raises(Conflict):
        live.resume(uow, aid)
    r = client.post(f"/take/{token}/api/answers", json={"items": [item(4, "y", 3)]})
    assert r.status_code == 200, r.text


def test_a_message_is_read_once_and_the_console_sees_the_receipt(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    with _uow(db, tenant) as uow:
        sent = live.send_message(uow, aid, "Please keep your face in view of the camera.")
        mid = sent.id
    seen = client.get(f"/take/{token}/api/live").json()
    assert [m["text"] for m in seen["messages"]] == ["Please keep your face in view of the camera."]
    assert seen["live_seq"] == 1
    first = client.post(f"/take/{token}/api/live/messages/{mid}/ack")
    assert first.status_code == 200, first.text
    again = client.post(f"/take/{token}/api/live/messages/{mid}/ack")
    assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert client.get(f"/take/{token}/api/live").json()["messages"] == []
    assert client.post(f"/take/{token}/api/live/messages/{uuid.uuid4()}/ack").status_code == 404
    assert client.post(f"/take/{token}/api/live/messages/not-an-id/ack").status_code == 422
    with db.unit_of_work(tenant) as uow:
        (tile,) = live_view.tiles(uow, attempt_ids=[aid])
        (shown,) = tile["messages"]
        assert shown["acknowledged_at"] is not None
        actions = list(
            uow.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "live_intervention")
                .order_by(AuditEvent.seq)
            )
        )
    assert actions == ["proctor.message_sent", "proctor.message_read"]


def test_ending_submits_as_it_stands_and_nothing_more_changes_live(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    r = client.post(f"/take/{token}/api/answers", json={"items": [item(4, "kept", 1)]})
    assert r.status_code == 200
    with _uow(db, tenant) as uow:
        live.end(uow, aid, "the candidate used a phone")
    ended = _attempt(db, tenant, aid)
    assert ended.status == "submitted" and ended.submit_reason == "proctor"
    assert ended.integrity == "clear"  # an integrity decision stays with the review
    for step in (
        lambda uow: live.send_message(uow, aid, "hello"),
        lambda uow: live.add_time(uow, aid, 5, "late"),
        lambda uow: live.pause(uow, aid, "late"),
        lambda uow: live.end(uow, aid, "again"),
    ):
        with _uow(db, tenant) as uow, pytest.raises(live.NotRunning):
            step(uow)
    beat = client.post(f"/take/{token}/api/heartbeat", json={})
    assert beat.json()["status"] == "submitted"


def test_a_room_check_takes_one_clip_for_the_check_asked(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings, proctoring_preset="standard")
    with _uow(db, tenant) as uow:
        asked = live.request_room_check(uow, aid, "show the desk, please").id
    with _uow(db, tenant) as uow, pytest.raises(Conflict):
        live.request_room_check(uow, aid, "twice")
    view = client.get(f"/take/{token}/api/live").json()
    assert view["room_check"]["id"] == str(asked)
    webm = factories.webm(4000)
    url = f"/take/{token}/api/evidence/room_check"
    headers = {"content-type": "video/webm"}
    assert client.post(url, content=webm, headers=headers).status_code == 422  # no check named
    wrong = client.post(f"{url}?check={uuid.uuid4()}", content=webm, headers=headers)
    assert wrong.status_code == 409
    r = client.post(f"{url}?check={asked}", content=webm, headers=headers)
    assert r.status_code == 201, r.text
    assert client.post(f"{url}?check={asked}", content=webm, headers=headers).status_code == 409
    assert client.get(f"/take/{token}/api/live").json()["room_check"] is None
    with db.unit_of_work(tenant) as uow:
        (tile,) = live_view.tiles(uow, attempt_ids=[aid])
    assert tile["room_check"]["clip_at"] is not None
    assert tile["camera"] is True


def test_a_room_check_needs_consent_to_the_camera(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, *_ = _sitting(app, db, settings, proctoring_preset="practice")
    with _uow(db, tenant) as uow:
        consented = attempts.consented_captures(uow, _attempt(db, tenant, aid))
    if "camera" in consented:
        pytest.skip("the practice preset uses the camera")
    with _uow(db, tenant) as uow, pytest.raises(Invalid):
        live.request_room_check(uow, aid, "show the room")


def test_another_address_or_browser_is_written_down(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    url = f"/take/{token}/api/heartbeat"
    assert client.post(url, json={}, headers={"user-agent": "Browser A"}).status_code == 200
    assert client.post(url, json={}, headers={"user-agent": "Browser A"}).status_code == 200
    assert client.post(url, json={}, headers={"user-agent": "Browser B"}).status_code == 200
    with db.unit_of_work(tenant) as uow:
        changes = uow.scalars(select(AttemptClientChange))
        (tile,) = live_view.tiles(uow, attempt_ids=[aid])
    assert [c.user_agent for c in changes] == ["Browser B"]
    assert tile["clients"]["changes"] == 1 and tile["clients"]["latest"]["browser"] == "Browser B"


def test_tiles_show_attempts_in_progress_and_those_that_ended_since(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, state = _sitting(app, db, settings)
    r = client.post(f"/take/{token}/api/answers", json={"items": [item(4, "a", 1)]})
    assert r.status_code == 200
    with db.unit_of_work(tenant) as uow:
        (tile,) = live_view.tiles(uow)
    assert tile["id"] == str(aid) and tile["status"] == "in_progress"
    assert tile["answered"] == 1 and tile["questions"] == len(state["questions"])
    assert tile["offline"] is False and tile["deadline"] is not None
    cut = datetime.now(UTC)
    with _uow(db, tenant) as uow:
        live.end(uow, aid, "done")
    with db.unit_of_work(tenant) as uow:
        assert live_view.tiles(uow) == []
        (ended,) = live_view.tiles(uow, ended_since=cut)
        assert ended["status"] == "submitted" and ended["submit_reason"] == "proctor"
    other = uuid.uuid4()
    with db.unit_of_work(other) as uow:  # another tenant sees none of it
        assert live_view.tiles(uow, attempt_ids=[aid], ended_since=cut) == []


def _committed(settings: Settings, database: Database) -> tuple[FastAPI, Any, str, Any]:
    """An app on the unbound database: its writes commit, so NOTIFY is sent."""
    app = create_app(settings, database, run_jobs=False)
    made, token = invited(database, settings, time_limit_minutes=30)  # type: ignore[arg-type]
    client, state = begun(app, token)
    return app, made, token, (client, uuid.UUID(state["attempt_id"]))


def test_signals_reach_every_process_and_only_their_tenant(
    settings: Settings, database: Database
) -> None:
    _, made, token, (client, aid) = _committed(settings, database)
    tenant = made.invitation.tenant_id
    dsn = libpq(database.urls.app)

    async def scenario() -> tuple[set[uuid.UUID], set[uuid.UUID], set[uuid.UUID], bool]:
        one, two = Broker(dsn), Broker(dsn)  # two server processes
        mine = one.subscribe(tenant)
        theirs = two.subscribe(tenant, aid)
        stranger = one.subscribe(uuid.uuid4())
        await asyncio.wait_for(one.listening.wait(), 10)
        await asyncio.wait_for(two.listening.wait(), 10)

        def write() -> None:
            r = client.post(f"/take/{token}/api/answers", json={"items": [item(4, "z", 1)]})
            assert r.status_code == 200, r.text

        await asyncio.to_thread(write)
        assert await mine.wait(2.0) and await theirs.wait(2.0)
        quiet = await stranger.wait(0.5)
        result = mine.take()[0], theirs.take()[0], stranger.take()[0], quiet
        await one.close()
        await two.close()
        return result

    a, b, c, quiet = asyncio.run(scenario())
    assert a == {aid} and b == {aid} and c == set() and not quiet


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    name = ""
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            yield name, json.loads(line.split(":", 1)[1])


def test_the_console_stream_shows_a_change_within_two_seconds_and_only_its_tenant(
    settings: Settings, database: Database
) -> None:
    app, made, token, (candidate, aid) = _committed(settings, database)
    tenant = made.invitation.tenant_id
    slug = _slug(database, tenant)
    proctor = make_user(database, tenant, ["proctor_reviewer"])
    grader = make_user(database, tenant, ["grader"])
    other = make_tenant(database, settings)
    stranger = make_user(database, other.id, ["tenant_admin"])
    with running(app) as base:
        with httpx.Client(base_url=base, timeout=10) as refused:
            assert page_sign_in(refused, slug, grader.email).status_code == 303
            r = refused.get("/proctoring/live/stream", headers={"accept": "text/event-stream"})
            assert r.status_code == 403
        with httpx.Client(base_url=base, timeout=10) as outsider:
            assert page_sign_in(outsider, other.slug, stranger.email).status_code == 303
            with outsider.stream("GET", "/proctoring/live/stream", headers=SSE) as r:
                assert r.status_code == 200
                name, first = next(_events(r.iter_lines()))
                assert name == "snapshot" and first["attempts"] == []
        with httpx.Client(base_url=base, timeout=10) as web:
            assert page_sign_in(web, slug, proctor.email).status_code == 303
            with web.stream("GET", "/proctoring/live/stream", headers=SSE) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                events = _events(r.iter_lines())
                name, first = next(events)
                assert name == "snapshot" and [t["id"] for t in first["attempts"]] == [str(aid)]
                assert first["attempts"][0]["answered"] == 0
                sent = time.monotonic()
                answer = candidate.post(
                    f"/take/{token}/api/answers", json={"items": [item(4, "Berlin", 1)]}
                )
                assert answer.status_code == 200
                name, changed = next(events)
                lag = time.monotonic() - sent
                assert name == "attempts" and changed["attempts"][0]["answered"] == 1
                assert lag < 2.0, f"the console heard of it after {lag:.2f}s"


def _sse(lines: Iterator[str]) -> Iterator[tuple[str, str, str]]:
    """(event, id, data) of each event with data."""
    name = ident = ""
    for line in lines:
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("id:"):
            ident = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            yield name, ident, line.split(":", 1)[1].strip()


def test_the_consoles_of_an_organisation_share_one_read_of_a_change(
    settings: Settings, database: Database
) -> None:
    app, made, token, (candidate, aid) = _committed(settings, database)
    tenant = made.invitation.tenant_id
    slug = _slug(database, tenant)
    proctors = [make_user(database, tenant, ["proctor_reviewer"]) for _ in range(2)]
    with running(app) as base:
        clients = [httpx.Client(base_url=base, timeout=10) for _ in proctors]
        try:
            for client, proctor in zip(clients, proctors, strict=True):
                assert page_sign_in(client, slug, proctor.email).status_code == 303
            with (
                clients[0].stream("GET", "/proctoring/live/stream", headers=SSE) as one,
                clients[1].stream("GET", "/proctoring/live/stream", headers=SSE) as two,
            ):
                streams = [_sse(one.iter_lines()), _sse(two.iter_lines())]
                assert [next(s)[0] for s in streams] == ["snapshot", "snapshot"]
                assert len(app.state.live_feeds) == 1  # one feed, one subscription
                answer = candidate.post(
                    f"/take/{token}/api/answers", json={"items": [item(4, "Berlin", 1)]}
                )
                assert answer.status_code == 200
                first, second = (next(s) for s in streams)
                (tile,) = json.loads(first[2])["attempts"]
                assert first[0] == "attempts" and tile["id"] == str(aid) and tile["answered"] == 1
                assert first == second  # the same read, the same event id and body
        finally:
            for client in clients:
                client.close()


def test_a_shared_update_hides_pictures_from_a_console_without_evidence_view() -> None:
    from invigil.proctoring import live_pages

    def shown(encoded: bytes) -> Any:
        ((name, _, data),) = _sse(iter(encoded.decode().splitlines()))
        assert name == "attempts"
        return json.loads(data)["attempts"][0]["snapshot"]["url"]

    tile = {"id": "a", "snapshot": {"id": "s", "url": "/proctoring/live/snapshots/s"}}
    update = live_pages.Update("attempts", [tile], datetime.now(UTC))
    assert shown(update.event(False)) is None
    assert shown(update.event(True)) == "/proctoring/live/snapshots/s"
    assert update.event(True) is update.event(True)  # encoded once for every console
    assert tile["snapshot"]["url"] == "/proctoring/live/snapshots/s"  # shared, untouched
    member = live_pages.Member()
    for _ in range(live_pages.MAX_PENDING + 1):  # a console that stopped reading
        member.push(update)
    (folded,) = member.take()  # one event with the latest tile of each attempt
    assert shown(folded.event(False)) is None  # folded, still hidden from it
    assert tile["snapshot"]["url"] == "/proctoring/live/snapshots/s"


def _slug(database: Database, tenant: uuid.UUID) -> str:
    with database.unit_of_work(tenant) as uow:
        return str(
            uow.session.execute(
                text("SELECT slug FROM tenants WHERE id = :t"), {"t": tenant}
            ).scalar_one()
        )


def test_a_rolled_back_change_signals_nothing(database: Database, settings: Settings) -> None:
    dsn = libpq(database.urls.app)
    tenant, attempt = uuid.uuid4(), uuid.uuid4()

    async def scenario() -> bool:
        broker = Broker(dsn)
        sub = broker.subscribe(tenant)
        await asyncio.wait_for(broker.listening.wait(), 10)

        def write() -> None:
            with pytest.raises(RuntimeError), database.unit_of_work(tenant) as uow:
                signals.attempt_changed(uow, attempt)
                raise RuntimeError("rolled back")

        await asyncio.to_thread(write)
        heard = await sub.wait(1.0)
        await broker.close()
        return heard

    assert asyncio.run(scenario()) is False


@pytest.fixture
def rogue(urls: DatabaseUrls) -> Iterator[Any]:
    """The owner gone rogue: triggers off for its session, committed."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    yield engine
    engine.dispose()


def test_interventions_are_written_once_and_audit_verify_names_a_changed_one(
    settings: Settings,
    database: Database,
    rogue: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    keys = Keys(tmp_path_factory.mktemp("live-keys"))
    _, made, _, (_, aid) = _committed(settings, database)
    tenant = made.invitation.tenant_id
    with _uow(database, tenant) as uow:
        live.add_time(uow, aid, 5, "a fire alarm")
        row_id = live.send_message(uow, aid, "You have five more minutes.").id
    with pytest.raises(DBAPIError), database.unit_of_work(tenant) as uow:
        uow.session.execute(text("UPDATE live_interventions SET seconds = 3600"))
    with database.unit_of_work(tenant) as uow:
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
        assert report.ok and report.records is not None and report.records.records >= 2
    with rogue.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(
            text(
                "UPDATE live_interventions SET seconds = 3600 WHERE tenant_id = :t AND kind = 'time'"
            ),
            {"t": tenant},
        )
    with database.unit_of_work(tenant) as uow:
        report = audit_service.verify_tenant(uow, keys.audit, _sources())
        assert uow.get(LiveIntervention, row_id) is not None
    assert not report.ok and report.records is not None
    bad = report.records.first_bad
    assert bad is not None and bad["kind"] == live.KIND


def test_the_evidence_bundle_carries_the_interventions_and_verifies_offline(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    with _uow(db, tenant) as uow:
        mid = live.send_message(uow, aid, "Please look at the screen.").id
    assert client.post(f"/take/{token}/api/live/messages/{mid}/ack").status_code == 200
    with _uow(db, tenant) as uow:
        live.add_time(uow, aid, 3, "a power cut")
        live.end(uow, aid, "the candidate asked to stop")
    data = bundles.build(db, Services.build(settings), tenant, aid)
    summary = verify(io.BytesIO(data))
    assert summary.ok, summary.failures
    found = bundles.members(data)
    docs = [json.loads(v) for k, v in found.items() if k.startswith("records/interventions/")]
    assert sorted(d["kind"] for d in docs) == ["ack", "end", "message", "time"]
    assert all("text" not in d for d in docs)  # the words stay out; their hash is in
    tampered = next(k for k in found if k.startswith("records/interventions/"))
    doc = json.loads(found[tampered])
    doc["seconds"] = 999
    forged = bundles.rezip(data, {tampered: bundles.canonical(doc)})
    assert not verify(io.BytesIO(forged)).ok


def test_a_client_that_does_not_follow_gets_the_picture_once(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """Only an EventSource (Accept: text/event-stream) is kept open."""
    tenant, aid, client, token, _ = _sitting(app, db, settings)
    once = client.get(f"/take/{token}/api/live/stream")
    assert once.status_code == 200 and once.headers["content-type"].startswith("text/event-stream")
    assert list(_events(iter(once.text.splitlines()))) == [
        ("live", {"live_seq": 0, "status": "in_progress"})
    ]
    staff, _ = web_client(app, db, tenant, ["proctor_reviewer"])
    picture = staff.get("/proctoring/live/stream")
    assert picture.status_code == 200
    ((name, body),) = list(_events(iter(picture.text.splitlines())))
    assert name == "snapshot" and [t["id"] for t in body["attempts"]] == [str(aid)]
    assert body["attempts"][0]["snapshot"] is None or "url" in body["attempts"][0]["snapshot"]
    assert staff.get(f"/proctoring/live/stream?exam={uuid.uuid4()}").status_code == 404
    assert staff.get("/proctoring/live/stream?exam=not-an-id").status_code == 404


def test_an_exam_that_names_its_proctors_is_watched_by_them_only(
    app: FastAPI, client: Any, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, *_ = _sitting(app, db, settings)
    exam_id = _attempt(db, tenant, aid).exam_id
    named = make_user(db, tenant, ["proctor_reviewer"])
    other = make_user(db, tenant, ["proctor_reviewer"])
    admin = make_user(db, tenant, ["tenant_admin"])
    grader = make_user(db, tenant, ["grader"])
    as_admin = bearer(app, db, admin)
    r = client.put(
        f"/api/v1/exams/{exam_id}/live-proctors",
        json={"user_ids": [str(grader.id)]},
        headers=as_admin,
    )
    assert r.status_code == 422 and "proctor:live" in r.json()["detail"]
    r = client.put(
        f"/api/v1/exams/{exam_id}/live-proctors",
        json={"user_ids": [str(named.id)]},
        headers=as_admin,
    )
    assert r.status_code == 200 and [u["id"] for u in r.json()["items"]] == [str(named.id)]

    def sees(user: Any) -> list[str]:
        got = client.get("/api/v1/live/attempts", headers=bearer(app, db, user))
        assert got.status_code == 200, got.text
        return [t["id"] for t in got.json()["items"]]

    assert sees(named) == [str(aid)] and sees(admin) == [str(aid)] and sees(other) == []
    step = f"/api/v1/attempts/{aid}/live/messages"
    refused = client.post(step, json={"text": "hi"}, headers=bearer(app, db, other))
    missing = client.post(
        f"/api/v1/attempts/{uuid.uuid4()}/live/messages",
        json={"text": "hi"},
        headers=bearer(app, db, other),
    )
    assert refused.status_code == missing.status_code == 404
    taken = client.post(step, json={"text": "hi"}, headers=bearer(app, db, named))
    assert taken.status_code == 201, taken.text
    assert taken.json()["attempt"]["messages"][0]["text"] == "hi"
    r = client.put(
        f"/api/v1/exams/{exam_id}/live-proctors", json={"user_ids": []}, headers=as_admin
    )
    assert r.json()["everyone"] is True and sees(other) == [str(aid)]
    with db.unit_of_work(tenant) as uow:
        actions = list(
            uow.scalars(
                select(AuditEvent.action).where(AuditEvent.action == "exam.live_proctors_set")
            )
        )
    assert len(actions) == 2


def test_the_proctors_page_names_and_unnames(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant, aid, *_ = _sitting(app, db, settings)
    exam_id = _attempt(db, tenant, aid).exam_id
    proctor = make_user(db, tenant, ["proctor_reviewer"])
    staff, csrf = web_client(app, db, tenant, ["tenant_admin"])
    url = f"/proctoring/live/exams/{exam_id}/proctors"
    page = staff.get(url)
    assert page.status_code == 200 and proctor.email in page.text
    r = staff.post(url, data={"csrf": csrf, "user_ids": [str(proctor.id)]})
    assert r.status_code == 303
    with db.unit_of_work(tenant) as uow:
        assert live.proctors_of(uow, exam_id) == [proctor.id]
    bad = staff.post(url, data={"csrf": csrf, "user_ids": ["not-an-id"]})
    assert bad.status_code == 422 and "not valid" in bad.text
    assert staff.post(url, data={"csrf": csrf}).status_code == 303
    with db.unit_of_work(tenant) as uow:
        assert live.proctors_of(uow, exam_id) == []


def test_the_shared_feed_leaves_out_what_a_proctor_may_not_watch(
    settings: Settings, database: Database
) -> None:
    app, made, token, (candidate, aid) = _committed(settings, database)
    tenant = made.invitation.tenant_id
    slug = _slug(database, tenant)
    named = make_user(database, tenant, ["proctor_reviewer"])
    other = make_user(database, tenant, ["proctor_reviewer"])
    with database.unit_of_work(tenant, Actor.system("test")) as uow:
        exam_id = uow.scalar(select(Attempt.exam_id).where(Attempt.id == aid))
        assert exam_id is not None
        live.set_proctors(uow, exam_id, [named.id])
    with (
        running(app) as base,
        httpx.Client(base_url=base, timeout=10) as a,
        httpx.Client(base_url=base, timeout=10) as b,
    ):
        assert page_sign_in(a, slug, named.email).status_code == 303
        assert page_sign_in(b, slug, other.email).status_code == 303
        with (
            a.stream("GET", "/proctoring/live/stream", headers=SSE) as ra,
            b.stream("GET", "/proctoring/live/stream", headers=SSE) as rb,
        ):
            seen_a, seen_b = _events(ra.iter_lines()), _events(rb.iter_lines())
            _, first_a = next(seen_a)
            _, first_b = next(seen_b)
            assert [t["id"] for t in first_a["attempts"]] == [str(aid)]
            assert first_b["attempts"] == []
            answer = candidate.post(
                f"/take/{token}/api/answers", json={"items": [item(4, "Bonn", 1)]}
            )
            assert answer.status_code == 200
            name, changed = next(seen_a)
            assert name == "attempts" and changed["attempts"][0]["answered"] == 1
    with database.unit_of_work(tenant, Actor.system("test")) as uow:
        live.set_proctors(uow, exam_id, [])


def test_a_slow_console_gets_the_latest_tile_of_each_attempt_and_nothing_is_lost() -> None:
    from invigil.proctoring.live_pages import MAX_PENDING, Member, Update

    def update(name: str, *tiles: tuple[str, int]) -> Update:
        return Update(name, [{"id": a, "answered": n} for a, n in tiles], datetime.now(UTC))

    member = Member()
    member.push(update("attempts", ("a", 1), ("b", 1)))
    (one,) = member.take()  # one waiting: sent as it is
    assert [t["answered"] for t in one.tiles] == [1, 1]
    for n in range(2, 2 + 3 * MAX_PENDING):  # a console that does not read for a while
        member.push(update("attempts", ("a", n)))
        member.push(update("attempts", ("c", n)))
        assert len(member.pending) <= MAX_PENDING + 1  # what it holds stays bounded
    member.push(update("attempts", ("b", 7)))
    (folded,) = member.take()
    last = 1 + 3 * MAX_PENDING
    assert folded.name == "attempts"
    assert [(t["id"], t["answered"]) for t in folded.tiles] == [("a", last), ("c", last), ("b", 7)]
    assert member.take() == []

    member.push(update("attempts", ("a", 90)))
    member.push(update("snapshot", ("a", 91), ("d", 1)))  # the whole picture, read again
    member.push(update("attempts", ("d", 2)))
    (picture,) = member.take()
    assert picture.name == "snapshot"
    assert [(t["id"], t["answered"]) for t in picture.tiles] == [("a", 91), ("d", 2)]
