"""The check is not vacuous: one changed answer, one changed mark, one
changed scoring key or rule of the frozen exam, and the recomputation no
longer matches the recorded result (and says where)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from invigil.db.uow import Actor
from invigil.results import grading
from invigil.results.schemas import CriterionMarkIn, MarkIn
from invigil.settings import Settings
from invigil.tenants.models import Tenant
from invigil.verifier.paper import check_paper
from invigil.verifier.scoring import check_revisions, compare, recompute
from tests.conftest import BoundDatabase, make_user
from tests.delivery.factories import TYPES, exam_with_every_type, kit_for
from tests.verifier.sitting import Documents, documents, right_answer, sit

ESSAY = TYPES.index("essay")
Change = Callable[[Documents], None]


@pytest.fixture
def marked(db: BoundDatabase, settings: Settings, tenant_a: Tenant) -> Documents:
    """Every type answered right; the essay marked (8 of 10 points)."""
    exam = exam_with_every_type(
        db,
        tenant_a.id,
        settings={"pass_mark_percent": 80, "category_pass_marks": {"Geography": 100}},
    )
    attempt = sit(db, tenant_a.id, kit_for(settings), exam, lambda i, s, b: right_answer(s, b))
    grader = make_user(db, tenant_a.id, ["grader"])
    with db.unit_of_work(tenant_a.id, Actor("user", str(grader.id))) as uow:
        levels = [CriterionMarkIn(criterion="Argument: structure", level="Strong = clear"),
                  CriterionMarkIn(criterion="Language", level="Good")]  # fmt: skip
        grading.submit_mark(uow, attempt, ESSAY, MarkIn(criteria=levels))
    found = documents(db, tenant_a.id, attempt)
    assert compare(recompute(found.exam, found.sheet, found.marks), found.latest) is None
    assert found.latest["awarded"] == "22.50" and found.latest["passed"] is True
    return found


def body(found: Documents, slot: int) -> dict[str, Any]:
    version = found.sheet["paper"][slot]["version_id"]
    return found.exam["question_versions"][version]["body"]  # type: ignore[no-any-return]


def answer_of(found: Documents, slot: int) -> dict[str, Any]:
    return next(a for a in found.sheet["answers"] if a["slot"] == slot)


def key(slot: int, field: str, value: Any) -> Change:
    return lambda f: body(f, slot).__setitem__(field, value)


def other_answer(slot: int) -> Change:
    def change(f: Documents) -> None:
        a = answer_of(f, slot)
        r = a["response"]
        a["response"] = {
            "single_choice": lambda: (r + 1) % 4,
            "multiple_choice": lambda: r[:1],
            "true_false": lambda: not r,
            "numeric": lambda: 3.2,
            "short_text": lambda: "Bonn",
            "essay": lambda: "Another essay.",
            "ordering": lambda: list(reversed(r)),
            "matching": lambda: [None, *r[1:]],
        }[f.sheet["paper"][slot]["type"]]()

    return change


def settings_of(field: str, value: Any) -> Change:
    return lambda f: f.exam["frozen"]["settings"].__setitem__(field, value)


def points(slot: int, value: str) -> Change:
    def change(f: Documents) -> None:
        f.exam["question_versions"][f.sheet["paper"][slot]["version_id"]]["points"] = value

    return change


def mark(field: str, value: Any) -> Change:
    return lambda f: f.marks[0].__setitem__(field, value)


CHANGES: dict[str, Change] = {
    **{f"answer to the {kind}": other_answer(n) for n, kind in enumerate(TYPES)},
    "single choice key": key(0, "correct", 0),
    "multiple choice key": key(1, "correct", [0, 2]),
    "multiple choice scoring rule": lambda f: (
        answer_of(f, 1).__setitem__("response", answer_of(f, 1)["response"][:2]),
        key(1, "scoring", "all_or_nothing")(f),
    ),
    "true/false key": key(2, "correct", False),
    "numeric value": key(3, "value", 3.2),
    "numeric tolerance": lambda f: (key(3, "tolerance", 0)(f), key(3, "value", 3.145)(f)),
    "accepted answers": lambda f: (key(4, "accepted", ["Bonn"])(f), key(4, "pattern", None)(f)),
    "case rule": lambda f: (key(4, "case_sensitive", True)(f), key(4, "accepted", ["BERLIN"])(f)),
    "paper's option order": lambda f: f.sheet["paper"][6]["option_order"].reverse(),
    "question points": points(0, "2.00"),
    "pass mark": settings_of("pass_mark_percent", 95),
    "category pass mark": settings_of("category_pass_marks", {"Geography": 100, "Writing": 90}),
    "essay mark's level": lambda f: f.marks[0]["marks"][1].__setitem__("level", "Excellent"),
    "mark's total (a short answer's)": lambda f: (
        f.marks[0].__setitem__("marks", []),
        mark("total", "5.00")(f),
    ),
    "mark's slot": mark("slot", 4),
    "double marking": settings_of("double_marking", True),
}


@pytest.mark.parametrize("what", sorted(CHANGES))
def test_one_change_and_the_result_no_longer_matches(marked: Documents, what: str) -> None:
    found = copy.deepcopy(marked)
    CHANGES[what](found)
    said = compare(recompute(found.exam, found.sheet, found.marks), found.latest)
    assert said is not None, what
    assert check_revisions(found.exam, found.sheet, found.marks, found.results) is not None


def test_compare_names_the_field_and_both_values(marked: Documents) -> None:
    found = copy.deepcopy(marked)
    recorded = copy.deepcopy(found.latest)
    recorded["questions"][3]["awarded"] = "2.49"
    mine = recompute(found.exam, found.sheet, found.marks)
    assert compare(mine, recorded) == "questions[3].awarded (recorded '2.49', recomputed '2.50')"
    recorded = copy.deepcopy(found.latest) | {"passed": 1}
    assert compare(mine, recorded) == "passed (recorded 1, recomputed True)"
    del recorded["categories"]["Maths"]
    recorded["passed"] = True
    assert compare(mine, recorded).startswith("categories.Maths (recorded nothing")  # type: ignore[union-attr]
    assert Decimal(mine["percent"]) == Decimal("91.84")  # 22.5 / 24.5, half up


def test_a_paper_its_seed_would_not_draw_is_named(marked: Documents) -> None:
    assert check_paper(marked.exam, marked.sheet) is None
    found = copy.deepcopy(marked)
    found.sheet["paper"][6]["option_order"].reverse()
    assert check_paper(found.exam, found.sheet) == (
        f"paper[6].option_order (recorded {found.sheet['paper'][6]['option_order']!r}, "
        f"replayed {marked.sheet['paper'][6]['option_order']!r})"
    )
    found = copy.deepcopy(marked)
    found.sheet["seed"] = str(int(found.sheet["seed"]) + 1)  # the same questions, other shuffles
    assert (check_paper(found.exam, found.sheet) or "").startswith("paper[")
    found.sheet["paper"].pop()
    assert check_paper(found.exam, found.sheet) == "paper (recorded 7 questions, replayed 8)"
