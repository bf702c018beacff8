"""The event pipeline over HTTP, as the browser uses it: hash-chained
batches, duplicates, conflicts, gaps, the policy's actions, silence, the seal."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from invigil.audit.models import AuditEvent
from invigil.db.engine import Database
from invigil.delivery.models import Attempt
from invigil.proctoring import pipeline
from invigil.proctoring.models import ProctoringAction, ProctoringEvent
from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import attempt_factory
from tests.delivery.test_attempts import begun, invited

DETECTORS = {
    "face": True,
    "audio": True,
    "focus": True,
    "fullscreen": False,
    "devtools": True,
    "clipboard": True,
    "screen": False,
}


def rule(rule_id: str, kind: str, action: str, severity: str = "medium", **extra: Any) -> Any:
    return {
        "id": rule_id,
        "kind": kind,
        "severity": severity,
        "action": action,
        "message": f"rule {rule_id}",
    } | extra


def custom(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"name": "custom", "detectors": DETECTORS, "rules": list(rules)}


JSON = {"content-type": "application/json"}


class Chain:
    """A browser's event stream: numbered, hash-chained messages."""

    def __init__(self, attempt_id: str) -> None:
        self.prev = pipeline.genesis(uuid.UUID(attempt_id))
        self.seq = 0

    def message(
        self, kind: str, phase: str, at: datetime, ends: int | None = None, **details: Any
    ) -> dict[str, Any]:
        self.seq += 1
        body = json.dumps(
            {"kind": kind, "phase": phase, "at": at.isoformat(), "ends": ends, "details": details}
        )
        digest = hashlib.sha256((self.prev + body).encode()).hexdigest()
        out = {"seq": self.seq, "body": body, "prev": self.prev, "hash": digest}
        self.prev = digest
        return out


