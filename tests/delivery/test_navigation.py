"""Linear navigation is the server's rule, not the player's: a browser that
saves an answer to a question behind the furthest one reached, or moves
back, is refused (409 ``navigation-closed``), nothing of its request is
kept, and the refusal is audited. Free navigation goes anywhere."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from invigil.audit.models import AuditEvent
from invigil.delivery import attempt_detail, candidate
from invigil.delivery.models import Attempt
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.content.factories import make_bank, make_question
from tests.delivery.factories import kit_for, make_invitation, published_exam, token_of
from tests.delivery.test_attempts import begun, invited, item, stored

CLOSED = "urn:invigil:problem:navigation-closed"


def _attempt(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str) -> Attempt:
    with db.unit_of_work(tenant_id) as uow:
        return uow.get(Attempt, uuid.UUID(attempt_id))


def _refusals(db: BoundDatabase, tenant_id: uuid.UUID, attempt_id: str) -> list[dict[str, Any]]:
    with db.unit_of_work(tenant_id) as uow:
        events = uow.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.subject_id == attempt_id,
                AuditEvent.action == "attempt.navigation_refused",
            )
            .order_by(AuditEvent.seq)
        )
        return [dict(e.payload) for e in events]


def _closed(r: Any) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["type"] == CLOSED
    return body


def _post(client: TestClient, token: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/take/{token}/api/{path}", json=body)


def test_linear_refuses_a_save_to_an_earlier_question_and_a_move_back(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, navigation="linear")
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    assert state["navigation"] == "linear" and state["furthest"] == 0

    assert _post(client, token, "answers", {"items": [item(0, 1, 1)]}).status_code == 200
    assert _post(client, token, "heartbeat", {"position": 1}).status_code == 200

    # The two exploits: an answer to question 1 after moving on, and a move back.
    refused = _closed(_post(client, token, "answers", {"items": [item(0, 0, 2)]}))
    assert refused["furthest"] == 1 and refused["questions"] == [0] and refused["refused"] == [2]
    assert "question 1 can no longer be changed" in refused["detail"]
    back = _closed(_post(client, token, "heartbeat", {"position": 0}))
    assert back["furthest"] == 1

    a = _attempt(db, tid, aid)
    assert (a.position, a.furthest, a.last_seq) == (1, 1, 1)
    answer = stored(db, tid, aid)[0]
    assert (answer.response, answer.seq) == (1, 1)  # unchanged
    assert _refusals(db, tid, aid) == [
        {"via": "answers", "asked": [0], "furthest": 1},
        {"via": "heartbeat", "asked": [0], "furthest": 1},
    ]
    state = client.get(f"/take/{token}/api/state").json()
    assert (state["position"], state["furthest"]) == (1, 1)
    with db.unit_of_work(tid) as uow:  # what a reviewer reads on the attempt's timeline
        history = attempt_detail.detail(uow, uow.get(Attempt, a.id), with_result=False).history
        assert [(h.what, h.notes) for h in history] == [
            (
                "Going back refused (linear navigation)",
                ("Asked for question 1 after reaching question 2",),
            )
        ] * 2


def test_a_batch_that_goes_back_is_refused_whole_and_one_that_goes_forward_is_taken(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, navigation="linear")
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]

    # In seq order: question 1, then 2, then 3 -- forward, taken, and the
    # answers move the furthest question (and the position) with them.
    forward = [item(2, True, 3), item(0, 1, 1), item(1, [0], 2)]
    ok = _post(client, token, "answers", {"items": forward})
    assert [r["status"] for r in ok.json()["results"]] == ["saved"] * 3
    assert (_attempt(db, tid, aid).furthest, _attempt(db, tid, aid).position) == (2, 2)

    # Question 5 (seq 4), then back to question 4 (seq 5): refused whole.
    mixed = {"items": [item(4, "x", 4), item(3, "y", 5)]}
    refused = _closed(_post(client, token, "answers", mixed))
    assert refused["furthest"] == 4 and refused["questions"] == [3]
    assert set(stored(db, tid, aid)) == {0, 1, 2}  # nothing of the request kept
    assert _attempt(db, tid, aid).furthest == 2

    # A re-sent item (its response lost) and an older one change nothing: answered as usual.
    again = _post(client, token, "answers", {"items": [item(1, [0], 2), item(2, False, 1)]})
    assert again.status_code == 200, again.text
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "stale"]
    # An item rejected on its own (off the paper) neither moves nor closes anything.
    odd = _post(client, token, "answers", {"items": [item(99, 1, 6), item(2, False, 7)]})
    assert [r["status"] for r in odd.json()["results"]] == ["rejected", "saved"]
    assert _attempt(db, tid, aid).furthest == 2


def test_a_submit_that_carries_a_change_to_a_closed_question_is_refused(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings, navigation="linear")
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    assert _post(client, token, "heartbeat", {"position": 3}).status_code == 200

    refused = _closed(_post(client, token, "submit", {"items": [item(1, [0], 1)]}))
    assert refused["refused"] == [1]
    assert _attempt(db, tid, aid).status == "in_progress" and stored(db, tid, aid) == {}
    assert [r["via"] for r in _refusals(db, tid, aid)] == ["submit"]
    done = _post(client, token, "submit", {"items": [item(3, "2", 2)]})
    assert done.status_code == 200 and done.json()["status"] == "submitted"


def test_linear_saves_and_moves_take_the_general_way(
    app: FastAPI, db: BoundDatabase, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one statement of the plain case declines linear attempts, so the
    rule lives in one place (it would otherwise let a move back through)."""
    served: list[bool] = []
    real = candidate.heard

    def spy(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        served.append(found is not None)
        return found

    monkeypatch.setattr(candidate, "heard", spy)
    _, token = invited(db, settings, navigation="linear")
    client, _ = begun(app, token)
    assert _post(client, token, "heartbeat", {"position": 2}).status_code == 200
    _closed(_post(client, token, "heartbeat", {"position": 1}))
    assert served == [False, False]

    _, free = invited(db, settings)
    client, _ = begun(app, free)
    assert _post(client, free, "heartbeat", {"position": 2}).status_code == 200
    assert served[-1] is True


def test_free_navigation_goes_back_and_changes_anything(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    made, token = invited(db, settings)  # navigation: free
    client, state = begun(app, token)
    tid, aid = made.invitation.tenant_id, state["attempt_id"]
    assert state["navigation"] == "free" and state["furthest"] is None
    assert _post(client, token, "heartbeat", {"position": 5}).status_code == 200
    assert _post(client, token, "answers", {"items": [item(0, 1, 1)]}).status_code == 200
    assert _post(client, token, "heartbeat", {"position": 0}).status_code == 200
    assert _post(client, token, "answers", {"items": [item(0, 0, 2)]}).status_code == 200
    a = _attempt(db, tid, aid)
    assert (a.position, a.furthest) == (0, None) and stored(db, tid, aid)[0].response == 0
    assert _refusals(db, tid, aid) == []


def test_linear_navigation_runs_across_sections(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    """Navigation is the exam's (sections have no mode of their own): under
    linear navigation, reaching the second section closes the first, and
    within a section the same rule holds."""
    tenant = make_tenant(db, settings)
    bank = make_bank(db, tenant.id)
    first = [str(make_question(db, tenant.id, bank, "true_false")) for _ in range(2)]
    second = [str(make_question(db, tenant.id, bank, "true_false")) for _ in range(2)]
    exam = published_exam(
        db,
        tenant.id,
        sections=[
            {"kind": "fixed", "title": "Part A", "question_ids": first},
            {"kind": "fixed", "title": "Part B", "question_ids": second},
        ],
        settings={
            "navigation": "linear",
            "shuffle_questions": False,
            "proctoring_preset": "practice",
        },
    )
    made = make_invitation(db, tenant.id, kit_for(settings), exam)
    token = token_of(made)
    client, state = begun(app, token)
    assert [q["section"] for q in state["questions"]] == [0, 0, 1, 1]

    assert _post(client, token, "answers", {"items": [item(1, True, 1)]}).status_code == 200
    assert _post(client, token, "heartbeat", {"position": 2}).status_code == 200  # into Part B
    _closed(_post(client, token, "heartbeat", {"position": 1}))  # back into Part A
    _closed(_post(client, token, "answers", {"items": [item(1, False, 2)]}))
    assert _post(client, token, "answers", {"items": [item(3, True, 3)]}).status_code == 200
    _closed(_post(client, token, "answers", {"items": [item(2, True, 4)]}))  # within Part B
    a = _attempt(db, made.invitation.tenant_id, state["attempt_id"])
    assert (a.position, a.furthest) == (3, 3)
