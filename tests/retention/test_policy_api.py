"""The retention API: the policy in force and its versions, written with a
reason and refused field by field; legal holds placed, listed and lifted
once; only retention:manage changes anything."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.settings import Settings
from tests.conftest import BoundDatabase, bearer, make_tenant, make_user
from tests.delivery.factories import kit_for, make_invitation
from tests.retention.factories import document

POLICY = "/api/v1/retention/policy"
HOLDS = "/api/v1/retention/holds"


def test_the_policy_is_read_written_and_refused_by_field(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    admin = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    grader = bearer(app, db, make_user(db, tenant.id, ["grader"]))

    first = client.get(POLICY, headers=admin)
    assert first.status_code == 200
    body = first.json()
    assert body["version"] == 0 and body["is_default"] and body["audit_log"] == "tenant_lifetime"
    assert body["policy"]["classes"]["evidence"]["by_preset"]["strict"] == 180

    changed = document(
        classes__evidence__keep_days=60, classes__evidence__by_preset={"strict": 120}
    )
    put = client.put(POLICY, json={"policy": changed, "reason": "DPO review"}, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1 and put.json()["reason"] == "DPO review"
    assert client.get(POLICY, headers=admin).json()["policy"]["classes"]["evidence"] == {
        "keep_days": 60, "from": "attempt_submitted", "then": "delete",
        "by_preset": {"strict": 120},
    }  # fmt: skip

    bad = {
        "policy.classes.evidence.keep_days": document(classes__evidence__keep_days=0),
        "policy.classes.answers.then": document(classes__answers__then="shred"),
        "policy.classes.results.from": document(classes__results__from="attempt_submitted"),
        "policy.contest_window_days": document(contest_window_days=400),
    }
    for field, doc in bad.items():
        refused = client.put(POLICY, json={"policy": doc, "reason": "x"}, headers=admin)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["field"].startswith(field), (field, refused.json())
    no_reason = client.put(POLICY, json={"policy": document(), "reason": "  "}, headers=admin)
    assert no_reason.status_code == 422 and no_reason.json()["field"] == "reason"
    too_long = client.put(POLICY, json={"policy": document(), "reason": "x" * 2001}, headers=admin)
    assert too_long.status_code == 422
    extra = client.put(POLICY, json={"policy": document(), "reason": "x", "x": 1}, headers=admin)
    assert extra.status_code == 422
    assert (
        client.put(POLICY, json={"policy": document(), "reason": "x"}, headers=grader).status_code
        == 403
    )

    versions = client.get(f"{POLICY}/versions", headers=admin).json()["items"]
    assert [v["version"] for v in versions] == [1, 0]
    assert client.get(f"{POLICY}/versions", headers=grader).status_code == 403


def test_holds_are_placed_listed_and_lifted_once(
    app: FastAPI, client: TestClient, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings)
    admin = bearer(app, db, make_user(db, tenant.id, ["tenant_admin"]))
    made = make_invitation(db, tenant.id, kit_for(settings))
    candidate = str(made.invitation.candidate_id)

    placed = client.post(
        HOLDS, json={"scope": "candidate", "subject_id": candidate, "reason": "claim 41"},
        headers=admin,
    )  # fmt: skip
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["active"] and hold["subject_id"] == candidate and hold["reason"] == "claim 41"
    exam = client.post(
        HOLDS, json={"scope": "exam", "subject_id": str(made.invitation.exam_id), "reason": "r"},
        headers=admin,
    )  # fmt: skip
    assert exam.status_code == 201
    whole = client.post(HOLDS, json={"scope": "tenant", "reason": "litigation"}, headers=admin)
    assert whole.status_code == 201

    cases = [
        ({"scope": "planet", "reason": "x"}, "scope"),
        ({"scope": "exam", "reason": "x"}, "subject_id"),
        ({"scope": "tenant", "subject_id": candidate, "reason": "x"}, "subject_id"),
        ({"scope": "tenant", "reason": " "}, "reason"),
    ]
    for body, field in cases:
        refused = client.post(HOLDS, json=body, headers=admin)
        assert refused.status_code == 422 and refused.json()["field"] == field, refused.text
    unknown = {"scope": "candidate", "subject_id": str(uuid.uuid4()), "reason": "x"}
    assert client.post(HOLDS, json=unknown, headers=admin).status_code == 404

    listed = client.get(HOLDS, headers=admin).json()["items"]
    assert {h["id"] for h in listed} == {hold["id"], exam.json()["id"], whole.json()["id"]}

    lift = f"{HOLDS}/{hold['id']}/lift"
    assert client.post(lift, json={"reason": ""}, headers=admin).status_code == 422
    lifted = client.post(lift, json={"reason": "settled"}, headers=admin)
    assert lifted.status_code == 200 and not lifted.json()["active"]
    assert lifted.json()["lift_reason"] == "settled"
    again = client.post(lift, json={"reason": "again"}, headers=admin)
    assert again.status_code == 409
    missing = client.post(f"{HOLDS}/{uuid.uuid4()}/lift", json={"reason": "x"}, headers=admin)
    assert missing.status_code == 404
    bad_id = client.post(f"{HOLDS}/not-an-id/lift", json={"reason": "x"}, headers=admin)
    assert bad_id.status_code == 422
