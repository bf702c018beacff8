"""The shortlists API: positions, rule sets and versions, a run with its
entries and exclusions, a stage move, the exports; names only with
candidate:view, never evidence; errors name the field."""

from __future__ import annotations

import csv
import io
import uuid

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from invigil.identity import service as identity
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, bearer, make_user
from tests.shortlists.factories import exam, sit


def _role(db: BoundDatabase, tenant: Tenant, permissions: list[str]) -> str:
    with db.unit_of_work(tenant.id) as uow:
        role = identity.create_role(uow, name=f"r_{uuid.uuid4().hex[:8]}", description="",
                                    permissions=permissions)  # fmt: skip
        return role.name


def test_a_shortlister_runs_a_shortlist_and_moves_a_candidate(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    e = exam(db, t)
    best = sit(db, t, e, "90.00", categories={"Geo": "100"})
    sit(db, t, e, "70.00", categories={"Geo": "50"})
    late = sit(db, t, e, "95.00", pending=True)
    h = bearer(app, db, make_user(db, t, ["shortlister"]))
    pos = client.post("/api/v1/shortlist-positions",
                      json={"name": "Support engineer", "exam_ids": [str(e)]}, headers=h)  # fmt: skip
    assert pos.status_code == 201, pos.text
    bad = client.post("/api/v1/shortlist-rule-sets", headers=h,
                      json={"name": "First", "rules": {"min_percent": 120}})  # fmt: skip
    assert bad.status_code == 422 and "min_percent" in bad.text
    tie = client.post("/api/v1/shortlist-rule-sets", headers=h,
                      json={"name": "First", "rules": {"tie_breaks": ["luck"]}})  # fmt: skip
    assert tie.status_code == 422 and tie.json()["field"] == "rules.tie_breaks.0"
    made = client.post("/api/v1/shortlist-rule-sets", headers=h, json={
        "name": "First", "position_id": pos.json()["id"],
        "rules": {"min_percent": 60, "tie_breaks": ["category:Geo"]}})  # fmt: skip
    assert made.status_code == 201 and made.json()["versions"][0]["version"] == 1
    rid = made.json()["id"]
    v2 = client.post(f"/api/v1/shortlist-rule-sets/{rid}/versions", headers=h,
                     json={"rules": {"min_percent": 80}})  # fmt: skip
    assert v2.json()["version"] == 2
    run = client.post(
        "/api/v1/shortlists",
        headers=h,
        json={"rule_set_id": rid, "version": 1, "position_id": pos.json()["id"]},
    )
    assert run.status_code == 201, run.text
    body = run.json()
    assert body["rule_set_version"] == 1 and body["rules"]["min_percent"] == "60"
    assert [x["attempt_id"] for x in body["entries"]] == [
        str(best),
        body["entries"][1]["attempt_id"],
    ]
    assert body["entries"][0]["candidate_name"] == "C"  # candidate:view: names
    assert body["entries"][0]["stage"] == "screened"
    (excluded,) = body["excluded"]
    assert excluded["attempt_id"] == str(late)
    assert excluded["failed"] == {"rule": "final", "actual": "awaiting_grading"}
    assert "evidence" not in run.text and "snapshot" not in run.text
    moved = client.post(f"/api/v1/shortlists/{body['id']}/entries/{best}/stage", headers=h,
                        json={"stage": "interview", "note": "Call on Monday."})  # fmt: skip
    assert moved.status_code == 201 and moved.json()["from_stage"] == "screened"
    again = client.post(f"/api/v1/shortlists/{body['id']}/entries/{late}/stage", headers=h,
                        json={"stage": "interview"})  # fmt: skip
    assert again.status_code == 409
    got = client.get(f"/api/v1/shortlists/{body['id']}", headers=h).json()
    assert got["entries"][0]["stage"] == "interview"
    listed = client.get("/api/v1/shortlists", headers=h).json()["items"]
    assert body["id"] in [r["id"] for r in listed]

    text = client.get(f"/api/v1/shortlists/{body['id']}/export?format=csv", headers=h)
    assert text.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert [r["rank"] for r in rows] == ["1", "2", ""]
    assert rows[0]["stage"] == "interview" and rows[0]["candidate_name"] == "C"
    assert rows[2]["failed_rule"] == "final" and "not final yet" in rows[2]["failed_reason"]
    assert rows[0]["rules_met"] == "final result; 90% >= 60%"
    book = client.get(f"/api/v1/shortlists/{body['id']}/export?format=xlsx", headers=h)
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["Shortlist"]
    values = list(sheet.values)
    assert values[0][:4] == ("run_id", "position", "rank", "status")
    assert values[1][2] == 1 and len(values) == 4


def test_without_candidate_view_the_list_is_pseudonymous(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    e = exam(db, t)
    sit(db, t, e, "90.00")
    role = _role(db, tenant_a, ["shortlist:run", "shortlist:view"])
    h = bearer(app, db, make_user(db, t, [role]))
    rid = client.post("/api/v1/shortlist-rule-sets", headers=h,
                      json={"name": f"n{uuid.uuid4().hex[:4]}", "rules": {}}).json()["id"]  # fmt: skip
    run = client.post("/api/v1/shortlists", headers=h,
                      json={"rule_set_id": rid, "exam_ids": [str(e)]}).json()  # fmt: skip
    (entry,) = run["entries"]
    assert entry["candidate_name"] is None and entry["candidate_email"] is None
    assert entry["pseudonym"] == entry["attempt_id"].replace("-", "")[:6].upper()
    text = client.get(f"/api/v1/shortlists/{run['id']}/export?format=csv", headers=h).text
    assert "candidate_name" not in text and "@x.test" not in text
    both = client.post("/api/v1/shortlists", headers=h, json={"rule_set_id": rid})
    assert both.status_code == 422 and both.json()["field"] == "cohort"


def test_the_tenant_sets_its_stages(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    h = bearer(app, db, make_user(db, tenant_a.id, ["shortlister"]))
    assert client.get("/api/v1/shortlist-stages", headers=h).json()["stages"][0] == "screened"
    bad = client.put("/api/v1/shortlist-stages", headers=h,
                     json={"stages": ["a", "B c"], "final": ["a"]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "stages.1"
