"""The groups and coverage API and pages over HTTP: a manager sets up a
group and its people (one by one and by CSV, refused whole with every
problem), an auditor reads coverage and exports it (formulas neutralised)
but changes nothing, errors are problem+json naming the field."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from invigil.tenants.models import Tenant
from tests.certification.factories import certificate, holder, program
from tests.conftest import BoundDatabase, bearer, make_user
from tests.test_pages_matrix import web_client


def test_a_manager_sets_up_a_group_and_an_auditor_reads_its_coverage(
    app: FastAPI, client: TestClient, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    prog, version = program(db, t, name="Safety", validity_months=12)
    covered = holder(db, t, "=HYPERLINK(1)")  # a name that is a formula
    certificate(db, t, version, covered, now=datetime.now(UTC) - timedelta(days=1))
    h = bearer(app, db, make_user(db, t, ["certification_manager"]))
    bad = client.post("/api/v1/certification/groups", json={"name": "", "kind": "team"}, headers=h)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )
    kind = client.post("/api/v1/certification/groups", json={"name": "X", "kind": "dept"},
                       headers=h)  # fmt: skip
    assert kind.status_code == 422 and "kind" in kind.text
    made = client.post("/api/v1/certification/groups", json={"name": "Support", "kind": "team"},
                       headers=h)  # fmt: skip
    assert made.status_code == 201, made.text
    gid = made.json()["id"]
    again = client.post("/api/v1/certification/groups", json={"name": "Support"}, headers=h)
    assert again.status_code == 409 and again.json()["field"] == "name"
    req = client.put(f"/api/v1/certification/groups/{gid}/requirements",
                     json={"program_ids": [str(prog)]}, headers=h)  # fmt: skip
    assert req.status_code == 200 and req.json()["required"][0]["name"] == "Safety"
    assert client.put(f"/api/v1/certification/groups/{gid}/members/{covered}",
                      headers=h).status_code == 204  # fmt: skip
    refused = client.post(
        "/api/v1/certification/groups/import?apply=true", headers=h,
        content=b"email,name,group\nnew@example.com,,Support\nx@example.com,X,Nope\n",
    )  # fmt: skip
    assert refused.status_code == 422
    assert [(p["line"], p["column"]) for p in refused.json()["problems"]] == [
        (2, "name"), (3, "group")
    ]  # fmt: skip
    checked = client.post("/api/v1/certification/groups/import", headers=h,
                          content=b"email,name,group\nnew@example.com,New,Support\n")  # fmt: skip
    assert checked.status_code == 200 and checked.json()["applied"] is False
    done = client.post("/api/v1/certification/groups/import?apply=true", headers=h,
                       content=b"email,name,group\nnew@example.com,New,Support\n")  # fmt: skip
    assert done.json() | {"sha256": ""} == {
        "applied": True, "sha256": "", "rows": 1, "people_matched": 0, "people_created": 1,
        "memberships_added": 1, "memberships_existing": 0, "groups": 1,
    }  # fmt: skip
    members = client.get(f"/api/v1/certification/groups/{gid}/members?limit=1", headers=h)
    assert members.json()["total"] == 2 and len(members.json()["items"]) == 1

    auditor = bearer(app, db, make_user(db, t, ["auditor"]))
    assert client.post("/api/v1/certification/groups", json={"name": "Y"},
                       headers=auditor).status_code == 403  # fmt: skip
    summary = client.get(f"/api/v1/certification/coverage?group_id={gid}", headers=auditor)
    assert summary.status_code == 200, summary.text
    line = summary.json()["items"][0]
    assert line["members"] == 2 and line["counts"]["covered"] == 1 and line["counts"]["never"] == 1
    assert summary.json()["totals"]["never"] == 1
    never = client.get("/api/v1/certification/coverage/matrix?status=never", headers=auditor)
    assert [r["person"]["name"] for r in never.json()["items"]] == ["New"]
    assert never.json()["items"][0]["cells"][str(prog)]["status"] == "never"
    wrong = client.get("/api/v1/certification/coverage?status=gone", headers=auditor)
    assert wrong.status_code == 422 and "status" in wrong.text
    big = client.get("/api/v1/certification/coverage/matrix?limit=500", headers=auditor)
    assert big.status_code == 422 and "limit" in big.text

    exported = client.get("/api/v1/certification/coverage/export?view=matrix&format=csv",
                          headers=auditor)  # fmt: skip
    assert exported.status_code == 200
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0] == ["candidate_id", "name", "email", "external_ref", "Safety"]
    assert [rows[1][1], rows[1][4]] == ["'=HYPERLINK(1)", "covered"]  # neutralised
    book = client.get("/api/v1/certification/coverage/export?view=summary&format=xlsx",
                      headers=auditor)  # fmt: skip
    sheet = load_workbook(io.BytesIO(book.content)).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][:6] == ("group_id", "group", "kind", "program_id", "program", "members")
    assert values[1][1] == "Support" and values[1][5] == 2

    assert client.delete(f"/api/v1/certification/groups/{gid}", headers=h).status_code == 204
    assert client.get(f"/api/v1/certification/groups/{gid}", headers=h).status_code == 404


def test_the_pages_set_up_a_group_import_and_show_coverage(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    prog, version = program(db, t, name=f"Safety {uuid.uuid4().hex[:4]}", validity_months=12)
    client, csrf = web_client(app, db, t, ["certification_manager"])
    bad = client.post("/certification/groups", data={"csrf": csrf, "name": "", "kind": "team"})
    assert bad.status_code == 422 and 'href="#g-name"' in bad.text
    name = f"Team {uuid.uuid4().hex[:6]}"
    made = client.post("/certification/groups", data={"csrf": csrf, "name": name, "kind": "site"})
    assert made.status_code == 303
    where = made.headers["location"]
    gid = where.rsplit("/", 1)[1]
    assert client.post(f"{where}/requirements",
                       data={"csrf": csrf, "program_ids": [str(prog)]}).status_code == 303  # fmt: skip
    new = client.post(f"{where}/members", data={"csrf": csrf, "email": "fresh@example.com"})
    assert new.status_code == 422 and 'href="#g-name"' in new.text  # a new email needs a name
    assert client.post(f"{where}/members", data={"csrf": csrf, "email": "fresh@example.com",
                       "name": "Fresh Person"}).status_code == 303  # fmt: skip
    page = client.get(where)
    assert page.status_code == 200 and "Fresh Person" in page.text

    upload = b"email,name,group\nsomeone@example.com,Someone," + name.encode() + b"\n"
    report = client.post("/certification/groups/import", data={"csrf": csrf},
                         files={"file": ("m.csv", upload, "text/csv")})  # fmt: skip
    assert report.status_code == 200 and "Confirm the import" in report.text
    carried = re.search(r'name="content" value="([^"]+)"', report.text)
    assert carried is not None
    confirmed = client.post("/certification/groups/import",
                            data={"csrf": csrf, "content": carried.group(1), "confirm": "1"})  # fmt: skip
    assert confirmed.status_code == 303
    refused = client.post("/certification/groups/import", data={"csrf": csrf},
                          files={"file": ("m.csv", b"email,name,group\nx,,Nope\n", "text/csv")})  # fmt: skip
    assert refused.status_code == 422 and "import-problems" in refused.text

    someone = holder(db, t, "Certified Person")
    certificate(db, t, version, someone)
    dashboard = client.get(f"/certification/coverage?group_id={gid}")
    assert dashboard.status_code == 200
    assert "<svg" in dashboard.text and "Never certified" in dashboard.text
    matrix = client.get(f"/certification/coverage/matrix?group_id={gid}&status=never")
    assert matrix.status_code == 200 and "Fresh Person" in matrix.text
    assert "Someone" in matrix.text
    wrong = client.get("/certification/coverage?status=bogus")
    assert wrong.status_code == 422 and 'href="#f-status"' in wrong.text
    export = client.get(f"/certification/coverage/export?view=summary&format=csv&group_id={gid}")
    assert export.status_code == 200 and name in export.text

    reader, _ = web_client(app, db, t, ["auditor"])
    assert reader.get(where).status_code == 200
    assert "Delete group" not in reader.get(where).text
    assert reader.post(f"{where}/delete", data={"csrf": csrf}).status_code == 403
