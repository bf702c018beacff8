"""The verifier's reading of the scoring rules agrees with Invigil's on
every type of question and every kind of answer, without a database: the
same answer shape check, the same positions, the same points."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.content.bodies import parse_body
from invigil.content.schemas import QuestionIn
from invigil.content.scoring import score
from invigil.delivery import answers
from invigil.verifier import question_rules as rules
from tests.verifier.strategies import KINDS, answer, question


@st.composite
def case(draw: st.DrawFn) -> tuple[dict[str, Any], Decimal, dict[str, Any], Any]:
    kind = draw(st.sampled_from(KINDS))
    q = QuestionIn.model_validate(draw(question(kind)))  # as stored: validated, cleaned
    stored = q.model_dump(mode="json")["body"]
    n = {"single_choice": "choices", "multiple_choice": "choices", "ordering": "items",
         "matching": "pairs"}.get(kind)  # fmt: skip
    order = draw(st.permutations(list(range(len(stored[n]))))) if n else []
    slot = {"type": kind, "option_order": list(order)}
    top = Decimal(str(draw(st.sampled_from(["0.01", "1", "2.50", "3.33", str(q.points)]))))
    return stored, top.quantize(Decimal("0.01")), slot, draw(answer(stored, list(order)))


@settings(max_examples=600, deadline=None)
@given(case())
def test_every_answer_scores_the_same_in_both_readings(
    found: tuple[dict[str, Any], Decimal, dict[str, Any], Any],
) -> None:
    body, top, slot, response = found
    fits = answers.check(slot, response) is None
    assert rules.fits(slot, response) == fits
    stored = answers.to_stored(slot, response) if fits else None
    assert rules.canonical(slot, response) == stored if fits else True
    theirs = score(parse_body(body), top, stored)
    assert rules.score(body, top, stored) == (theirs.awarded, theirs.needs_human)


def test_odd_shapes_fit_alike() -> None:
    slot = {"type": "numeric", "option_order": []}
    for response in [True, float("inf"), "x" * 51, "1" * 50, 2**63, [1], {"a": 1}, "a\x00"]:
        assert rules.fits(slot, response) == (answers.check(slot, response) is None), response
    essay = {"type": "essay", "option_order": []}
    for response in ["a" * 60_000, "a" * 60_001, "\ud800", "ß" * 60_000]:
        assert rules.fits(essay, response) == (answers.check(essay, response) is None)


def test_an_essay_mark_follows_from_its_levels_scaled_to_the_worth() -> None:
    body = {
        "type": "essay",
        "rubric": [
            {"name": "A", "levels": [{"label": "no", "points": 0}, {"label": "yes", "points": 6}]},
            {
                "name": "B",
                "levels": [
                    {"label": "no", "points": 0},
                    {"label": "ok", "points": 1.5},
                    {"label": "yes", "points": 4},
                ],
            },
        ],
    }
    rows = [{"criterion": "A", "level": "yes"}, {"criterion": "B", "level": "ok"}]
    assert rules.essay_points(body, rows, Decimal("10.00")) == Decimal("7.50")
    assert rules.essay_points(body, rows, Decimal("3.33")) == Decimal("2.50")  # 7.5 * 3.33 / 10
    try:
        rules.essay_points(body, [{"criterion": "A", "level": "maybe"}], Decimal(10))
    except ValueError as exc:
        assert "'A'" in str(exc)
    else:
        raise AssertionError("an unknown level was taken")
