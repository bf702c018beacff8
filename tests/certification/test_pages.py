"""The certification pages over HTTP: the program form names the field in
error and makes a new version on a change, a manual evaluation issues, the
certificate page changes state (a stale form is refused), the approvals
page approves and rejects, and the pages answer only with the permission."""

from __future__ import annotations

import re
import uuid

from fastapi import FastAPI
from sqlalchemy import select

from invigil.certification import issuance
from invigil.certification.models import Certificate
from invigil.tenants.models import Tenant
from tests.certification.factories import NOW, holder, program
from tests.certification.sittings import sit_as
from tests.conftest import BoundDatabase
from tests.results.cohort import make_exam4
from tests.test_pages_matrix import web_client


def test_a_manager_edits_a_program_in_the_pages(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    exam = make_exam4(db, t).id
    client, csrf = web_client(app, db, t, ["certification_manager"])
    assert client.get("/certification").status_code == 200
    form = client.get("/certification/programs/new")
    assert form.status_code == 200 and str(exam) in form.text
    bad = client.post("/certification/programs/new", data={
        "csrf": csrf, "name": "Safety", "exam_ids": [str(exam)], "min_percent": "lots"})  # fmt: skip
    assert bad.status_code == 422 and 'href="#p-min_percent"' in bad.text
    assert re.search(r'id="p-min_percent"[^>]*aria-invalid="true"', bad.text)
    none = client.post("/certification/programs/new", data={"csrf": csrf, "name": "Safety"})
    assert none.status_code == 422 and 'href="#p-exam_ids"' in none.text
    made = client.post("/certification/programs/new", data={
        "csrf": csrf, "name": "Safety", "exam_ids": [str(exam)], "min_percent": "60",
        "validity_months": "12", "recert_window_days": "30", "grace_days": "10",
        "reminder_days": "30, 7", "integrity": "clear"})  # fmt: skip
    assert made.status_code == 303, made.text
    page = made.headers["location"]
    shown = client.get(page).text
    assert "Program saved as version 1." in shown and 'value="30, 7"' in shown
    changed = client.post(page, data={
        "csrf": csrf, "exam_ids": [str(exam)], "min_percent": "70", "validity_months": "12",
        "recert_window_days": "30", "grace_days": "10", "reminder_days": "30, 7",
        "integrity": "clear"})  # fmt: skip
    assert changed.status_code == 303
    assert "Saved as version 2." in client.get(page).text
    archived = client.post(page + "/archive", data={"csrf": csrf, "archived": "1"})
    assert archived.status_code == 303 and "Archived" in client.get(page).text


def test_certificate_page_changes_state_with_a_reason(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    exam = make_exam4(db, t).id
    program(db, t, exam_ids=[exam], name=f"P {uuid.uuid4().hex[:6]}")
    who = holder(db, t)
    attempt = sit_as(db, t, exam, who)
    with db.unit_of_work(t) as uow:
        (done,) = issuance.evaluate(uow, who, now=NOW)
        assert done.certificate is not None
        cid = done.certificate.id
    client, csrf = web_client(app, db, t, ["certification_manager"])
    listed = client.get("/certification/certificates", params={"state": "issued"})
    assert listed.status_code == 200 and str(cid) in listed.text
    assert client.get("/certification/certificates", params={"state": "x"}).status_code == 422
    assert client.get("/certification/certificates", params={"program": "x"}).status_code == 422
    page = client.get(f"/certification/certificates/{cid}")
    assert page.status_code == 200 and f"/attempts/{attempt}/result" in page.text
    url = f"/certification/certificates/{cid}/state"
    empty = client.post(url, data={"csrf": csrf, "action": "suspend", "reason": "", "seq": "1"})
    assert empty.status_code == 422 and 'href="#s-reason"' in empty.text
    ok = client.post(url, data={"csrf": csrf, "action": "suspend", "reason": "audit", "seq": "1"})
    assert ok.status_code == 303
    stale = client.post(url, data={"csrf": csrf, "action": "revoke", "reason": "x", "seq": "1"})
    assert stale.status_code == 422 and "changed since" in stale.text
    back = client.post(url, data={"csrf": csrf, "action": "reinstate", "reason": "ok", "seq": "2"})
    assert back.status_code == 303
    with db.unit_of_work(t) as uow:
        cert = uow.session.scalar(select(Certificate).where(Certificate.id == cid))
        assert cert is not None and (cert.state, cert.state_seq) == ("issued", 3)

    viewer, _ = web_client(app, db, t, ["auditor"])
    assert viewer.get(f"/certification/certificates/{cid}").status_code == 200
    assert viewer.post(url, data={"csrf": csrf, "action": "revoke", "reason": "x"}).status_code in (
        403, 404)  # fmt: skip
    grader, _ = web_client(app, db, t, ["grader"])
    assert grader.get("/certification").status_code in (403, 404)


def test_approvals_page_approves_and_rejects(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    exam = make_exam4(db, t).id
    program(db, t, exam_ids=[exam], approval=True, name=f"Gated {uuid.uuid4().hex[:6]}")
    first, second = holder(db, t, "Ann Approved"), holder(db, t, "Rob Rejected")
    for who in (first, second):
        sit_as(db, t, exam, who)
    with db.unit_of_work(t) as uow:
        ids = {who: issuance.evaluate(uow, who, now=NOW)[0].pending.id  # type: ignore[union-attr]
               for who in (first, second)}  # fmt: skip
    client, csrf = web_client(app, db, t, ["certification_manager"])
    page = client.get("/certification/approvals")
    assert "Ann Approved" in page.text and "Rob Rejected" in page.text
    no_reason = client.post(f"/certification/approvals/{ids[second]}",
                            data={"csrf": csrf, "decision": "reject", "reason": ""})  # fmt: skip
    assert no_reason.status_code == 422 and f'href="#a-reason-{ids[second]}"' in no_reason.text
    rejected = client.post(f"/certification/approvals/{ids[second]}",
                           data={"csrf": csrf, "decision": "reject", "reason": "no ID"})  # fmt: skip
    assert rejected.status_code == 303
    approved = client.post(f"/certification/approvals/{ids[first]}",
                           data={"csrf": csrf, "decision": "approve"})  # fmt: skip
    assert approved.status_code == 303
    assert "/certification/certificates/" in approved.headers["location"]
    assert "issued" in client.get(approved.headers["location"]).text