def send(client: TestClient, token: str, *events: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/take/{token}/api/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def statuses(answer: dict[str, Any]) -> list[str]:
    return [x["status"] for x in answer["results"]]


def setup(
    app: FastAPI, db: BoundDatabase, settings: Settings, policy: dict[str, Any], **more: Any
) -> tuple[Any, TestClient, str, Chain, dict[str, Any]]:
    made, token = invited(db, settings, proctoring_policy=policy, **more)
    client, state = begun(app, token)
    return made, client, token, Chain(state["attempt_id"]), state


def test_the_chain_stores_once_and_spots_duplicates_conflicts_and_forgeries(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, client, token, chain, state = setup(app, db, settings, custom())
    now = datetime.now(UTC)
    a = chain.message("clipboard.copy", "instant", now, question=1)
    b = chain.message("tab.hidden", "start", now)
    assert statuses(send(client, token, a, b)) == ["stored", "stored"]
    again = send(client, token, a, b)
    assert statuses(again) == ["duplicate", "duplicate"] and again["last_seq"] == 2
    assert again["head"] == b["hash"]

    forged = dict(b, body=b["body"].replace("tab.hidden", "focus.lost"))
    assert statuses(send(client, token, forged))[0] == "rejected"  # hash no longer matches
    rewritten = Chain(state["attempt_id"])
    other = rewritten.message("clipboard.paste", "instant", now)
    assert statuses(send(client, token, other)) == ["conflict"]

    bad = [
        chain.message("no.such.kind", "instant", now),
        chain.message("tab.hidden", "instant", now),  # a durable kind sent as instant
        chain.message("clipboard.copy", "start", now),
    ]
    answer = send(client, token, *bad)
    assert statuses(answer) == ["rejected"] * 3
    assert all(x["reason"] for x in answer["results"])
    tid = made.invitation.tenant_id
    with db.unit_of_work(tid) as uow:
        rows = uow.scalars(select(ProctoringEvent).order_by(ProctoringEvent.seq))
        assert [(r.seq, r.kind, r.linked) for r in rows] == [
            (1, "clipboard.copy", True),
            (2, "tab.hidden", True),
        ]
        assert rows[0].body == a["body"]  # the exact text the browser hashed
        actions = uow.scalars(select(AuditEvent.action))
        assert "proctoring.conflict" in actions
    with pytest.raises(DBAPIError, match="permission denied"), db.unit_of_work(tid) as uow:
        uow.session.execute(text("UPDATE proctoring_events SET kind = 'focus.lost'"))


def test_text_that_is_no_unicode_is_rejected_with_its_reason(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """A lone surrogate cannot be stored (PostgreSQL takes no such text). In
    a message's details (escaped, so the body itself hashes) the message is
    rejected and says why, the batch's others are stored; in a body, the
    request is refused (422) naming the message, and nothing is stored."""
    made, client, token, chain, _ = setup(app, db, settings, custom())
    now = datetime.now(UTC)
    good = chain.message("clipboard.copy", "instant", now, question=1)
    odd = chain.message("clipboard.copy", "instant", now, note="\ud800")
    assert "\\ud800" in odd["body"]  # the body is ASCII; its details are not text
    answer = send(client, token, good, odd)
    assert statuses(answer) == ["stored", "rejected"]
    assert "details must be valid Unicode text" in answer["results"][1]["reason"]

    broken = {"seq": 3, "body": '{"kind": "\ud800"}', "prev": odd["hash"], "hash": "0" * 64}
    raw = json.dumps({"events": [chain.message("context_menu", "instant", now), broken]})
    r = client.post(f"/take/{token}/api/events", content=raw, headers=JSON)
    assert r.status_code == 422 and r.json()["errors"][0]["location"][-2:] == ["1", "body"]
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        assert uow.scalars(select(ProctoringEvent.seq)) == [1]


def test_a_gap_is_kept_unlinked_and_sealed_into_the_audit_log(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, client, token, chain, _ = setup(app, db, settings, custom())
    now = datetime.now(UTC)
    first = chain.message("clipboard.copy", "instant", now)
    chain.message("clipboard.copy", "instant", now)  # never arrives
    third = chain.message("context_menu", "instant", now)
    assert statuses(send(client, token, first, third)) == ["stored", "stored"]
    client.post(f"/take/{token}/api/submit", json={})
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        linked = dict(
            (s, ok)
            for s, ok in uow.session.execute(select(ProctoringEvent.seq, ProctoringEvent.linked))
        )
        assert linked == {1: True, 3: False}
        sealed = uow.scalar(select(AuditEvent).where(AuditEvent.action == "proctoring.sealed"))
        assert sealed is not None
        assert sealed.payload["head"] == third["hash"] and sealed.payload["gaps"] == [2]
        assert sealed.payload["messages"] == 2 and sealed.payload["unlinked"] == 1
    late = client.post(
        f"/take/{token}/api/events",
        json={"events": [chain.message("context_menu", "instant", now)]},
    )
    assert late.status_code == 409


def test_the_policy_warns_flags_and_ends_the_attempt_with_audited_reasons(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    policy = custom(
        rule("tab-warn", "tab.hidden", "warn"),
        rule("tab-flag", "tab.hidden", "flag", count=2, window_seconds=600),
        rule("devtools-end", "devtools.open", "auto_submit", severity="critical"),
    )
    made, client, token, chain, _ = setup(app, db, settings, policy)
    now = datetime.now(UTC)
    one = send(client, token, chain.message("tab.hidden", "start", now))
    assert [w["rule"] for w in one["warnings"]] == ["tab-warn"]
    send(client, token, chain.message("tab.hidden", "end", now + timedelta(seconds=2), ends=1))
    two = send(client, token, chain.message("tab.hidden", "start", now + timedelta(seconds=30)))
    assert [w["rule"] for w in two["warnings"]] == ["tab-warn"]
    tid = made.invitation.tenant_id
    with db.unit_of_work(tid) as uow:
        attempt = uow.scalar(select(Attempt))
        assert attempt is not None and attempt.integrity == "flagged"
        flag = uow.scalar(select(ProctoringAction).where(ProctoringAction.rule_id == "tab-flag"))
        assert flag is not None and flag.related == [1, 3] and flag.episode_seq == 3
    end = send(
        client,
        token,
        chain.message("devtools.open", "start", now + timedelta(seconds=40), techniques=["size"]),
    )
    assert end["status"] == "submitted"
    with db.unit_of_work(tid) as uow:
        attempt = uow.scalar(select(Attempt))
        assert attempt is not None and attempt.submit_reason == "proctoring"
        entries = uow.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "proctoring.action")
            .order_by(AuditEvent.seq)
        )
        assert [e.payload["rule"] for e in entries] == [
            "tab-warn",
            "tab-warn",
            "tab-flag",
            "devtools-end",
        ]
        assert entries[2].payload["events"] == [1, 3] and entries[2].payload["explanation"]
    assert client.get(f"/take/{token}/api/state").json()["status"] == "submitted"


def test_a_condition_that_lasts_long_enough_fires_on_the_heartbeat(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    policy = custom(rule("away-long", "focus.lost", "warn", min_duration_seconds=5))
    _, client, token, chain, _ = setup(app, db, settings, policy)
    started = datetime.now(UTC) - timedelta(seconds=10)
    first = send(client, token, chain.message("focus.lost", "start", started))
    assert first["warnings"] == [] or [w["rule"] for w in first["warnings"]] == ["away-long"]
    beat = client.post(f"/take/{token}/api/heartbeat", json={}).json()
    fired = first["warnings"] + beat["warnings"]
    assert [w["rule"] for w in fired] == ["away-long"]  # once, whichever request saw it


def test_practice_only_logs(app: FastAPI, db: BoundDatabase, settings: Settings) -> None:
    made, token = invited(db, settings, proctoring_preset="practice")
    client, state = begun(app, token)
    chain = Chain(state["attempt_id"])
    now = datetime.now(UTC)
    answer = send(
        client,
        token,
        chain.message("tab.hidden", "start", now),
        chain.message("devtools.open", "start", now),
        chain.message("clipboard.paste", "instant", now),
    )
    assert answer["warnings"] == [] and answer["status"] == "in_progress"
    with db.unit_of_work(made.invitation.tenant_id) as uow:
        assert {a.action for a in uow.scalars(select(ProctoringAction))} <= {"log"}
        attempt = uow.scalar(select(Attempt))
        assert attempt is not None and attempt.integrity == "clear"
        assert attempt.policy is not None and attempt.policy["name"] == "practice"


def test_staff_see_episodes_with_severity_and_the_actions(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    policy = custom(rule("faces", "face.multiple", "flag", severity="high"))
    made, client, token, chain, state = setup(app, db, settings, policy)
    now = datetime.now(UTC)
    send(
        client,
        token,
        chain.message("face.multiple", "start", now, faces=2, score=0.9),
        chain.message("face.multiple", "end", now + timedelta(seconds=4), ends=1, faces=1),
    )
    staff = bearer(app, db, make_user(db, made.invitation.tenant_id, ["proctor_reviewer"]))
    events = client.get(f"/api/v1/attempts/{state['attempt_id']}/events", headers=staff).json()
    (episode,) = events["items"]
    assert episode["kind"] == "face.multiple" and episode["severity"] == "high"
    assert episode["duration_seconds"] == 4 and episode["details"]["score"] == 0.9
    assert episode["ended_at"] is not None and episode["end_seq"] == 2
    actions = client.get(f"/api/v1/attempts/{state['attempt_id']}/actions", headers=staff).json()
    assert [(a["rule_id"], a["action"], a["events"]) for a in actions["items"]] == [
        ("faces", "flag", [1])
    ]


def test_a_silent_browser_is_an_event_that_ends_when_it_reports_again(
    database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    attempt_id = uuid.UUID(attempt_factory(database, tenant))
    with database.unit_of_work(tenant.id) as uow:
        a = uow.get(Attempt, attempt_id)
        a.last_seen_at = datetime.now(UTC) - timedelta(minutes=10)
    assert pipeline.notice_silence(database) >= 1
    assert pipeline.notice_silence(database) == 0  # once per silence
    with database.unit_of_work(tenant.id) as uow:
        a = uow.get(Attempt, attempt_id)
        assert a.silent_seq is not None and a.silent_seq < 0
        pipeline.touch(uow, a, datetime.now(UTC))
    with database.unit_of_work(tenant.id) as uow:
        rows = uow.scalars(
            select(ProctoringEvent)
            .where(ProctoringEvent.attempt_id == attempt_id)
            .order_by(ProctoringEvent.seq.desc())
        )
        assert [(r.kind, r.phase, r.seq) for r in rows] == [
            ("client.silent", "start", -1),
            ("client.silent", "end", -2),
        ]
        assert uow.get(Attempt, attempt_id).silent_seq is None


def test_a_custom_policy_is_validated_when_the_exam_is_saved(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    author = bearer(app, db, make_user(db, tenant.id, ["exam_author"]))
    client = TestClient(app)
    bad = custom(rule("x", "detector.failed", "flag"))  # a detector failure is never a violation
    r = client.post(
        "/api/v1/exams",
        json={
            "slug": "pol-exam",
            "title": "T",
            "sections": [],
            "settings": {"proctoring_policy": bad},
        },
        headers=author,
    )
    assert r.status_code == 422 and "proctoring policy is not valid" in r.text
    schema = client.get("/api/v1/proctoring/policy-schema", headers=author).json()
    assert "rules" in json.dumps(schema)
