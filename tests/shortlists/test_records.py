"""The run's record: frozen rule set, cohort and the ordered list with its
exclusions, anchored in the audit log; `invigil audit verify` recomputes it
from the rows and names a tampered entry."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil.audit.anchored import verify_records
from invigil.audit.records import RecordsReport
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.settings import Settings
from invigil.shortlists import service
from invigil.shortlists.records import SOURCES
from tests.conftest import make_tenant
from tests.shortlists.factories import exam, rule_set, sit


def _tampered(
    urls: DatabaseUrls, tenant_id: uuid.UUID, sql: str, params: dict[str, object]
) -> RecordsReport:
    """Change a row as the owner with the triggers off; the report of verify."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(text(sql), params)
            conn.exec_driver_sql("SET LOCAL ROLE invigil_owner")
            uow = UnitOfWork.begin(Session(bind=conn), tenant_id, Actor.operator())
            report = verify_records(uow, SOURCES)
            tx.rollback()
    finally:
        engine.dispose()
    return report


def test_runs_are_immutable_and_a_tampered_entry_is_named(
    database: Database, settings: Settings, urls: DatabaseUrls
) -> None:
    tenant = make_tenant(database, settings)
    t = tenant.id
    e = exam(database, t)
    sit(database, t, e, "80.00")
    second = sit(database, t, e, "70.00")
    sit(database, t, e, "30.00")
    rid = rule_set(database, t, {"min_percent": "50"})
    with database.unit_of_work(t) as uow:
        run = service.create_run(uow, rid, exam_ids=[e])
    with database.unit_of_work(t) as uow:
        assert verify_records(uow, SOURCES).ok
        with pytest.raises(DBAPIError, match="permission denied"), uow.session.begin_nested():
            uow.session.execute(text("UPDATE shortlist_entries SET rank = 1"))
    # Swap the second's rank for a better one, as someone with the owner's password could.
    report = _tampered(
        urls, t, "UPDATE shortlist_entries SET percent = 99 WHERE attempt_id = :a", {"a": second}
    )
    assert not report.ok and report.first_bad is not None
    bad = report.first_bad
    assert bad["kind"] == "shortlist_run" and bad["id"] == str(run.id)
    assert f"entry 2 (attempt {second})" in bad["problem"]
    report = _tampered(
        urls, t, "UPDATE shortlist_runs SET rules = '{}'::jsonb WHERE id = :r", {"r": run.id}
    )
    assert report.first_bad is not None and report.first_bad["id"] == str(run.id)
