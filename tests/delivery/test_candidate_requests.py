"""A candidate's saves, heartbeats and events: one statement serves the plain case
(``candidate.heard``), the general path everything else. Both must answer and
store exactly the same; the candidate is checked before the body."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.delivery import attempts, candidate, invitations
from invigil.delivery.models import Attempt, AttemptAnswer, Invitation
from invigil.proctoring import events_api, pipeline
from invigil.proctoring.models import ProctoringAction, ProctoringEvent
from invigil.settings import Settings
from tests.conftest import BoundDatabase
from tests.delivery.factories import kit_for, token_of
from tests.delivery.test_attempts import begun, browser, invited, item, start


def _attempt(db: Database, tenant_id: uuid.UUID, attempt_id: str) -> Attempt:
    with db.unit_of_work(tenant_id) as uow:
        return uow.get(Attempt, uuid.UUID(attempt_id))


def _move_deadline(db: Database, tenant_id: uuid.UUID, attempt_id: str, ago: int) -> None:
    with db.unit_of_work(tenant_id) as uow:
        uow.get(Attempt, uuid.UUID(attempt_id)).deadline = datetime.now(UTC) - timedelta(
            seconds=ago
        )


def _journey(app: FastAPI, db: BoundDatabase, settings: Settings) -> tuple[list[Any], Any]:
    """Saves and heartbeats of every kind of outcome; what the browser was
    told (without the clock's times) and what the database holds after."""
    made, token = invited(db, settings, time_limit_minutes=10, offline_grace_seconds=120)
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    api = f"/take/{token}/api"
    earlier = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    steps: list[tuple[str, dict[str, Any]]] = [
        ("heartbeat", {"position": 2}),
        ("answers", {"items": [item(0, 1, 1), item(2, True, 2, flagged=True, time_ms=700)]}),
        ("answers", {"items": [item(0, 1, 1)]}),  # duplicate
        ("answers", {"items": [item(0, 2, 5), item(3, "2", 4), item(3, "3.5", 3)]}),
        ("answers", {"items": [item(0, 0, 4)]}),  # stale
        ("answers", {"items": [item(42, 1, 6), item(1, [0, 0], 7)]}),  # rejected
        ("heartbeat", {"position": 99}),  # off the paper: kept where it was
        ("heartbeat", {}),
        ("deadline", {}),
        ("answers", {"items": [item(4, "x", 8), item(5, "late", 9, offline=True)]}),
        ("answers", {"items": [item(6, [2, 1, 0], 10, offline=True, client_time=earlier)]}),
        ("heartbeat", {"position": 1}),
    ]
    told = []
    for path, body in steps:
        if path == "deadline":
            _move_deadline(db, tid, aid, ago=30)
            continue
        r = client.post(f"{api}/{path}", json=body)
        assert r.status_code == 200, r.text
        told.append({k: v for k, v in r.json().items() if k not in ("server_time", "deadline")})
    a = _attempt(db, tid, aid)
    with db.unit_of_work(tid) as uow:
        rows = uow.scalars(select(AttemptAnswer).where(AttemptAnswer.attempt_id == a.id))
        answers = sorted(
            (r.slot, r.response, r.seq, r.flagged, r.time_ms, r.late, r.client_time is None)
            for r in rows
        )
    return told, (a.last_seq, a.position, a.status, a.silent_seq, answers)


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[bool]:
    """Whether each call of ``candidate.<name>`` (the one statement) served."""
    served: list[bool] = []
    real = getattr(candidate, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        served.append(found is not None)
        return found

    monkeypatch.setattr(candidate, name, spy)
    return served


def test_the_one_statement_answers_and_stores_as_the_general_path(
    app: FastAPI, db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = _spy(monkeypatch, "heard")
    fast = _journey(app, db, settings)
    assert heard and all(heard)  # every step took the one statement
    monkeypatch.setattr(candidate, "heard", lambda *args, **kwargs: None)
    general = _journey(app, db, settings)
    assert fast == general
    told, (last_seq, position, *_) = fast
    assert [x["status"] for x in told[4]["results"]] == ["stale"]
    assert [x["status"] for x in told[8]["results"]] == ["rejected", "rejected"]
    assert [x["status"] for x in told[9]["results"]] == ["late"]
    assert last_seq == 10 and position == 1


def test_a_heartbeat_keeps_the_position_and_says_the_browser_is_there(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    before = datetime.now(UTC)
    beat = client.post(f"/take/{token}/api/heartbeat", json={"position": 3})
    assert beat.json()["status"] == "in_progress" and beat.json()["warnings"] == []
    a = _attempt(db, tid, aid)
    assert a.position == 3 and a.last_seen_at is not None and a.last_seen_at >= before
    client.post(f"/take/{token}/api/heartbeat", json={"position": 8})  # 8 questions: 0-7
    assert _attempt(db, tid, aid).position == 3


def test_a_browser_heard_again_ends_its_silence(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    a_id = uuid.UUID(aid)
    for path, body in (("heartbeat", {}), ("answers", {"items": [item(0, 1, 1)]})):
        with db.unit_of_work(tid) as uow:
            uow.get(Attempt, uuid.UUID(aid)).last_seen_at = datetime.now(UTC) - timedelta(
                minutes=10
            )
        assert pipeline.notice_silence(db) >= 1
        assert _attempt(db, tid, aid).silent_seq is not None
        assert client.post(f"/take/{token}/api/{path}", json=body).status_code == 200
        assert _attempt(db, tid, aid).silent_seq is None
    with db.unit_of_work(tid) as uow:
        events = uow.scalars(select(ProctoringEvent).order_by(ProctoringEvent.seq.desc()))
        silence = [("client.silent", "start"), ("client.silent", "end")]
        assert [(e.kind, e.phase) for e in events if e.attempt_id == a_id] == silence * 2


def test_only_the_cookie_named_for_the_invitation_binds(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    owner, state = begun(app, token)
    name = attempts.cookie_name(made.invitation.id)
    secret = owner.cookies[name]
    # The right secret under another invitation's cookie name opens nothing.
    stray = browser(app)
    stray.cookies.set(attempts.cookie_name(uuid.uuid4()), secret)
    save = stray.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 1)]})
    beat = stray.post(f"/take/{token}/api/heartbeat", json={"position": 2})
    assert save.status_code == beat.status_code == 401
    a = _attempt(db, made.invitation.tenant_id, state["attempt_id"])
    assert a.last_seq == 0 and a.position == 0  # and nothing was written
    forged = browser(app)
    forged.cookies.set(name, "ab.forged.value")
    r = forged.post(f"/take/{token}/api/heartbeat", json={})
    assert r.status_code == 409 and r.json()["type"].endswith(":in-progress-elsewhere")
    # A browser holding several invitations' cookies is fine.
    _, other_token = invited(db, settings)
    assert start(owner, other_token).status_code == 303
    assert len([c for c in owner.cookies if c.startswith(attempts.COOKIE_PREFIX)]) == 2
    ok = owner.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 1)]})
    assert ok.json()["results"] == [{"seq": 1, "status": "saved"}]


