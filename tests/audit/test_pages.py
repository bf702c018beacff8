"""The audit page as an auditor uses it."""

from __future__ import annotations

from fastapi import FastAPI

from invigil import audit
from invigil.audit import checkpoints
from invigil.db.uow import Actor
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.test_pages_matrix import web_client


def test_filter_and_open_an_entry(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> None:
    with db.unit_of_work(tenant_a.id, Actor("user", "carol")) as uow:
        audit.record(uow, "certificate.issued", ("certificate", "c-1"), {"grade": "A"})
        audit.record(uow, "certificate.revoked", ("certificate", "c-1"), {"reason": "fraud"})
    with db.unit_of_work(tenant_a.id) as uow:
        checkpoints.seal(uow, app.state.services.keys.audit)
    client, _ = web_client(app, db, tenant_a.id, ["auditor"])
    page = client.get("/admin/audit?action=certificate.*&subject_id=c-1")
    assert page.status_code == 200
    assert "certificate.issued" in page.text and "certificate.revoked" in page.text
    assert "<code>user.created</code>" not in page.text  # filtered out
    assert "Latest checkpoint" in page.text
    link = page.text.split('href="/admin/audit/')[1].split('"')[0]
    entry = client.get(f"/admin/audit/{link}")
    assert entry.status_code == 200
    assert "Included in the checkpoint" in entry.text and "fraud" in entry.text


def test_bad_dates_say_what_is_wrong(app: FastAPI, db: BoundDatabase, tenant_a: Tenant) -> None:
    client, _ = web_client(app, db, tenant_a.id, ["auditor"])
    page = client.get("/admin/audit?since=yesterday")
    assert page.status_code == 400 and "since" in page.text and "write a date" in page.text


def test_the_nav_offers_the_audit_log_to_auditors_only(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant
) -> None:
    auditor, _ = web_client(app, db, tenant_a.id, ["auditor"])
    grader, _ = web_client(app, db, tenant_a.id, ["grader"])
    assert 'href="/admin/audit"' in auditor.get("/account").text
    assert 'href="/admin/audit"' not in grader.get("/account").text
