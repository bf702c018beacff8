"""The demo content: a full bank and one published exam per preset, idempotent."""

from __future__ import annotations

from invigil.content import exams, questions
from invigil.content.bodies import TYPES
from invigil.content.demo import seed_content
from invigil.settings import Settings
from tests.conftest import BoundDatabase, make_tenant

PRESETS = {
    "practice-demo": "practice",
    "standard-demo": "standard",
    "strict-demo": "strict",
    "high-stakes-demo": "high_stakes",
}


def test_seed_content_is_complete_and_idempotent(db: BoundDatabase, settings: Settings) -> None:
    tenant = make_tenant(db, settings)
    first = seed_content(db, tenant.id)
    second = seed_content(db, tenant.id)
    assert first.created and not second.created
    assert first.exams == second.exams and set(first.exams) == set(PRESETS)
    with db.unit_of_work(tenant.id) as uow:
        rows, _ = questions.search(uow, questions.Search(bank_id=first.bank_id))
        assert len(rows) >= 30
        assert {r.question.type for r in rows} == set(TYPES)
        assert len({r.version.category for r in rows}) >= 4
        kinds = set()
        for slug, preset in PRESETS.items():
            exam = exams.require_exam(uow, first.exams[slug])
            assert exam.status == "published" and exam.published_version == 1
            assert exam.settings["proctoring_preset"] == preset
            kinds |= {s["kind"] for s in exam.sections}
            _, version, _, paper = exams.preview(uow, exam.id, 1)
            assert version == 1 and paper
            ids = [s.question_id for s in paper]
            assert len(ids) == len(set(ids))
        assert kinds == {"fixed", "pool"}


def test_seed_content_runs_in_a_second_tenant(db: BoundDatabase, settings: Settings) -> None:
    a, b = make_tenant(db, settings), make_tenant(db, settings)
    assert seed_content(db, a.id).bank_id != seed_content(db, b.id).bank_id