@pytest.mark.parametrize("path", ["answers", "heartbeat", "events", "submit"])
def test_the_candidate_is_checked_before_the_body(
    app: FastAPI, db: BoundDatabase, settings: Settings, path: str
) -> None:
    _, token = invited(db, settings)
    owner, _ = begun(app, token)
    url = f"/take/{token}/api/{path}"
    bad = {"items": "nope", "position": -1}
    assert browser(app).post(url, json=bad).status_code == 401
    refused = owner.post(url, json=bad)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["location"][0] == "body"
    missing = owner.post(url)
    assert missing.status_code == 422 and missing.json()["errors"][0]["location"] == ["body"]
    form = owner.post(url, content=b"items=1", headers={"content-type": "text/plain"})
    assert form.status_code == 422


def test_a_submitted_attempt_takes_no_more_answers(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    _, token = invited(db, settings)
    client, _ = begun(app, token)
    assert client.post(f"/take/{token}/api/submit", json={}).status_code == 200
    late = client.post(f"/take/{token}/api/answers", json={"items": [item(0, 1, 1)]})
    assert late.status_code == 409 and late.json()["type"].endswith(":attempt-closed")
    assert client.post(f"/take/{token}/api/heartbeat", json={}).json()["status"] == "submitted"


def test_a_rotated_or_revoked_link_stops_saves_and_heartbeats_at_once(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)
    client, _ = begun(app, token)
    tid = made.invitation.tenant_id
    with db.unit_of_work(tid) as uow:
        rotated = invitations.rotate(uow, kit_for(settings), made.invitation.id, send_mail=False)
    new_token = token_of(rotated)
    unknown = client.post("/take/gl.00000000000000000000000000000000.nothing/api/heartbeat")
    for path, body in (("answers", {"items": [item(0, 1, 1)]}), ("heartbeat", {})):
        old = client.post(f"/take/{token}/api/{path}", json=body)
        assert old.status_code == 404 and old.json()["detail"] == unknown.json()["detail"]
        # The binding survives the rotation: the same browser goes on with the new link.
        assert client.post(f"/take/{new_token}/api/{path}", json=body).status_code == 200
    with db.unit_of_work(tid) as uow:
        # What links.resolve() reads as revoked, even with the link still live
        # (invitations.revoke also ends the link).
        revoked = uow.get(Invitation, made.invitation.id)
        revoked.status, revoked.revoked_at = "revoked", datetime.now(UTC)
    for path, body in (("answers", {"items": [item(0, 1, 2)]}), ("heartbeat", {})):
        assert client.post(f"/take/{new_token}/api/{path}", json=body).status_code == 404


def _journey_policy() -> dict[str, Any]:
    from tests.proctoring.test_pipeline import custom, rule

    return custom(
        rule("copy", "clipboard.copy", "warn"),
        rule("tabs", "tab.hidden", "flag", count=2, window_seconds=600),
        rule("tools", "devtools.open", "auto_submit", severity="critical"),
    )


def _journey_batches(attempt_id: str) -> list[list[dict[str, Any]]]:
    """Event batches of every outcome under :func:`_journey_policy`, which
    warns, flags and ends the attempt."""
    from tests.proctoring.test_pipeline import Chain

    chain, now = Chain(attempt_id), datetime.now(UTC)
    a = chain.message("clipboard.copy", "instant", now, chars=3)
    b = chain.message("tab.hidden", "start", now)
    c = chain.message("tab.hidden", "end", now + timedelta(seconds=2), ends=2)
    d = chain.message("tab.hidden", "start", now + timedelta(seconds=5))
    forged = dict(d, body=d["body"].replace("tab.hidden", "focus.lost"))
    e = chain.message("devtools.open", "start", now + timedelta(seconds=6), via="F12")
    rewritten = Chain(attempt_id).message("clipboard.paste", "instant", now)  # seq 1 again
    return [
        [a, b],
        [a, b],  # re-sent: duplicates
        [forged],  # rejected
        [rewritten, c, forged],  # a conflict (audited), c stored, the top one rejected
        [c, d],  # c a duplicate now; the second tab.hidden: flagged
        [e],  # ends the attempt
    ]


def _events_stored(db: Database, tid: uuid.UUID, aid: str) -> tuple[Any, ...]:
    """What the database holds for an attempt: the attempt's row, its events,
    actions and audit trail."""
    with db.unit_of_work(tid) as uow:
        a_id = uuid.UUID(aid)
        stored = uow.session.execute(
            select(ProctoringEvent.seq, ProctoringEvent.kind, ProctoringEvent.linked)
            .where(ProctoringEvent.attempt_id == a_id)
            .order_by(ProctoringEvent.seq)
        ).all()
        acted = uow.session.execute(
            select(ProctoringAction.rule_id, ProctoringAction.episode_seq)
            .where(ProctoringAction.attempt_id == a_id)
            .order_by(ProctoringAction.rule_id, ProctoringAction.episode_seq)
        ).all()
        trail = uow.session.execute(
            select(AuditEvent.action, AuditEvent.actor_kind, AuditEvent.actor_id)
            .where(AuditEvent.subject_id == aid)
            .order_by(AuditEvent.seq)
        ).all()
        at = uow.get(Attempt, a_id)
        row = (at.status, at.submit_reason, at.integrity, at.events_last_seq, at.events_head)
        by = str(at.candidate_id)
    # Who did what, without the candidate's own id (each run has its own).
    trail = [(action, kind, "me" if who == by else who) for action, kind, who in trail]
    return row, stored, acted, trail


def _events_journey(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> tuple[list[Any], tuple[Any, ...]]:
    """The batches of :func:`_journey_batches` and then one after the end;
    what the browser was told (without times) and what the database holds."""
    made, token = invited(db, settings, proctoring_policy=_journey_policy())
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    batches = _journey_batches(aid)
    told = []
    for events in batches:
        r = client.post(f"/take/{token}/api/events", json={"events": events})
        assert r.status_code == 200, r.text
        told.append({k: v for k, v in r.json().items() if k not in ("server_time", "deadline")})
    c = batches[4][0]
    assert told[3]["head"] == c["hash"]  # the top message was rejected: c is the head
    late = client.post(f"/take/{token}/api/events", json={"events": batches[0][:1]})
    told.append({"late": late.status_code, "type": late.json()["type"]})
    return told, _events_stored(db, tid, aid)


def _spy_events(monkeypatch: pytest.MonkeyPatch) -> list[list[bool]]:
    """For each call of ``events_api.heard_events`` (one statement for a group
    of browsers' batches), whether it served each ask."""
    served: list[list[bool]] = []
    real = events_api.heard_events

    def spy(uow: Any, asks: Any, **kwargs: Any) -> Any:
        found = real(uow, asks, **kwargs)
        served.append([h is not None for h in found])
        return found

    monkeypatch.setattr(events_api, "heard_events", spy)
    return served


def test_events_take_the_one_statement_and_answer_as_the_general_path(
    app: FastAPI, db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = _spy_events(monkeypatch)
    fast = _events_journey(app, db, settings)
    # One browser: groups of one; the submitted attempt goes the general way.
    assert heard == [[True]] * 6 + [[False]]
    monkeypatch.setattr(events_api, "heard_events", lambda uow, asks, **kw: [None] * len(asks))
    general = _events_journey(app, db, settings)
    told, (row, stored, acted, trail) = fast
    # Each run has its own attempt, so its own chain hashes; the rest is equal.
    assert [{k: v for k, v in t.items() if k != "head"} for t in told] == [
        {k: v for k, v in t.items() if k != "head"} for t in general[0]
    ]
    assert (row[:4], stored, acted, trail) == (general[1][0][:4], *general[1][1:])
    assert [w["rule"] for w in told[0]["warnings"]] == ["copy"]
    assert [x["status"] for x in told[1]["results"]] == ["duplicate", "duplicate"]
    assert [x["status"] for x in told[2]["results"]] == ["rejected"]
    assert [x["status"] for x in told[3]["results"]] == ["conflict", "stored", "rejected"]
    assert [x["status"] for x in told[4]["results"]] == ["duplicate", "stored"]
    assert told[4]["last_seq"] == 4 and told[3]["last_seq"] == 3
    assert told[5]["status"] == "submitted" and told[6]["late"] == 409
    assert row[:3] == ("submitted", "proctoring", "flagged")
    assert acted == [("copy", 1), ("tabs", 4), ("tools", 5)]
    # The actions' entries come before the submission they led to; all by the candidate.
    actions = [action for action, *_ in trail]
    assert actions.count("proctoring.conflict") == 1
    assert actions.index("attempt.submitted") > max(
        i for i, action in enumerate(actions) if action == "proctoring.action"
    )
    assert {(kind, who) for _, kind, who in trail} == {("candidate", "me")}


def test_candidates_requests_take_turns_in_a_narrow_lane(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At most ``candidate_concurrency`` candidates' requests run at once in a
    process; the others wait their turn in the event loop and are all answered."""
    import asyncio
    import threading
    import time

    import httpx

    from invigil.app import create_app

    app = create_app(settings.model_copy(update={"candidate_concurrency": 2}), database,
                     run_jobs=False)  # fmt: skip
    browsers = []
    for _ in range(3):
        _, token = invited(database, settings)  # type: ignore[arg-type]  # committed
        client, _ = begun(app, token)
        browsers.append((token, dict(client.cookies)))
    running, peak, guard = 0, 0, threading.Lock()
    real = candidate.heard

    def slow(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak
        with guard:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                running -= 1

    monkeypatch.setattr(candidate, "heard", slow)

    async def beats() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        clients = [
            (token, httpx.AsyncClient(transport=transport, base_url="http://x", cookies=cookies))
            for token, cookies in browsers
        ]
        calls = [http.post(f"/take/{token}/api/heartbeat", json={}) for token, http in clients * 3]
        answers = await asyncio.gather(*calls)
        for _, http in clients:
            await http.aclose()
        return [r.status_code for r in answers]

    assert asyncio.run(beats()) == [200] * 9
    assert peak == 2


def _gathered_app(database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on the committed database whose events gather into one writer's
    groups, the first of which waits a moment: the batches sent meanwhile
    go together."""
    import time

    from invigil.app import create_app
    from invigil.delivery.gathering import Gathering

    app = create_app(settings, database, run_jobs=False)
    real, calls = events_api._events_together, []

    def first_waits(tenant_id: uuid.UUID, asks: list[Any]) -> list[Any]:
        calls.append(len(asks))
        if len(calls) == 1:
            time.sleep(0.3)
        return real(tenant_id, asks)

    app.state.gatherings = {real: Gathering(first_waits, anyio.Semaphore(3), writers=1)}
    app.state.group_sizes = calls
    return app


async def _together(app: Any, sends: list[tuple[str, dict[str, str], Any]]) -> list[Any]:
    """Each (token, cookies, body) posted to the events route at once; the answers."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://x", cookies=cookies)
            )
            for _, cookies, _ in sends
        ]
        first = asyncio.create_task(
            clients[0].post(f"/take/{sends[0][0]}/api/events", json=sends[0][2])
        )
        await asyncio.sleep(0.1)  # the first is being written: the others gather
        rest = asyncio.gather(
            *(
                http.post(f"/take/{token}/api/events", json=body)
                for http, (token, _, body) in zip(clients[1:], sends[1:], strict=True)
            )
        )
        return [await first, *await rest]


def test_browsers_batches_are_written_together_and_each_answered_as_alone(
    app: FastAPI,
    db: BoundDatabase,
    database: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Four candidates' batches in one transaction (one statement finds them
    all, one stores their events, one their actions, one appends their
    entries, each by its own candidate): each is told and stores exactly
    what the general path does for one alone."""
    monkeypatch.setattr(events_api, "heard_events", lambda uow, asks, **kw: [None] * len(asks))
    general = _events_journey(app, db, settings)
    monkeypatch.undo()
    heard = _spy_events(monkeypatch)
    gathered = _gathered_app(database, settings, monkeypatch)
    from tests.conftest import make_tenant
    from tests.delivery.factories import exam_with_every_type, make_invitation

    tenant = make_tenant(database, settings)
    exam = exam_with_every_type(
        database, tenant.id, settings={"proctoring_policy": _journey_policy()}
    )
    people = []
    for _ in range(4):
        token = token_of(make_invitation(database, tenant.id, kit_for(settings), exam))
        client, state = begun(gathered, token)
        people.append((tenant.id, token, dict(client.cookies), state["attempt_id"]))
    batches = {aid: _journey_batches(aid) for *_, aid in people}
    told: dict[str, list[Any]] = {aid: [] for *_, aid in people}
    for step in range(6):
        sends = [(token, cookies, {"events": batches[aid][step]})
                 for _, token, cookies, aid in people]  # fmt: skip
        for (*_, aid), r in zip(people, asyncio.run(_together(gathered, sends)), strict=True):
            assert r.status_code == 200, r.text
            told[aid].append(
                {k: v for k, v in r.json().items() if k not in ("server_time", "deadline", "head")}
            )
    assert max(gathered.state.group_sizes) == 3  # the three behind the first went together
    assert [n for sizes in heard for n in sizes] == [True] * 24
    for tid, _, _, aid in people:
        row, stored, acted, trail = _events_stored(database, tid, aid)
        assert told[aid] == [{k: v for k, v in t.items() if k != "head"} for t in general[0][:6]]
        assert (row[:4], stored, acted, trail) == (general[1][0][:4], *general[1][1:])


def test_one_browser_in_a_group_never_spoils_the_others_answers(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In one group: a plain batch, a submitted attempt's (409), a body that
    is no batch (422) and a browser holding the right secret under another
    invitation's cookie name (401, which rolls the group back): each gets its
    own answer, as alone, and the plain batch is stored once."""
    from tests.conftest import make_tenant
    from tests.delivery.factories import exam_with_every_type, make_invitation
    from tests.proctoring.test_pipeline import Chain

    gathered = _gathered_app(database, settings, monkeypatch)
    tenant = make_tenant(database, settings)
    exam = exam_with_every_type(database, tenant.id)
    people = []
    for _ in range(5):
        made = make_invitation(database, tenant.id, kit_for(settings), exam)
        client, state = begun(gathered, token_of(made))
        people.append((made, token_of(made), client, state["attempt_id"]))
    (_, first, first_client, first_aid), plain, done, odd, stray = people
    assert done[2].post(f"/take/{done[1]}/api/submit", json={}).status_code == 200
    now = datetime.now(UTC)
    wrong_name = {attempts.cookie_name(uuid.uuid4()): stray[2].cookies[
        attempts.cookie_name(stray[0].invitation.id)]}  # fmt: skip

    def batch(aid: str) -> dict[str, Any]:
        return {"events": [Chain(aid).message("clipboard.copy", "instant", now, chars=1)]}

    answers = asyncio.run(
        _together(
            gathered,
            [
                (first, dict(first_client.cookies), batch(first_aid)),
                (plain[1], dict(plain[2].cookies), batch(plain[3])),
                (done[1], dict(done[2].cookies), batch(done[3])),
                (odd[1], dict(odd[2].cookies), {"events": "none"}),
                (stray[1], wrong_name, batch(stray[3])),
            ],
        )
    )
    assert [r.status_code for r in answers] == [200, 200, 409, 422, 401]
    assert answers[1].json()["results"] == [{"seq": 1, "status": "stored"}]
    # The first alone; the next four together (rolled back), then each alone.
    assert gathered.state.group_sizes == [1, 4, 1, 1, 1, 1]
    for _, _, _, aid in (plain, stray):
        with database.unit_of_work(tenant.id) as uow:
            seqs = uow.scalars(
                select(ProctoringEvent.seq).where(ProctoringEvent.attempt_id == uuid.UUID(aid))
            )
            last = uow.get(Attempt, uuid.UUID(aid)).events_last_seq
        assert (seqs, last) == (([1], 1) if aid == plain[3] else ([], 0))


def test_a_batch_read_before_another_commit_is_answered_as_it_is(
    app: FastAPI, db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests for one attempt at once: the second's statement waits
    for the first's lock, but read the stored hashes before the first
    committed. Its insert then finds the seq taken: it is rolled back and
    taken again (the general way locks before it reads), so it says
    duplicate, not stored."""
    import dataclasses

    from tests.proctoring.test_pipeline import Chain

    made, token = invited(db, settings)
    client, state = begun(app, token)
    a = Chain(state["attempt_id"]).message("clipboard.copy", "instant", datetime.now(UTC))
    first = client.post(f"/take/{token}/api/events", json={"events": [a]})
    assert first.json()["results"] == [{"seq": 1, "status": "stored"}]
    real, served = events_api.heard_events, []

    def stale(uow: Any, asks: Any, **kwargs: Any) -> Any:
        heard = real(uow, asks, **kwargs)
        served.append(len(heard))
        return [h and (dataclasses.replace(h[0], known={}), h[1]) for h in heard]

    monkeypatch.setattr(events_api, "heard_events", stale)
    again = client.post(f"/take/{token}/api/events", json={"events": [a]})
    assert served == [1]  # the one statement was taken
    assert again.json()["results"] == [{"seq": 1, "status": "duplicate"}]
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        assert uow.scalars(select(ProctoringEvent.seq).where(
            ProctoringEvent.attempt_id == uuid.UUID(state["attempt_id"]))) == [1]  # fmt: skip


def test_batches_waiting_for_their_group_hold_no_admission_slot(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one connection (so one admission slot), batches sent while one is
    being written still gather behind it: they gave their slot back, as they
    wait with no connection of their own (admission.leave)."""
    from tests.conftest import make_tenant
    from tests.delivery.factories import exam_with_every_type, make_invitation
    from tests.proctoring.test_pipeline import Chain

    small = Database.connect(database.urls, pool_size=1, max_overflow=1)
    try:
        gathered = _gathered_app(small, settings, monkeypatch)
        tenant = make_tenant(database, settings)
        exam = exam_with_every_type(database, tenant.id)
        sends = []
        for _ in range(4):
            token = token_of(make_invitation(database, tenant.id, kit_for(settings), exam))
            client, state = begun(gathered, token)
            aid, now = state["attempt_id"], datetime.now(UTC)
            batch = {"events": [Chain(aid).message("clipboard.copy", "instant", now, chars=1)]}
            sends.append((token, dict(client.cookies), batch))
        answers = asyncio.run(_together(gathered, sends))
    finally:
        small.dispose()
    assert [r.status_code for r in answers] == [200] * 4
    assert gathered.state.group_sizes == [1, 3]
