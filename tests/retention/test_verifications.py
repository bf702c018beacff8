"""Verifications of the audit log are kept: the trust page shows the latest
one instead of re-reading the whole log on every load, an administrator can
ask for one (queued once, however often the button is pressed), the daily
job checks every tenant, a tampered log is reported as such, and the kept
runs cannot be rewritten."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil import audit
from invigil.audit import verifications
from invigil.audit.models import Verification
from invigil.cli.audit import _sources
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.retention import jobs, trust
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant
from tests.retention import queued
from tests.test_pages_matrix import web_client


def _words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_page_shows_the_kept_verification_and_queues_one_on_request(
    app: FastAPI, db: BoundDatabase, settings: Settings
) -> None:
    tenant = make_tenant(db, settings, f"verify-{uuid.uuid4().hex[:8]}")
    admin, _ = web_client(app, db, tenant.id, ["tenant_admin"])
    page = admin.get("/admin/trust")
    assert page.status_code == 200
    assert "Last verified not verified yet" in _words(page.text)
    with db.unit_of_work(tenant.id) as uow:  # loading the page verified nothing
        assert verifications.latest(uow) is None

    asked = admin.post("/admin/trust/verify", data={"csrf": _csrf(page.text)},
                       follow_redirects=False)  # fmt: skip
    assert asked.status_code == 303 and asked.headers["location"] == "/admin/trust#trust-audit"
    assert "Verification queued" in admin.get("/admin/trust").text
    again = admin.post("/admin/trust/verify", data={"csrf": _csrf(page.text)},
                       follow_redirects=False)  # fmt: skip
    assert again.status_code == 303
    assert "A verification is already queued" in admin.get("/admin/trust").text
    taken = queued.take(db.connection, jobs.VERIFY_TENANT_TASK, tenant.id)
    assert len(taken) == 1
    user_id = taken[0]["requested_by"]

    services = app.state.services
    assert jobs.verify(db, services, str(tenant.id), trigger="request", requested_by=user_id)
    shown = _words(admin.get("/admin/trust").text)
    assert "Last verified intact" in shown and "asked for from this page" in shown
    assert "1 verification in the last 30 days, 0 failed" in shown
    with db.unit_of_work(tenant.id) as uow:
        run = verifications.latest(uow)
        assert run is not None and run.ok and str(run.requested_by) == user_id
        assert run.entries >= 1 and run.anchored_records is not None

    for role in ("grader", "auditor"):
        other, _ = web_client(app, db, tenant.id, [role])
        assert other.post("/admin/trust/verify", data={"csrf": "x"}).status_code == 403


def test_the_schedule_the_report_names_is_the_jobs() -> None:
    minute, hour = jobs.VERIFY_CRON.split()[:2]
    assert f"daily {int(hour):02d}:{int(minute):02d} UTC" == trust.VERIFY_SCHEDULE
    assert jobs.VERIFY_CRON.split()[2:] == ["*", "*", "*"]


def test_the_daily_job_checks_every_tenant(database: Database, settings: Settings) -> None:
    keys = Keys(settings.keys_dir)
    services = SimpleNamespace(keys=keys)
    a, b = make_tenant(database, settings), make_tenant(database, settings)
    for tenant in (a, b):
        with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
            audit.record(uow, "x.happened", ("x", "1"))
    jobs._verify_all(database, services)
    for tenant in (a, b):
        with database.unit_of_work(tenant.id, Actor.operator("test")) as uow:
            run = verifications.latest(uow)
            assert run is not None and run.trigger == "schedule" and run.ok
            assert run.requested_by is None and run.entries >= 1


@pytest.fixture
def superuser(urls: DatabaseUrls) -> Iterator[Connection]:
    """The owner gone rogue: its transaction is rolled back, so the damage never lands."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        yield conn
        tx.rollback()
    engine.dispose()


def _as_app(conn: Connection, tenant: uuid.UUID) -> UnitOfWork:
    conn.exec_driver_sql("SET LOCAL ROLE invigil_app")
    return UnitOfWork.begin(Session(bind=conn), tenant, Actor.system(jobs.VERIFY_TENANT))


def test_a_tampered_log_is_reported_and_the_runs_cannot_be_rewritten(
    database: Database, settings: Settings, superuser: Connection
) -> None:
    keys = Keys(settings.keys_dir)
    tenant = make_tenant(database, settings).id
    with database.unit_of_work(tenant, Actor.operator("test")) as uow:
        audit.record(uow, "x.happened", ("x", "1"))
        audit.record(uow, "x.happened", ("x", "2"))
    superuser.exec_driver_sql("SET LOCAL session_replication_role = replica")
    superuser.execute(
        text("UPDATE audit_events SET subject_id = '9' WHERE tenant_id = :t AND subject_id = '2'"),
        {"t": tenant},
    )
    uow = _as_app(superuser, tenant)
    run = verifications.run(uow, keys.audit, _sources(), trigger="schedule")
    assert not run.ok and run.problems >= 1 and run.first_bad_seq is not None
    assert run.first_problem is not None and "edited in place" in run.first_problem
    report = trust.build(uow, settings, keys)
    assert report["audit_log"]["ok"] is False
    assert report["audit_log"]["failed_runs_30_days"] == 1
    said = trust.text(report)
    assert "NOT intact" in said and "edited in place" in said
    page = trust.html(uow, report, "en")
    assert "NOT intact" in _words(page)
    superuser.exec_driver_sql("RESET ROLE")
    superuser.exec_driver_sql("SET LOCAL session_replication_role = origin")
    for sql in ("UPDATE audit_verifications SET ok = true, problems = 0, first_problem = NULL",
                "DELETE FROM audit_verifications"):  # fmt: skip
        with pytest.raises(DBAPIError, match="append-only"), superuser.begin_nested():
            superuser.execute(text(sql + " WHERE tenant_id = :t"), {"t": tenant})
    kept = superuser.execute(
        select(Verification.ok).where(Verification.tenant_id == tenant)
    ).scalars().all()  # fmt: skip
    assert kept == [False]
