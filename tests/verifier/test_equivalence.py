"""The offline recomputation equals the result Invigil recorded, field for
field, for attempts sat, marked, moderated and regraded through the real
services: every type of question, pools and scaled sections, answers
accepted in a translation's language, single and double marking."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from invigil.content import translations
from invigil.content.translations import TranslationIn
from invigil.results import grading
from invigil.results.schemas import CriterionMarkIn, MarkIn, ModerationIn, RegradeIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.verifier.paper import check_paper
from invigil.verifier.scoring import check_revisions, compare, recompute
from tests.conftest import BoundDatabase, make_user
from tests.content.factories import make_bank, make_question
from tests.content.test_translations import GERMAN, bilingual
from tests.delivery.factories import exam_with_every_type, kit_for, published_exam
from tests.results.factories import graded_exam
from tests.verifier.sitting import Documents, documents, right_answer, sit


def agrees(found: Documents) -> None:
    mine = recompute(found.exam, found.sheet, found.marks)
    assert compare(mine, found.latest) is None
    assert check_revisions(found.exam, found.sheet, found.marks, found.results) is None
    # Every field the recomputation gives is one the document has, with the same value.
    assert {k: found.latest[k] for k in mine} == mine
    assert check_paper(found.exam, found.sheet) is None


@pytest.mark.parametrize("right", [0, 3, 8])
def test_every_type_of_question_right_wrong_and_blank(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant, right: int
) -> None:
    exam = exam_with_every_type(
        db,
        tenant_a.id,
        settings={"pass_mark_percent": 40, "category_pass_marks": {"Science": 50, "Maths": 100}},
    )

    def respond(index: int, slot: dict[str, Any], body: dict[str, Any]) -> Any:
        if index < right:
            return right_answer(slot, body)
        return None if index % 2 else {"numeric": "3,2", "short_text": "Bonn"}.get(body["type"])

    found = documents(db, tenant_a.id, sit(db, tenant_a.id, kit_for(settings), exam, respond))
    assert found.latest["needs_grading"]  # the essay waits for a person, answered or not
    agrees(found)


def test_double_marking_moderation_and_regrades_revision_by_revision(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    ann, bob, mod = (make_user(db, tenant_a.id, [r]) for r in ("grader", "grader", "moderator"))
    exam = graded_exam(db, tenant_a.id, double_marking=True, marking_tolerance_percent=15)
    answers = {0: 1, 1: "An essay.", 2: "Bonn, I think"}
    attempt = sit(db, tenant_a.id, kit_for(settings), exam, lambda i, s, b: answers.get(i))

    def by(user: Any) -> Any:
        from invigil.db.uow import Actor

        return db.unit_of_work(tenant_a.id, Actor("user", str(user.id)))

    def essay(structure: str, language: str) -> MarkIn:
        return MarkIn(criteria=[CriterionMarkIn(criterion="Argument: structure", level=structure),
                                CriterionMarkIn(criterion="Language", level=language)])  # fmt: skip

    with by(ann) as uow:
        grading.submit_mark(uow, attempt, 1, essay("Strong = clear", "Good"))  # 8
        grading.submit_mark(uow, attempt, 2, MarkIn(points=Decimal("1.5")))
    agrees(documents(db, tenant_a.id, attempt))  # still the automatic result
    with by(bob) as uow:
        grading.submit_mark(uow, attempt, 1, essay("Weak", "Excellent"))  # 4: too far apart
        grading.submit_mark(uow, attempt, 2, MarkIn(points=Decimal("1.35")))  # within 0.3
    agrees(documents(db, tenant_a.id, attempt))  # the essay awaits moderation
    with by(mod) as uow:
        grading.moderate(uow, attempt, 1, ModerationIn(total=Decimal("6.5"), reason="middle"))
    found = documents(db, tenant_a.id, attempt)
    assert [d["revision"] for d in found.results] == [1, 2]
    assert found.latest["questions"][2]["awarded"] == "1.43"  # (1.5 + 1.35) / 2 = 1.425, half up
    agrees(found)
    with by(mod) as uow:
        grading.regrade(uow, attempt, 1, RegradeIn(criteria=essay("Weak", "Good").criteria,
                                                   reason="second look"))  # fmt: skip
    with by(ann) as uow:
        grading.regrade(uow, attempt, 2, RegradeIn(points=Decimal("2"), reason="right after all"))
    found = documents(db, tenant_a.id, attempt)
    assert [d["revision"] for d in found.results] == [1, 2, 3, 4]
    agrees(found)


def test_pools_scaled_sections_and_shuffled_papers(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    fixed_bank, pool_bank, mix_bank = (make_bank(db, tenant_a.id) for _ in range(3))
    fixed = [str(make_question(db, tenant_a.id, fixed_bank, k)) for k in ("matching", "ordering")]
    for n, kind in enumerate(["single_choice", "multiple_choice", "numeric", "true_false"] * 2):
        for bank in (pool_bank, mix_bank):
            make_question(db, tenant_a.id, bank, kind, points=[1, 2.5, 3, 0.75][n % 4],
                          difficulty=["easy", "hard"][n % 2])  # fmt: skip
    exam = published_exam(
        db,
        tenant_a.id,
        sections=[
            {"kind": "fixed", "question_ids": fixed},
            {"kind": "pool", "bank_id": str(pool_bank), "count": 3, "scale_to_points": "10"},
            {
                "kind": "pool",
                "bank_id": str(mix_bank),
                "difficulty_mix": {"easy": 1, "hard": 2},
                "scale_to_points": "7.01",
            },
        ],
        settings={"pass_mark_percent": 62.5, "proctoring_preset": "practice"},
    )
    kit = kit_for(settings)
    for k in range(4):
        attempt = sit(db, tenant_a.id, kit, exam,
                      lambda i, s, b, k=k: right_answer(s, b) if (i + k) % 3 else None)  # fmt: skip
        found = documents(db, tenant_a.id, attempt)
        assert Decimal(found.latest["max"]) == 10 + Decimal("7.01") + 2 + 3
        agrees(found)


def test_short_answers_accepted_in_the_candidates_language(
    db: BoundDatabase, settings: Settings
) -> None:
    tenant = bilingual(db, settings)
    bank = make_bank(db, tenant.id)
    ids = [make_question(db, tenant.id, bank, kind) for kind in ("short_text", "single_choice")]
    with db.unit_of_work(tenant.id) as uow:
        words = GERMAN["short_text"] | {"accepted": ["Stadt Berlin"]}
        translations.put(uow, ids[0], "de", TranslationIn.model_validate(words))
    exam = published_exam(db, tenant.id, sections=[{"kind": "fixed", "question_ids": [str(i) for i in ids]}],
                          settings={"proctoring_preset": "practice"})  # fmt: skip
    kit = kit_for(settings)
    for language, points in (("de", "2.00"), ("en", "0.00"), (None, "0.00")):
        attempt = sit(db, tenant.id, kit, exam,
                      lambda i, s, b: "stadt  berlin" if b["type"] == "short_text" else 1,
                      language=language)  # fmt: skip
        found = documents(db, tenant.id, attempt)
        short = next(q for q in found.latest["questions"] if q["type"] == "short_text")
        assert short["awarded"] == points
        agrees(found)


def test_a_regrade_no_revision_took_in_is_noticed(
    db: BoundDatabase, settings: Settings, tenant_a: Tenant
) -> None:
    grader = make_user(db, tenant_a.id, ["grader"])
    exam = graded_exam(db, tenant_a.id)
    attempt = sit(
        db, tenant_a.id, kit_for(settings), exam, lambda i, s, b: {1: "Essay", 2: "Bonn"}.get(i)
    )
    from invigil.db.uow import Actor

    with db.unit_of_work(tenant_a.id, Actor("user", str(grader.id))) as uow:
        grading.submit_mark(uow, attempt, 1, MarkIn(criteria=[
            CriterionMarkIn(criterion="Argument: structure", level="Weak"),
            CriterionMarkIn(criterion="Language", level="Good")]))  # fmt: skip
        grading.submit_mark(uow, attempt, 2, MarkIn(points=Decimal("1")))
    found = documents(db, tenant_a.id, attempt)
    agrees(found)
    extra = {**found.marks[0], "id": str(uuid.uuid4()), "kind": "regrade", "total": "9.00",
             "created_at": "2999-01-01T00:00:00.000000Z", "reason": "hidden",
             "marks": [{"criterion": "Argument: structure", "level": "Strong = clear", "points": "6.00"},
                       {"criterion": "Language", "level": "Good", "points": "2.00"}]}  # fmt: skip
    said = check_revisions(found.exam, found.sheet, [*found.marks, extra], found.results)
    assert said is not None and said.startswith("revision 2 (all marks): awarded")
