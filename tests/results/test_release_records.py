"""A release is anchored in the audit log: `audit verify` recomputes its
hash from the row and names a release changed behind the trigger's back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil.audit import service
from invigil.audit.models import AuditEvent
from invigil.audit.offline import verify_export
from invigil.audit.verify import Report
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.delivery.records import SOURCES as DELIVERY
from invigil.proctoring.records import SOURCES as PROCTORING
from invigil.results.models import ResultRelease
from invigil.results.records import SOURCES as RESULTS
from invigil.security.keys import Keys
from invigil.settings import Settings
from tests.conftest import make_tenant
from tests.results.helpers import Sat, make_release_exam, sit

SOURCES = (*DELIVERY, *PROCTORING, *RESULTS)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("release-keys"))


@pytest.fixture(scope="module")
def sat(database: Database, settings: Settings) -> Sat:
    tenant = make_tenant(database, settings)
    exam = make_release_exam(database, tenant.id, results_release="immediately")
    return sit(database, settings, tenant.id, exam)


@pytest.fixture
def superuser(urls: DatabaseUrls, sat: Sat) -> Iterator[Connection]:
    """The owner gone rogue, triggers off; rolled back after the test."""
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    with engine.connect() as conn:
        tx = conn.begin()
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn
        tx.rollback()
    engine.dispose()


def verify(conn: Connection, tenant_id: uuid.UUID, keys: Keys) -> Report:
    conn.exec_driver_sql("SET LOCAL ROLE invigil_owner")
    try:
        uow = UnitOfWork.begin(Session(bind=conn), tenant_id, Actor.operator())
        return service.verify_tenant(uow, keys.audit, SOURCES)
    finally:
        conn.exec_driver_sql("RESET ROLE")


def test_a_release_is_anchored_and_verifies(database: Database, sat: Sat, keys: Keys) -> None:
    with database.unit_of_work(sat.tenant_id, Actor.operator()) as uow:
        row = uow.scalar(select(ResultRelease).where(ResultRelease.attempt_id == sat.attempt_id))
        assert row is not None
        entry = uow.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "result.released", AuditEvent.subject_id == str(row.id)
            )
        )
        assert entry is not None and entry.payload["anchor"]["kind"] == "release"
        report = service.verify_tenant(uow, keys.audit, SOURCES)
        exported = json.loads(
            json.dumps(service.export(uow, keys.audit, "t", SOURCES), default=str)
        )
    assert report.ok, (report.problems, report.records)
    assert report.records is not None and report.records.first_bad is None
    # and offline, from an export alone
    assert any(r["kind"] == "release" for r in exported["records"])
    offline = verify_export(exported)
    records = offline.records  # (no checkpoint was sealed: only the records are judged here)
    assert records is not None and records.first_bad is None and records.anchored == records.records


@pytest.mark.parametrize(
    "change", ["how = 'manual'", "revision = 7", "released_at = released_at - interval '1 day'"]
)
def test_a_changed_release_is_named(
    superuser: Connection, sat: Sat, keys: Keys, change: str
) -> None:
    superuser.exec_driver_sql(
        f"UPDATE result_releases SET {change} WHERE attempt_id = %s", (sat.attempt_id,)
    )
    report = verify(superuser, sat.tenant_id, keys)
    assert not report.ok
    assert report.records is not None and report.records.first_bad is not None
    assert report.records.first_bad["kind"] == "release"
    superuser.exec_driver_sql("SET LOCAL ROLE invigil_owner")
    try:
        uow = UnitOfWork.begin(Session(bind=superuser), sat.tenant_id, Actor.operator())
        data = json.loads(json.dumps(service.export(uow, keys.audit, "t", SOURCES), default=str))
    finally:
        superuser.exec_driver_sql("RESET ROLE")
    offline = verify_export(data).records
    assert offline is not None and offline.first_bad is not None
    assert offline.first_bad["kind"] == "release"
