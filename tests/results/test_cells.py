"""Result cells: each question of an attempt's latest result revision as a
row, replaced with every new revision, isolated per tenant, and the same
whether the write path or the migration's backfill wrote them."""

from __future__ import annotations

import importlib
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select, text

from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.delivery import results
from invigil.delivery.models import Attempt, AttemptResult, ResultCell
from invigil.results import grading
from invigil.results.schemas import CriterionMarkIn, MarkIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase, make_tenant, make_user
from tests.delivery.factories import kit_for
from tests.results.factories import graded_exam, submitted

MIGRATION = importlib.import_module("invigil.db.migrations.versions.0028_result_cells")

ESSAY, SHORT = 1, 2
ESSAY_MARK = MarkIn(
    criteria=[
        CriterionMarkIn(criterion="Argument: structure", level="Strong = clear"),
        CriterionMarkIn(criterion="Language", level="Good"),
    ]
)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def expected(attempt: Attempt, result: AttemptResult) -> list[tuple[Any, ...]]:
    """The cells as the document and the paper say them."""
    return [
        (
            slot,
            result.id,
            result.revision,
            attempt.exam_id,
            attempt.exam_version,
            attempt.paper[slot].get("section"),
            uuid.UUID(q["question_id"]),
            uuid.UUID(q["version_id"]),
            q["category"],
            q["type"],
            _decimal(q["awarded"]),
            Decimal(q["max"]),
            q["needs_grading"],
            q["time_ms"],
            q["canonical_response"],
        )
        for slot, q in enumerate(result.document["questions"])
    ]


def stored(uow: Any, attempt_id: uuid.UUID) -> list[tuple[Any, ...]]:
    cells = uow.scalars(
        select(ResultCell).where(ResultCell.attempt_id == attempt_id).order_by(ResultCell.slot)
    )
    return [
        (
            c.slot,
            c.result_id,
            c.revision,
            c.exam_id,
            c.exam_version,
            c.section,
            c.question_id,
            c.version_id,
            c.category,
            c.type,
            c.awarded,
            c.max,
            c.needs_grading,
            c.time_ms,
            c.canonical_response,
        )
        for c in cells
    ]


def test_cells_are_the_latest_revisions_questions(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, tenant_b: Tenant
) -> None:
    exam = graded_exam(db, tenant_a.id)
    attempt_id = submitted(db, tenant_a.id, kit_for(settings), exam)
    grader = make_user(db, tenant_a.id, ["grader"])
    with db.unit_of_work(tenant_a.id) as uow:
        attempt = uow.get(Attempt, attempt_id)
        first = results.latest_result(uow, attempt_id)
        assert first is not None and first.revision == 1
        cells = stored(uow, attempt_id)
        assert cells == expected(attempt, first)
        assert len(cells) == 3 and cells[ESSAY][10] is None and cells[ESSAY][12] is True
        assert cells[0][14] == 1  # the option chosen, canonical
    with db.unit_of_work(tenant_a.id, Actor("user", str(grader.id))) as uow:
        grading.submit_mark(uow, attempt_id, ESSAY, ESSAY_MARK)
        grading.submit_mark(uow, attempt_id, SHORT, MarkIn(points=Decimal("0.5")))
    with db.unit_of_work(tenant_a.id) as uow:
        second = results.latest_result(uow, attempt_id)
        assert second is not None and second.revision == 2
        cells = stored(uow, attempt_id)
        assert cells == expected(uow.get(Attempt, attempt_id), second)
        # replaced, not added to: one row per slot, all from revision 2
        assert [c[2] for c in cells] == [2, 2, 2]
        assert (cells[ESSAY][10], cells[SHORT][10]) == (Decimal("8.00"), Decimal("0.50"))
    with db.unit_of_work(tenant_b.id) as uow:  # another tenant sees none of them
        assert stored(uow, attempt_id) == []
        assert uow.session.scalar(text("SELECT count(*) FROM result_cells")) == 0


def _cells_of(conn: Connection, tenant_id: uuid.UUID, attempts: list[uuid.UUID]) -> list[Any]:
    conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
    rows = conn.execute(
        text(
            "SELECT * FROM result_cells WHERE attempt_id = ANY(CAST(:a AS uuid[]))"
            " ORDER BY attempt_id, slot"
        ),
        {"a": [str(a) for a in attempts]},
    ).all()
    return [tuple(r) for r in rows]


FORGET_ALL = """
DO $$
DECLARE t uuid;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        DELETE FROM result_cells;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END
$$
"""


def test_the_migrations_backfill_writes_the_same_cells(
    database: Database, settings: Settings, owner_conn: Connection
) -> None:
    made: dict[uuid.UUID, list[uuid.UUID]] = {}
    for _ in range(2):
        tenant = make_tenant(database, settings)
        exam = graded_exam(database, tenant.id)
        kit = kit_for(settings)
        graded = submitted(database, tenant.id, kit, exam)
        waiting = submitted(database, tenant.id, kit, exam, {0: 0, 1: "Short essay"})
        grader = make_user(database, tenant.id, ["grader"])
        with database.unit_of_work(tenant.id, Actor("user", str(grader.id))) as uow:
            grading.submit_mark(uow, graded, ESSAY, ESSAY_MARK)
            grading.submit_mark(uow, graded, SHORT, MarkIn(points=Decimal("1")))
        made[tenant.id] = [graded, waiting]
    written = {t: _cells_of(owner_conn, t, a) for t, a in made.items()}
    assert all(len(cells) == 6 for cells in written.values())
    assert {c[4] for cells in written.values() for c in cells} == {1, 2}  # both revisions

    owner_conn.exec_driver_sql(FORGET_ALL)
    assert all(_cells_of(owner_conn, t, a) == [] for t, a in made.items())
    owner_conn.exec_driver_sql(MIGRATION.BACKFILL)
    assert {t: _cells_of(owner_conn, t, a) for t, a in made.items()} == written
