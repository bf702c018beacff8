"""A certificate's life: numbers, dates, renewal, state changes (new rows,
never edits), each audited and anchored; `audit verify` names a certificate
whose row or state no longer agrees with its record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil.audit.anchored import verify_records
from invigil.certification import lifecycle
from invigil.certification.records import SOURCES
from invigil.db import platform
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.errors import Conflict, Invalid
from invigil.settings import Settings
from tests.certification.factories import NOW, certificate, get, holder, program
from tests.conftest import make_tenant


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    at = datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert lifecycle.add_months(at, 1) == datetime(2026, 2, 28, 12, tzinfo=UTC)
    assert lifecycle.add_months(at, 13) == datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert lifecycle.add_months(datetime(2027, 12, 15, tzinfo=UTC), 24).year == 2029


def test_issue_numbers_dates_and_first_state(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant, validity_months=12)
    first = get(db, tenant, certificate(db, tenant, version))
    second = get(db, tenant, certificate(db, tenant, version))
    assert (first.number, second.number) == ("C-2026-000001", "C-2026-000002")
    assert (first.status_index, second.status_index) == (0, 1)
    assert first.expires_at == datetime(2027, 3, 1, 9, tzinfo=UTC)
    assert (first.state, first.state_seq, first.renews_id) == ("issued", 1, None)


def test_renewal_counts_from_the_old_expiry_or_from_now(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    who = holder(db, tenant)
    _, v_expiry = program(db, tenant, validity_months=12, renew_from="expiry")
    old = get(db, tenant, certificate(db, tenant, v_expiry, who))
    renewed = get(db, tenant, certificate(db, tenant, v_expiry, who, now=NOW + timedelta(days=300)))
    assert renewed.renews_id == old.id
    assert renewed.expires_at == datetime(2028, 3, 1, 9, tzinfo=UTC)

    _, v_now = program(db, tenant, validity_months=12, renew_from="now")
    certificate(db, tenant, v_now, who)
    later = NOW + timedelta(days=300)
    renewed = get(db, tenant, certificate(db, tenant, v_now, who, now=later))
    assert renewed.expires_at == lifecycle.add_months(later, 12)


def test_past_the_grace_period_a_new_certificate_renews_nothing(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    who = holder(db, tenant)
    _, version = program(db, tenant, validity_months=12, grace_days=30)
    old = certificate(db, tenant, version, who)
    expiry = get(db, tenant, old).expires_at
    assert expiry is not None
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, old, "expired", "validity ended", now=expiry)
    within = get(db, tenant, certificate(db, tenant, version, who, now=expiry + timedelta(days=29)))
    assert within.renews_id == old and within.expires_at == lifecycle.add_months(expiry, 12)
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, within.id, "revoked", "issued in error", now=expiry)
    late = get(db, tenant, certificate(db, tenant, version, who, now=expiry + timedelta(days=40)))
    assert late.renews_id is None


def test_states_move_only_as_allowed_with_a_reason(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant)
    cert = certificate(db, tenant, version)
    later = NOW + timedelta(days=1)
    with db.unit_of_work(tenant) as uow, pytest.raises(Invalid):
        lifecycle.change_state(uow, cert, "suspended", "  ", now=later)
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, cert, "suspended", "under investigation", now=later)
    with db.unit_of_work(tenant) as uow, pytest.raises(Conflict):
        lifecycle.change_state(uow, cert, "issued", "stale form", now=later, expect_seq=1)
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, cert, "issued", "cleared", now=later, expect_seq=2)
        lifecycle.change_state(uow, cert, "revoked", "fraud found", now=later)
    with db.unit_of_work(tenant) as uow:
        with pytest.raises(Conflict):
            lifecycle.change_state(uow, cert, "issued", "again", now=later)
        states = [(c.seq, c.from_state, c.state) for c in lifecycle.history(uow, cert)]
    assert states == [(1, None, "issued"), (2, "issued", "suspended"),
                      (3, "suspended", "issued"), (4, "issued", "revoked")]  # fmt: skip
    with db.unit_of_work(tenant, Actor.operator()) as uow:
        report = verify_records(uow, SOURCES)
    assert report.ok and report.anchored == report.records == 1 + 1 + 4


def _tampered(urls: DatabaseUrls, tenant_id: uuid.UUID, sql: str) -> list[str]:
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(text(sql))
            # The app role, bound to the tenant (the owner may look up every
            # tenant's certificates, for public verification).
            conn.exec_driver_sql("SET LOCAL ROLE invigil_app")
            uow = UnitOfWork.begin(Session(bind=conn), tenant_id, Actor.operator())
            report = verify_records(uow, SOURCES)
            tx.rollback()
    finally:
        engine.dispose()
    return [str(p) for p in report.problems]


def test_verify_names_a_rewritten_certificate_or_state(
    database: Database, settings: Settings, urls: DatabaseUrls
) -> None:
    db = database
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant)
    cert = certificate(db, tenant, version)
    moved = _tampered(urls, tenant, f"UPDATE certificates SET expires_at = expires_at + interval "
                                  f"'5 years' WHERE id = '{cert}'")  # fmt: skip
    assert any(str(cert) in p for p in moved), moved
    state = _tampered(
        urls, tenant, f"UPDATE certificates SET state = 'suspended' WHERE id = '{cert}'"
    )
    assert any("last state change" in p for p in state), state


def test_the_app_role_may_change_only_the_current_state(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant)
    cert = certificate(db, tenant, version)
    with pytest.raises(DBAPIError, match="permission denied"), db.unit_of_work(tenant) as uow:
        uow.session.execute(
            text("UPDATE certificates SET expires_at = now() WHERE id = :i"), {"i": cert}
        )
    with pytest.raises(DBAPIError), db.unit_of_work(tenant) as uow:
        uow.session.execute(
            text("UPDATE certificate_state_changes SET reason = 'x' WHERE certificate_id = :i"),
            {"i": cert},
        )


def test_the_public_lookup_finds_the_tenant_and_nothing_else(
    db: Database, settings: Settings
) -> None:
    tenant = make_tenant(db, settings).id
    _, version = program(db, tenant)
    cert = certificate(db, tenant, version)
    assert platform.certificate_tenant(db, cert) == tenant
    assert platform.certificate_tenant(db, uuid.uuid4()) is None
