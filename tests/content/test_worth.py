"""Every paper of an exam is worth the same: a pool whose questions carry
different points is refused at publish (naming the section and the points),
unless the section is scaled to a fixed number of points."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.content import exams, worth
from invigil.content.assemble import assemble
from invigil.content.freeze import FrozenExam
from invigil.errors import Invalid
from invigil.tenants.models import Tenant
from tests.conftest import BoundDatabase
from tests.content.factories import make_bank, make_exam, make_question
from tests.content.test_api import headers


def uneven_pool(db: BoundDatabase, tenant: Tenant, points: tuple[float, ...] = (1, 2, 5)) -> Any:
    bank = make_bank(db, tenant.id)
    fixed = make_question(db, tenant.id, bank, "single_choice")  # 1 point
    for p in points:
        make_question(db, tenant.id, bank, "true_false", points=p)
    return bank, fixed


def sections(bank: uuid.UUID, fixed: uuid.UUID, **pool: Any) -> list[dict[str, Any]]:
    return [
        {"kind": "fixed", "question_ids": [str(fixed)]},
        {"kind": "pool", "bank_id": str(bank), "count": 2} | pool,
    ]


def test_publishing_an_uneven_pool_is_refused_naming_the_section_and_points(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    bank, fixed = uneven_pool(db, tenant_a)
    exam_id = make_exam(db, tenant_a.id, sections(bank, fixed))
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(Invalid) as refused:
        exams.publish_exam(uow, exam_id)
    assert "questions in this pool are worth 1, 2 and 5 points" in refused.value.detail
    assert refused.value.extensions == {"field": "sections[1]", "points": ["1.00", "2.00", "5.00"]}


def test_a_scaled_pool_publishes_and_every_paper_is_worth_the_same(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    bank, fixed = uneven_pool(db, tenant_a)
    exam_id = make_exam(db, tenant_a.id, sections(bank, fixed, scale_to_points="3"))
    with db.unit_of_work(tenant_a.id) as uow:
        version = exams.publish_exam(uow, exam_id)
        assert version.sections[1]["scale_to_points"] == "3"
        assert exams.every_paper_worth(uow, version.sections) == Decimal("4.00")


def test_a_mix_may_differ_between_difficulties_but_not_within_one(
    db: BoundDatabase, tenant_a: Tenant
) -> None:
    """Every paper draws as many of each difficulty, so only points within a
    difficulty must agree."""
    bank = make_bank(db, tenant_a.id)
    for p in (1, 1):
        make_question(db, tenant_a.id, bank, "true_false", points=p, difficulty="easy")
    for p in (4, 4):
        make_question(db, tenant_a.id, bank, "true_false", points=p, difficulty="hard")
    mix = {"kind": "pool", "bank_id": str(bank), "difficulty_mix": {"easy": 1, "hard": 1}}
    exam_id = make_exam(db, tenant_a.id, [mix])
    with db.unit_of_work(tenant_a.id) as uow:
        version = exams.publish_exam(uow, exam_id)
        assert exams.every_paper_worth(uow, version.sections) == Decimal("5.00")
    make_question(db, tenant_a.id, bank, "true_false", points=3, difficulty="hard")
    with db.unit_of_work(tenant_a.id) as uow, pytest.raises(Invalid, match="hard questions in"):
        exams.publish_exam(uow, exam_id)


def test_the_api_refusal_is_problem_json_naming_the_section(
    app: FastAPI, db: BoundDatabase, tenant_a: Tenant, client: TestClient
) -> None:
    bank, fixed = uneven_pool(db, tenant_a, (1, 2.5))
    exam_id = make_exam(db, tenant_a.id, sections(bank, fixed))
    r = client.post(
        f"/api/v1/exams/{exam_id}/publish", headers=headers(app, db, tenant_a, "exam_author")
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["field"] == "sections[1]" and problem["points"] == ["1.00", "2.50"]
    assert "worth 1 and 2.5 points" in problem["detail"]


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=1, max_value=10_000_000),
    count=st.integers(min_value=1, max_value=500),
)
def test_shares_add_up_to_exactly_the_total(cents: int, count: int) -> None:
    total = Decimal(cents) / 100
    if total < count * worth.CENT:
        return  # the section setting refuses less than a cent a question
    parts = worth.shares(total, count)
    assert len(parts) == count and sum(parts) == total
    assert max(parts) - min(parts) <= worth.CENT and min(parts) > 0


@settings(max_examples=150, deadline=None)
@given(
    points=st.lists(
        st.decimals(min_value=Decimal("0.01"), max_value=100, places=2), min_size=1, max_size=40
    ),
    data=st.data(),
)
def test_every_drawn_paper_of_a_scaled_pool_is_worth_exactly_n(
    points: list[Decimal], data: st.DataObject
) -> None:
    count = data.draw(st.integers(min_value=1, max_value=len(points)))
    n = data.draw(
        st.decimals(min_value=count * worth.CENT, max_value=10_000, places=2).filter(
            lambda d: d.is_finite()
        )
    )
    pool = [
        {"question_id": f"q{k}", "version_id": f"v{k:03}", "type": "true_false",
         "difficulty": "easy", "options": 0}
        for k in range(len(points))
    ]  # fmt: skip
    fixed = {"kind": "fixed", "questions": [dict(pool[0], question_id="f", version_id="f")]}
    section = {"kind": "pool", "count": count, "difficulty_mix": None, "pool": pool,
               "scale_to_points": str(n)}  # fmt: skip
    version = FrozenExam("t", "", "", {}, {}, [fixed, section])
    own = {e["version_id"]: p for e, p in zip(pool, points, strict=True)} | {"f": Decimal(7)}
    for seed in data.draw(st.lists(st.integers(0, 2**53), min_size=2, max_size=4)):
        paper = assemble(version, seed)
        worths = worth.slot_points(
            version.sections, [s.section for s in paper], [own[s.version_id] for s in paper]
        )
        assert sum(w for s, w in zip(paper, worths, strict=True) if s.section == 1) == n
        assert sum(worths) == n + 7  # the fixed section keeps its own points
