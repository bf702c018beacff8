"""Shortlist runs against the database: the rules, the tie-breaks, what
"final" means, the frozen rule set and determinism, the anchored record."""

from __future__ import annotations

import uuid

import pytest

from invigil.audit.anchored import verify_records
from invigil.audit.models import AuditEvent
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid
from invigil.shortlists import announce, service
from invigil.shortlists.records import SOURCES
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.shortlists.factories import exam, ranked, rule_set, sit


def test_rules_rank_and_exclude_with_the_first_rule_failed(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    e = exam(db, t)
    best = sit(db, t, e, "90.00", categories={"Writing": "80.00"})
    second = sit(db, t, e, "75.00", categories={"Writing": "70.00"})
    weak_writing = sit(db, t, e, "80.00", categories={"Writing": "40.00"})
    low = sit(db, t, e, "50.00", passed=False)
    grading = sit(db, t, e, "95.00", pending=True)
    flagged = sit(db, t, e, "95.00", integrity="flagged")
    violated = sit(
        db,
        t,
        e,
        "95.00",
        categories={"Writing": "95.00"},
        integrity="flagged",
        outcome="violation_fail",
        final=True,
    )
    slow = sit(db, t, e, "85.00", categories={"Writing": "90.00"}, minutes=90)
    running = sit(db, t, e, "0", submitted=False)
    rules = {"min_percent": "60", "min_category_percent": {"Writing": "50"},
             "pass_required": True, "integrity_allowed": ["clear", "cleared"],
             "max_minutes": 60}  # fmt: skip
    rid = rule_set(db, t, rules)
    with db.unit_of_work(t) as uow:
        run = service.create_run(uow, rid, exam_ids=[e])
        assert (run.considered, run.shortlisted) == (9, 2)
    got = {a: (rank, failed) for _, a, rank, failed in ranked(db, t, run.id)}
    assert got[best] == (1, None) and got[second] == (2, None)
    assert got[weak_writing] == (None, "min_category_percent")
    assert got[low] == (None, "pass_required")
    assert got[grading] == (None, "final") and got[flagged] == (None, "final")
    assert got[running] == (None, "final")
    assert got[violated] == (None, "integrity_allowed")
    assert got[slow] == (None, "max_minutes")
    with db.unit_of_work(t) as uow:
        found = service.view(uow, run.id)
        reasons = {e.attempt_id: e for e in [*found.ranked, *found.excluded]}
        assert reasons[grading].failed == {"rule": "final", "actual": "awaiting_grading"}
        assert reasons[flagged].failed == {"rule": "final", "actual": "awaiting_review"}
        assert reasons[low].failed == {"rule": "pass_required", "actual": False}
        assert {"rule": "min_percent", "required": "60", "actual": "90"} in reasons[best].met
        assert reasons[slow].failed == {"rule": "max_minutes", "required": 60,
                                        "actual_seconds": 5400}  # fmt: skip


def test_tie_breaks_apply_in_the_order_named(db: BoundDatabase, tenant_a: Tenant) -> None:
    t = tenant_a.id
    e = exam(db, t)
    slow_strong = sit(db, t, e, "80.00", categories={"Writing": "90.00"}, minutes=50)
    fast_weak = sit(db, t, e, "80.00", categories={"Writing": "70.00"}, minutes=20)
    fast_weak_late = sit(db, t, e, "80.00", categories={"Writing": "70.00"}, minutes=20,
                         offset=5)  # fmt: skip
    top = sit(db, t, e, "81.00", minutes=59)
    by_category = rule_set(db, t, {"tie_breaks": ["category:Writing", "earlier_submission"]})
    by_time = rule_set(db, t, {"tie_breaks": ["shorter_time", "earlier_submission"], "top_n": 3})
    with db.unit_of_work(t) as uow:
        a = service.create_run(uow, by_category, exam_ids=[e])
        b = service.create_run(uow, by_time, exam_ids=[e])
    assert [x[1] for x in ranked(db, t, a.id)] == [top, slow_strong, fast_weak, fast_weak_late]
    order = ranked(db, t, b.id)
    assert [x[1] for x in order] == [top, fast_weak, fast_weak_late, slow_strong]
    assert order[-1][2:] == (None, "top_n")


def test_a_frozen_run_gives_the_identical_list_and_new_rules_are_a_new_version(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    e = exam(db, t)
    for i in range(6):
        sit(db, t, e, f"{60 + (i % 3) * 10}.00", minutes=20 + i)
    rid = rule_set(db, t, {"min_percent": "65"})
    with db.unit_of_work(t) as uow:
        first = service.create_run(uow, rid, exam_ids=[e])
        service.add_version(uow, rid, {"min_percent": "75"})
        again = service.rerun(uow, first.id)
        latest = service.create_run(uow, rid, exam_ids=[e])
        assert again.rules == first.rules and again.rules_sha256 == first.rules_sha256
        assert again.rerun_of == first.id
        assert latest.rules["min_percent"] == "75" and latest.rules_sha256 != first.rules_sha256
    strip = lambda rows: [r[1:] for r in rows]  # noqa: E731
    assert strip(ranked(db, t, again.id)) == strip(ranked(db, t, first.id))
    assert strip(ranked(db, t, latest.id)) != strip(ranked(db, t, first.id))


def test_a_completed_run_is_anchored_audited_and_announced(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    t = tenant_a.id
    e = exam(db, t)
    kept = sit(db, t, e, "70.00")
    sit(db, t, e, "40.00")
    rid = rule_set(db, t, {"min_percent": "50"})
    heard: list[tuple[str, dict[str, object]]] = []

    def hook(uow: UnitOfWork, event: str, data: dict[str, object]) -> None:
        heard.append((event, data))

    announce.register(hook)
    try:
        with db.unit_of_work(t) as uow:
            run = service.create_run(uow, rid, exam_ids=[e])
    finally:
        announce.unregister(hook)
    ((event, data),) = heard
    assert event == "shortlist.completed"
    assert data["run_id"] == str(run.id) and data["considered"] == 2
    assert data["shortlisted"] == 1 and data["excluded"] == 1
    assert data["entries"] == [{"rank": 1, "attempt_id": str(kept), "candidate_id": data[
        "entries"][0]["candidate_id"], "exam_id": str(e), "percent": "70.00",  # type: ignore[index]
        "stage": "screened"}]  # fmt: skip
    with db.unit_of_work(t) as uow:
        entry = uow.session.query(AuditEvent).filter_by(
            action="shortlist.run_completed", subject_id=str(run.id)).one()  # fmt: skip
        assert entry.payload["anchor"]["kind"] == "shortlist_run"
        assert entry.payload["rules_sha256"] == run.rules_sha256
        assert verify_records(uow, SOURCES).ok


def test_rules_are_checked_naming_the_field(db: BoundDatabase, tenant_a: Tenant) -> None:
    bad = [
        ({"min_percent": "101"}, "rules.min_percent"),
        ({"min_category_percent": {"Writing": "-1"}}, "rules.min_category_percent.Writing"),
        ({"integrity_allowed": ["innocent"]}, "rules.integrity_allowed.0"),
        ({"tie_breaks": ["luck"]}, "rules.tie_breaks.0"),
        ({"tie_breaks": ["shorter_time", "shorter_time"]}, "rules.tie_breaks.1"),
        ({"top_n": 0}, "rules.top_n"),
        ({"surprise": 1}, "rules.surprise"),
    ]
    with db.unit_of_work(tenant_a.id) as uow:
        for rules, field in bad:
            with pytest.raises(Invalid) as caught:
                service.create_rule_set(uow, f"x{uuid.uuid4().hex[:6]}", rules)
            assert caught.value.extensions["field"] == field, rules
