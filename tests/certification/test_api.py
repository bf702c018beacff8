"""The certification API: programs (create, revise = a new version,
archive), a manual issue through the same evaluation, certificates listed
and one with its history and basis, state changes with expect_seq, the
approval queue; errors name the field; permissions hold."""

from __future__ import annotations

import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient

from invigil.tenants.models import Tenant
from tests.certification.factories import holder
from tests.certification.sittings import sit_as
from tests.conftest import BoundDatabase, bearer, make_user
from tests.results.cohort import make_exam4


def definition(exam: uuid.UUID, **kw: object) -> dict[str, object]:
    return {"exam_ids": [str(exam)], "validity_months": 12, **kw}


def test_a_manager_sets_up_a_program_and_issues(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    exam = make_exam4(db, t).id
    h = bearer(app, db, make_user(db, t, ["certification_manager"]))
    bad = client.post("/api/v1/certification-programs", headers=h,
                      json={"name": "Safety", "definition": definition(exam, min_percent=120)})  # fmt: skip
    assert bad.status_code == 422 and "min_percent" in bad.text
    alien = client.post("/api/v1/certification-programs", headers=h,
                        json={"name": "Safety", "definition": definition(uuid.uuid4())})  # fmt: skip
    assert alien.status_code == 422 and alien.json()["field"] == "exam_ids"
    made = client.post("/api/v1/certification-programs", headers=h,
                       json={"name": "Safety", "definition": definition(exam)})  # fmt: skip
    assert made.status_code == 201, made.text
    pid = made.json()["id"]
    same = client.post(f"/api/v1/certification-programs/{pid}/versions", headers=h,
                       json={"definition": definition(exam)})  # fmt: skip
    assert len(same.json()["versions"]) == 1  # the same definition: no new version
    v2 = client.post(f"/api/v1/certification-programs/{pid}/versions", headers=h,
                     json={"definition": definition(exam, min_percent=70)})  # fmt: skip
    assert v2.json()["current"]["version"] == 2
    self_req = client.post(f"/api/v1/certification-programs/{pid}/versions", headers=h,
                           json={"definition": definition(exam, prerequisites=[pid])})  # fmt: skip
    assert self_req.status_code == 422 and self_req.json()["field"] == "prerequisites"

    who = holder(db, t)
    sit_as(db, t, exam, who, "65.00")
    short = client.post("/api/v1/certificates", headers=h,
                        json={"holder_id": str(who), "program_id": pid})  # fmt: skip
    assert short.status_code == 409 and "below_minimum" in short.json()["detail"]
    sit_as(db, t, exam, who, "75.00", number=2)
    issued = client.post("/api/v1/certificates", headers=h,
                         json={"holder_id": str(who), "program_id": pid})  # fmt: skip
    assert issued.status_code == 201, issued.text
    cert = issued.json()["certificate"]
    assert cert["program_version"] == 2 and cert["basis"][0]["percent"] == "75.00"
    assert cert["history"][0]["state"] == "issued" and cert["issued_by"] is not None
    again = client.post("/api/v1/certificates", headers=h,
                        json={"holder_id": str(who), "program_id": pid})  # fmt: skip
    assert again.status_code == 409 and "same_results" in again.json()["detail"]

    listed = client.get("/api/v1/certificates", headers=h, params={"program_id": pid})
    assert [c["id"] for c in listed.json()["items"]] == [cert["id"]]
    assert listed.json()["next"] is None
    assert client.get("/api/v1/certificates", headers=h,
                      params={"state": "revoked"}).json()["items"] == []  # fmt: skip
    assert client.get("/api/v1/certificates", headers=h,
                      params={"state": "bogus"}).status_code == 422  # fmt: skip

    url = f"/api/v1/certificates/{cert['id']}/state"
    assert client.post(url, headers=h, json={"action": "suspend", "reason": " "}).status_code == 422
    suspended = client.post(url, headers=h,
                            json={"action": "suspend", "reason": "audit", "expect_seq": 1})  # fmt: skip
    assert suspended.json()["state"] == "suspended" and suspended.json()["state_seq"] == 2
    stale = client.post(url, headers=h,
                        json={"action": "reinstate", "reason": "ok", "expect_seq": 1})  # fmt: skip
    assert stale.status_code == 409
    back = client.post(url, headers=h,
                       json={"action": "reinstate", "reason": "ok", "expect_seq": 2})  # fmt: skip
    assert back.json()["state"] == "issued"
    got = client.get(f"/api/v1/certificates/{cert['id']}", headers=h).json()
    assert [x["state"] for x in got["history"]] == ["issued", "suspended", "issued"]

    archived = client.post(f"/api/v1/certification-programs/{pid}/archive", headers=h, json={})
    assert archived.json()["archived"] is True


def test_approval_through_the_api_and_who_may(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    exam = make_exam4(db, t).id
    manager = bearer(app, db, make_user(db, t, ["certification_manager"]))
    auditor = bearer(app, db, make_user(db, t, ["auditor"]))
    pid = client.post("/api/v1/certification-programs", headers=manager, json={
        "name": "Gated", "definition": definition(exam, approval=True)}).json()["id"]  # fmt: skip
    assert client.get(f"/api/v1/certification-programs/{pid}", headers=auditor).status_code == 200
    denied = client.post(f"/api/v1/certification-programs/{pid}/archive", headers=auditor, json={})
    assert denied.status_code == 403
    who = holder(db, t)
    sit_as(db, t, exam, who)
    queued = client.post("/api/v1/certificates", headers=manager,
                         json={"holder_id": str(who), "program_id": pid})  # fmt: skip
    assert queued.status_code == 201 and queued.json()["outcome"] == "pending"
    (row,) = client.get("/api/v1/certification-approvals", headers=manager).json()
    assert client.get("/api/v1/certification-approvals", headers=auditor).status_code == 403
    done = client.post(f"/api/v1/certification-approvals/{row['id']}/approve", headers=manager)
    assert done.status_code == 200 and done.json()["approved_by"] is not None
    twice = client.post(f"/api/v1/certification-approvals/{row['id']}/reject", headers=manager,
                        json={"reason": "late"})  # fmt: skip
    assert twice.status_code == 409
    decided = client.get("/api/v1/certification-approvals", headers=manager,
                         params={"status": "approved"}).json()  # fmt: skip
    assert decided[0]["certificate_id"] == done.json()["id"]
