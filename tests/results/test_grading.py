"""Grading by people: rubric levels and totals, double marking within and
beyond tolerance, moderation, regrades, the result revisions they issue,
immutable marks, tenant isolation and the audit anchors of every mark."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from invigil.audit.anchored import verify_records
from invigil.content.scoring import score
from invigil.db.engine import Database
from invigil.db.uow import Actor, UnitOfWork
from invigil.db.urls import DatabaseUrls
from invigil.delivery.models import AttemptResult
from invigil.delivery.records import SOURCES as DELIVERY
from invigil.errors import Conflict, Invalid, NotFound
from invigil.results import grading
from invigil.results.models import GradingMark
from invigil.results.records import SOURCES
from invigil.results.schemas import CriterionMarkIn, MarkIn, ModerationIn, RegradeIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted

ESSAY, SHORT = 1, 2


def essay(structure: str, language: str, comment: str = "") -> MarkIn:
    return MarkIn(
        criteria=[
            CriterionMarkIn(criterion="Argument: structure", level=structure, comment=comment),
            CriterionMarkIn(criterion="Language", level=language),
        ]
    )


def as_user(db: BoundDatabase, tenant: Tenant, user: Any) -> Any:
    return db.unit_of_work(tenant.id, Actor("user", str(user.id)))


def results_of(db: BoundDatabase, tenant: Tenant, attempt: uuid.UUID) -> list[AttemptResult]:
    with db.unit_of_work(tenant.id) as uow:
        return uow.scalars(
            select(AttemptResult)
            .where(AttemptResult.attempt_id == attempt)
            .order_by(AttemptResult.revision)
        )


@pytest.fixture
def graders(db: BoundDatabase, tenant_a: Tenant) -> dict[str, Any]:
    return {
        "ann": make_user(db, tenant_a.id, ["grader"]),
        "bob": make_user(db, tenant_a.id, ["grader"]),
        "mod": make_user(db, tenant_a.id, ["moderator"]),
    }


def test_manual_credit_sends_an_unmatched_short_answer_to_a_human() -> None:
    body = {"type": "short_text", "prompt": "Capital?", "accepted": ["Berlin"]}
    assert score(body | {"manual_credit": True}, 2, "Bonn").needs_human
    assert score(body | {"manual_credit": True}, 2, "berlin").awarded == Decimal("2.00")
    assert not score(body | {"manual_credit": True}, 2, "  ").needs_human  # nothing to mark
    assert score(body, 2, "Bonn") == score(body, 2, "Bonn").__class__(
        Decimal("0.00"), Decimal("2.00")
    )


def test_single_marking_levels_total_and_the_new_revision(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, graders: dict[str, Any]
) -> None:
    exam = graded_exam(db, tenant_a.id)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    (first,) = results_of(db, tenant_a, attempt)
    assert first.needs_grading and first.document["pending_questions"] == 2

    with as_user(db, tenant_a, graders["ann"]) as uow:
        mark = grading.submit_mark(uow, attempt, ESSAY, essay("Strong = clear", "Good", "clear"))
        assert (mark.kind, mark.total, mark.max_points) == (
            "first",
            Decimal("8.00"),
            Decimal("10.00"),
        )
        assert mark.marks[0] == {
            "criterion": "Argument: structure",
            "level": "Strong = clear",
            "points": "6.00",
            "comment": "clear",
        }
    assert len(results_of(db, tenant_a, attempt)) == 1  # the short answer still waits
    with as_user(db, tenant_a, graders["ann"]) as uow:
        short = grading.submit_mark(
            uow, attempt, SHORT, MarkIn(points=Decimal("0.5"), comment="near")
        )
    revisions = results_of(db, tenant_a, attempt)
    assert [r.revision for r in revisions] == [1, 2]
    doc = revisions[1].document
    assert doc["scored_by"] == "human" and sorted(doc["mark_ids"]) == sorted(
        [str(mark.id), str(short.id)]
    )
    assert doc["needs_grading"] is False and "reason" not in doc
    assert doc["awarded"] == "9.50" and doc["max"] == "13.00" and doc["percent"] == "73.08"
    assert doc["passed"] is True
    assert doc["questions"][ESSAY]["awarded"] == "8.00"
    assert doc["questions"][SHORT]["awarded"] == "0.50"
    assert doc["categories"]["Writing"]["awarded"] == "8.00"
    assert revisions[1].awarded == Decimal("9.50") and not revisions[1].needs_grading


def test_marks_are_checked_against_the_rubric_and_the_rules(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, graders: dict[str, Any]
) -> None:
    exam = graded_exam(db, tenant_a.id)
    kit = kit_for(settings)
    attempt = submitted(db, tenant_a.id, kit, exam)
    ann = graders["ann"]
    bad = [
        (essay("Brilliant", "Good"), "has no level 'Brilliant'"),
        (MarkIn(criteria=[CriterionMarkIn(criterion="Style", level="x")]), "no criterion 'Style'"),
        (MarkIn(criteria=[CriterionMarkIn(criterion="Language", level="Good")]), "choose a level"),
        (MarkIn(points=Decimal(5)), "rubric levels, not points"),
    ]
    for mark, words in bad:
        with pytest.raises(Invalid, match=words), as_user(db, tenant_a, ann) as uow:
            grading.submit_mark(uow, attempt, ESSAY, mark)
    with pytest.raises(Invalid, match=r"worth 2\.00 points"), as_user(db, tenant_a, ann) as uow:
        grading.submit_mark(uow, attempt, SHORT, MarkIn(points=Decimal(3)))
    with pytest.raises(Conflict, match="needs no human"), as_user(db, tenant_a, ann) as uow:
        grading.submit_mark(uow, attempt, 0, MarkIn(points=Decimal(1)))
    with pytest.raises(NotFound), as_user(db, tenant_a, ann) as uow:
        grading.submit_mark(uow, attempt, 9, MarkIn(points=Decimal(1)))
    running = submitted(db, tenant_a.id, kit, exam, submit=False)
    with pytest.raises(Conflict, match="only submitted"), as_user(db, tenant_a, ann) as uow:
        grading.submit_mark(uow, running, ESSAY, essay("Weak", "Poor"))
    with as_user(db, tenant_a, ann) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Poor"))
    with pytest.raises(Conflict, match="already marked"), as_user(db, tenant_a, ann) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Good"))
    # Nothing refused was written.
    with db.unit_of_work(tenant_a.id) as uow:
        assert len(grading.marks_of(uow, attempt)) == 1


def test_double_marking_within_tolerance_settles_at_the_mean(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, graders: dict[str, Any]
) -> None:
    exam = graded_exam(db, tenant_a.id, double_marking=True, marking_tolerance_percent=20)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam, {0: 0, 1: "An essay"})
    with as_user(db, tenant_a, graders["ann"]) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Strong = clear", "Excellent"))  # 10
    assert len(results_of(db, tenant_a, attempt)) == 1  # awaits the second mark
    with (
        pytest.raises(Conflict, match="already marked this"),
        as_user(db, tenant_a, graders["ann"]) as uow,
    ):
        grading.submit_mark(uow, attempt, ESSAY, essay("Strong = clear", "Excellent"))
    with as_user(db, tenant_a, graders["bob"]) as uow:
        second = grading.submit_mark(uow, attempt, ESSAY, essay("Strong = clear", "Good"))  # 8
        assert second.kind == "second"
    latest = results_of(db, tenant_a, attempt)[-1]
    assert latest.revision == 2 and latest.document["questions"][ESSAY]["awarded"] == "9.00"
    # Exactly at the tolerance (2 of 10 points at 20 %) is within it.
    rules = grading.Rules(blind=True, double=True, tolerance_percent=Decimal(20))
    assert rules.tolerance(Decimal(10)) == Decimal(2)
    assert grading.mean(Decimal("3.33"), Decimal("3.34")) == Decimal("3.34")


def test_beyond_tolerance_a_moderator_decides_and_a_regrade_issues_a_new_revision(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, graders: dict[str, Any]
) -> None:
    exam = graded_exam(db, tenant_a.id, double_marking=True, marking_tolerance_percent=10)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam, {0: 0, 1: "An essay"})
    with as_user(db, tenant_a, graders["ann"]) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Strong = clear", "Excellent"))  # 10
    with (
        pytest.raises(Conflict, match="awaits moderation"),
        as_user(db, tenant_a, graders["mod"]) as uow,
    ):
        grading.moderate(uow, attempt, ESSAY, ModerationIn(total=Decimal(7), reason="x"))
    with as_user(db, tenant_a, graders["bob"]) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Good"))  # 2
    with db.unit_of_work(tenant_a.id) as uow:
        assert grading.response(uow, attempt, ESSAY).state.status == "awaiting_moderation"
    assert len(results_of(db, tenant_a, attempt)) == 1
    with (
        pytest.raises(Conflict, match="awaits a moderator"),
        as_user(db, tenant_a, graders["mod"]) as uow,
    ):
        grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Good"))
    with (
        pytest.raises(Conflict, match="marked this answer yourself"),
        as_user(db, tenant_a, graders["bob"]) as uow,
    ):
        grading.moderate(uow, attempt, ESSAY, ModerationIn(total=Decimal(7), reason="mine"))
    with (
        pytest.raises(Invalid, match=r"worth 10\.00"),
        as_user(db, tenant_a, graders["mod"]) as uow,
    ):
        grading.moderate(uow, attempt, ESSAY, ModerationIn(total=Decimal(11), reason="x"))
    with as_user(db, tenant_a, graders["mod"]) as uow:
        decided = grading.moderate(
            uow, attempt, ESSAY, ModerationIn(total=Decimal("7.5"), reason="argument holds")
        )
    revisions = results_of(db, tenant_a, attempt)
    assert revisions[-1].revision == 2
    assert revisions[-1].document["questions"][ESSAY]["awarded"] == "7.50"
    assert revisions[-1].document["mark_ids"] == [str(decided.id)]

    with as_user(db, tenant_a, graders["mod"]) as uow:
        again = grading.regrade(
            uow,
            attempt,
            ESSAY,
            RegradeIn(**essay("Strong = clear", "Good").model_dump(), reason="appeal upheld"),
        )
    revisions = results_of(db, tenant_a, attempt)
    assert [r.revision for r in revisions] == [1, 2, 3]
    doc = revisions[-1].document
    assert doc["questions"][ESSAY]["awarded"] == "8.00" and doc["reason"] == "appeal upheld"
    assert doc["mark_ids"] == [str(again.id)]
    assert revisions[1].document["questions"][ESSAY]["awarded"] == "7.50"  # kept


def test_marks_are_immutable_and_tampering_is_found(
    database: Database, settings: Settings, urls: DatabaseUrls
) -> None:
    tenant = make_tenant(database, settings)
    ann = make_user(database, tenant.id, ["grader"])
    attempt = submitted(database, tenant.id, kit_for(settings), graded_exam(database, tenant.id))
    with database.unit_of_work(tenant.id, Actor("user", str(ann.id))) as uow:
        mark = grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Good"))
    with database.unit_of_work(tenant.id) as uow:
        assert verify_records(uow, (*DELIVERY, *SOURCES)).ok
        with pytest.raises(DBAPIError, match="permission denied"), uow.session.begin_nested():
            uow.session.execute(text("DELETE FROM grading_marks WHERE id = :id"), {"id": mark.id})
    engine = create_engine(urls.admin.set(database=urls.owner.database), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            tx = conn.begin()
            conn.exec_driver_sql("SET LOCAL ROLE invigil_owner")
            conn.exec_driver_sql(f"SET LOCAL app.tenant_id = '{tenant.id}'")
            with pytest.raises(DBAPIError, match="append-only"), conn.begin_nested():
                conn.execute(
                    text("UPDATE grading_marks SET total = 9 WHERE id = :id"), {"id": mark.id}
                )
            tx.rollback()
        with engine.connect() as conn:  # the owner gone rogue, triggers off: the log finds it
            tx = conn.begin()
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.execute(text("UPDATE grading_marks SET total = 9 WHERE id = :id"), {"id": mark.id})
            conn.exec_driver_sql("SET LOCAL ROLE invigil_owner")
            uow = UnitOfWork.begin(Session(bind=conn), tenant.id, Actor.operator())
            report = verify_records(uow, SOURCES)
            tx.rollback()
    finally:
        engine.dispose()
    assert not report.ok and report.first_bad is not None
    assert report.first_bad["kind"] == "mark" and report.first_bad["id"] == str(mark.id)


def test_another_tenants_response_is_not_found(
    db: BoundDatabase,
    settings: Settings,
    tenant_a: Tenant,
    tenant_b: Tenant,
    graders: dict[str, Any],
) -> None:
    exam = graded_exam(db, tenant_a.id)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    other = make_user(db, tenant_b.id, ["grader"])
    with pytest.raises(NotFound), as_user(db, tenant_b, other) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Good"))
    with db.unit_of_work(tenant_b.id) as uow:
        assert uow.scalars(select(GradingMark)) == []


def test_blind_grading_hides_other_marks_until_ones_own(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, graders: dict[str, Any]
) -> None:
    exam = graded_exam(db, tenant_a.id, double_marking=True)
    attempt = submitted(db, tenant_a.id, kit_for(settings), exam)
    with as_user(db, tenant_a, graders["ann"]) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Weak", "Good"))
    with db.unit_of_work(tenant_a.id) as uow:
        found = grading.response(uow, attempt, ESSAY)
        assert grading.visible_marks(found, graders["bob"].id, moderator=False) == []
        assert len(grading.visible_marks(found, graders["ann"].id, moderator=False)) == 1
        # A moderator may still give the second mark: blind until the marking is over.
        assert grading.visible_marks(found, graders["mod"].id, moderator=True) == []
    with as_user(db, tenant_a, graders["bob"]) as uow:
        grading.submit_mark(uow, attempt, ESSAY, essay("Strong = clear", "Excellent"))
    with db.unit_of_work(tenant_a.id) as uow:
        found = grading.response(uow, attempt, ESSAY)
        assert found.state.status == "awaiting_moderation"
        assert len(grading.visible_marks(found, graders["mod"].id, moderator=True)) == 2
