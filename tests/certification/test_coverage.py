"""Coverage at a controlled ``now``: every status from real certificates
(issued through the lifecycle at back-dated times), the precedence between
them, the summary's counts, the matrix's pages and filters."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from invigil.certification import coverage, groups, lifecycle
from invigil.certification.coverage import Filters
from invigil.certification.models import Certificate
from invigil.db.engine import Database
from invigil.errors import Invalid
from invigil.settings import Settings
from tests.certification.factories import NOW, certificate, holder, program
from tests.conftest import make_tenant

# Validity 12 months, grace 30 days; "now" of the dashboard:
AT = NOW + timedelta(days=400)


def _months_before(days_left: int) -> timedelta:
    """How long before AT to issue a 12-month certificate so that it expires
    ``days_left`` days after AT (negative: before)."""
    expires = AT + timedelta(days=days_left)
    issued = lifecycle.add_months(expires, -12)
    return AT - issued


def _setup(db: Database, tenant: uuid.UUID) -> dict[str, uuid.UUID]:
    prog, version = program(db, tenant, validity_months=12, grace_days=30, name="Safety")
    people: dict[str, uuid.UUID] = {}
    for key, days_left in (("covered", 200), ("e90", 75), ("e60", 45), ("e30", 10),
                           ("grace", -10), ("lapsed", -100)):  # fmt: skip
        people[key] = holder(db, tenant, f"P {key}")
        certificate(db, tenant, version, people[key], now=AT - _months_before(days_left))
    people["never"] = holder(db, tenant, "P never")
    people["revoked"] = holder(db, tenant, "P revoked")
    revoked = certificate(db, tenant, version, people["revoked"], now=AT - timedelta(days=20))
    people["suspended"] = holder(db, tenant, "P suspended")
    suspended = certificate(db, tenant, version, people["suspended"], now=AT - timedelta(days=20))
    # renewed: an old lapsed certificate superseded by a fresh one
    people["renewed"] = holder(db, tenant, "P renewed")
    certificate(db, tenant, version, people["renewed"], now=AT - timedelta(days=800))
    certificate(db, tenant, version, people["renewed"], now=AT - timedelta(days=5))
    # issued after AT: does not count at AT
    people["future"] = holder(db, tenant, "P future")
    certificate(db, tenant, version, people["future"], now=AT + timedelta(days=1))
    with db.unit_of_work(tenant) as uow:
        lifecycle.change_state(uow, revoked, "revoked", "fraud", now=AT - timedelta(days=1))
        lifecycle.change_state(uow, suspended, "suspended", "audit", now=AT - timedelta(days=1))
        team = groups.create(uow, "Support team", "team")
        site = groups.create(uow, "Berlin", "site")
        groups.set_required(uow, team.id, [prog])
        groups.set_required(uow, site.id, [prog])
        for person in people.values():
            groups.add_member(uow, team.id, person)
        groups.add_member(uow, site.id, people["covered"])
        groups.add_member(uow, site.id, people["lapsed"])
        people["team"], people["site"], people["program"] = team.id, site.id, prog
    return people


def test_every_status_and_its_precedence(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    p = _setup(db, tenant)
    with db.unit_of_work(tenant) as uow:
        found = coverage.everyone(uow, Filters(group_id=p["team"]), now=AT)
    status = {person.candidate_id: person.cells[str(p["program"])]["status"] for person in found}
    assert status[p["covered"]] == "covered"
    assert status[p["e90"]] == "expiring_90"
    assert status[p["e60"]] == "expiring_60"
    assert status[p["e30"]] == "expiring_30"
    assert status[p["grace"]] == "grace"  # expired 10 days ago, grace 30
    assert status[p["lapsed"]] == "lapsed"  # expired 100 days ago
    assert status[p["never"]] == "never"
    assert status[p["revoked"]] == "lapsed"
    assert status[p["suspended"]] == "lapsed"  # suspended does not cover
    assert status[p["renewed"]] == "covered"  # the renewal supersedes
    assert status[p["future"]] == "never"  # not issued yet at AT
    # Marked expired by the daily pass: still in grace by its dates.
    with db.unit_of_work(tenant) as uow:
        cert = uow.scalar(select(Certificate).where(Certificate.holder_id == p["grace"]))
        lifecycle.change_state(uow, cert.id, "expired", "expired", now=AT - timedelta(days=9))
        again = coverage.matrix(uow, Filters(group_id=p["team"], status="grace"), now=AT)
    assert [x.candidate_id for x in again.people] == [p["grace"]]
    # 31 days after its expiry its grace is over (the one expiring at AT + 10
    # days is in grace by then).
    with db.unit_of_work(tenant) as uow:
        later = coverage.matrix(uow, Filters(status="grace"), now=AT + timedelta(days=21))
    assert [x.candidate_id for x in later.people] == [p["e30"]]


def test_summary_counts_per_group_and_program(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    p = _setup(db, tenant)
    with db.unit_of_work(tenant) as uow:
        empty = groups.create(uow, "Field engineers", "role")
        groups.set_required(uow, empty.id, [p["program"]])
        found = coverage.summary(uow, Filters(), now=AT)
    by_group = {line.group_name: line for line in found.lines}
    assert list(by_group) == ["Berlin", "Field engineers", "Support team"]
    team = by_group["Support team"]
    assert team.members == 11
    assert team.counts == {"covered": 2, "expiring_90": 1, "expiring_60": 1, "expiring_30": 1,
                           "grace": 1, "lapsed": 3, "never": 2}  # fmt: skip
    assert by_group["Berlin"].counts["covered"] == 1 and by_group["Berlin"].members == 2
    assert by_group["Field engineers"].members == 0
    assert found.totals["lapsed"] == 4 and found.members == 13
    assert found.by_program[0][1] == "Safety" and found.by_program[0][2]["covered"] == 3
    assert team.covered_percent == round(5 * 100 / 11)
    with db.unit_of_work(tenant) as uow:
        only = coverage.summary(uow, Filters(status="never"), now=AT)
    assert [line.group_name for line in only.lines] == ["Support team"]


def test_matrix_pages_and_filters(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    p = _setup(db, tenant)
    with db.unit_of_work(tenant) as uow:
        first = coverage.matrix(uow, Filters(), now=AT, limit=4)
        second = coverage.matrix(uow, Filters(), now=AT, offset=4, limit=4)
        past = coverage.matrix(uow, Filters(), now=AT, offset=40, limit=4)
        site = coverage.matrix(uow, Filters(group_id=p["site"]), now=AT)
        lapsed = coverage.matrix(uow, Filters(status="lapsed"), now=AT)
    assert first.total == second.total == past.total == 11  # people, not memberships
    assert [x.name for x in first.people] == ["P covered", "P e30", "P e60", "P e90"]
    assert next(x.name for x in second.people) == "P future"
    assert past.people == []
    assert first.programs == [(p["program"], "Safety")]
    assert {x.name for x in site.people} == {"P covered", "P lapsed"}
    assert {x.name for x in lapsed.people} == {"P lapsed", "P revoked", "P suspended"}
    with pytest.raises(Invalid):
        Filters(status="bogus")
    with db.unit_of_work(tenant) as uow, pytest.raises(Invalid):
        coverage.matrix(uow, Filters(), now=AT, limit=0)


def test_another_tenants_groups_stay_out(db: Database, settings: Settings) -> None:
    tenant = make_tenant(db, settings).id
    _setup(db, tenant)
    other = make_tenant(db, settings).id
    with db.unit_of_work(other) as uow:
        assert coverage.summary(uow, Filters(), now=AT).lines == []
        assert coverage.matrix(uow, Filters(), now=AT).total == 0
