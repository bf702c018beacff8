"""Scoring rules per type, and invariants that hold for every response."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invigil.content.bodies import BODY, parse_body
from invigil.content.scoring import score
from tests.content.factories import SAMPLES

CORRECT: dict[str, Any] = {
    "single_choice": 1,
    "multiple_choice": [0, 2, 4],
    "true_false": True,
    "numeric": 3.14,
    "short_text": "Berlin",
    "ordering": [0, 1, 2],
    "matching": [0, 1, 2],
}


@pytest.mark.parametrize("kind", sorted(CORRECT))
def test_the_right_answer_earns_full_points(kind: str) -> None:
    s = SAMPLES[kind]
    result = score(s["body"], s["points"], CORRECT[kind])
    assert result.awarded == result.max == Decimal(str(s["points"])).quantize(Decimal("0.01"))
    assert not result.needs_human


def test_essays_need_a_human() -> None:
    s = SAMPLES["essay"]
    result = score(s["body"], s["points"], "Remote work is ...")
    assert result.needs_human and result.awarded == 0 and result.max == Decimal("10.00")


@pytest.mark.parametrize(
    "kind,response",
    [
        ("single_choice", 0),
        ("single_choice", True),  # a bool is not a choice index
        ("single_choice", "1"),
        ("true_false", 1),
        ("numeric", 3.2),
        ("numeric", "three"),
        ("numeric", float("nan")),
        ("short_text", "Munich"),
        ("short_text", "x" * 5000),
        ("ordering", [1, 0, 2]),
        ("multiple_choice", "all"),
        ("matching", None),
    ],
)
def test_wrong_or_malformed_answers_earn_nothing(kind: str, response: Any) -> None:
    s = SAMPLES[kind]
    assert score(s["body"], s["points"], response).awarded == 0


def test_numeric_tolerance_is_absolute_and_inclusive() -> None:
    body = {"type": "numeric", "prompt": "x", "value": 10, "tolerance": 0.5}
    assert score(body, 1, 10.5).awarded == 1
    assert score(body, 1, "9,5").awarded == 1
    assert score(body, 1, 10.51).awarded == 0


def test_short_text_normalises_spaces_and_case_and_uses_the_pattern() -> None:
    s = SAMPLES["short_text"]
    assert score(s["body"], 2, "  berlin,   GERMANY ").awarded == 2
    assert score(s["body"], 2, "Berliner").awarded == 2  # the pattern, case-insensitive
    strict = s["body"] | {"case_sensitive": True, "pattern": None}
    assert score(strict, 2, "berlin").awarded == 0
    assert score(strict, 2, "Berlin").awarded == 2


def test_multiple_choice_rules() -> None:
    body = dict(SAMPLES["multiple_choice"]["body"])
    # proportional: +1 per right, -1 per wrong, floored at 0, over 3 right choices
    assert score(body, 3, [0, 2]).awarded == 2
    assert score(body, 3, [0, 2, 1]).awarded == 1
    assert score(body, 3, [0, 1, 3]).awarded == 0
    nothing = body | {"scoring": "all_or_nothing"}
    assert score(nothing, 3, [0, 2]).awarded == 0
    assert score(nothing, 3, [4, 2, 0]).awarded == 3


def test_matching_earns_a_share_per_right_pair() -> None:
    s = SAMPLES["matching"]
    assert score(s["body"], 3, [0, 2, 1]).awarded == 1
    assert score(s["body"], 3, {"0": 0, "1": 1}).awarded == 2


def test_all_or_nothing_matching_needs_every_pair() -> None:
    body = SAMPLES["matching"]["body"] | {"scoring": "all_or_nothing"}
    assert score(body, 3, [0, 2, 1]).awarded == 0
    assert score(body, 3, {"0": 0, "1": 1}).awarded == 0
    assert score(body, 3, [0, 1, 2]).awarded == 3


bodies = st.sampled_from(sorted(SAMPLES)).map(lambda k: SAMPLES[k]["body"])
points = st.decimals(min_value="0.01", max_value="1000", places=2)
responses = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 30) | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=12,
)


@given(bodies, points, responses)
def test_awarded_is_between_zero_and_the_points(body: dict[str, Any], pts: Decimal, r: Any) -> None:
    result = score(body, pts, r)
    assert 0 <= result.awarded <= result.max == pts


@given(points, st.lists(st.integers(0, 4), unique=True), st.randoms())
def test_multiple_choice_ignores_the_order_of_the_selection(
    pts: Decimal, chosen: list[int], rnd: Any
) -> None:
    for rule in ("proportional", "all_or_nothing"):
        body = SAMPLES["multiple_choice"]["body"] | {"scoring": rule}
        shuffled = list(chosen)
        rnd.shuffle(shuffled)
        assert score(body, pts, chosen) == score(body, pts, shuffled)


@given(st.data())
def test_shuffled_choices_score_the_same_when_mapped_back(data: st.DataObject) -> None:
    """A candidate answering on a shuffled paper scores as on the stored order."""
    from invigil.content.assemble import Slot
    from invigil.content.paper import to_stored

    body = SAMPLES["multiple_choice"]["body"]
    order = tuple(data.draw(st.permutations(range(5))))
    slot = Slot(0, "q", "v", "multiple_choice", order)
    picked_on_paper = data.draw(st.lists(st.integers(0, 4), unique=True))
    stored = to_stored(slot, picked_on_paper)
    direct = [order[p] for p in picked_on_paper]
    assert score(body, 3, stored) == score(body, 3, sorted(direct))


@given(st.sampled_from(sorted(CORRECT)), points)
def test_full_points_for_the_right_answer_at_any_points(kind: str, pts: Decimal) -> None:
    result = score(parse_body(SAMPLES[kind]["body"]), pts, CORRECT[kind])
    assert result.awarded == pts


def test_every_sample_is_a_valid_body() -> None:
    for s in SAMPLES.values():
        BODY.validate_python(s["body"])
