"""assemble(exam_version, seed): reproducible, varied, never a duplicate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invigil.content.assemble import assemble
from invigil.errors import Invalid


def entry(
    n: int, kind: str = "single_choice", difficulty: str = "easy", options: int = 4
) -> dict[str, Any]:
    return {
        "question_id": f"q{n}",
        "version_id": f"v{n}",
        "type": kind,
        "difficulty": difficulty,
        "options": options,
    }


@dataclass
class Version:
    sections: list[dict[str, Any]]
    settings: dict[str, Any] = field(default_factory=dict)


def version(**settings: Any) -> Version:
    pool = [entry(n, difficulty=("easy", "medium", "hard")[n % 3]) for n in range(10, 40)]
    return Version(
        sections=[
            {"kind": "fixed", "questions": [entry(1), entry(2, "ordering", options=4),
                                            entry(3, "matching", options=3), entry(4, "essay", options=0)]},
            {"kind": "pool", "count": 5, "difficulty_mix": None, "pool": pool[:15]},
            {"kind": "pool", "count": None, "difficulty_mix": {"easy": 2, "hard": 3}, "pool": pool[15:]},
        ],
        settings=settings,
    )  # fmt: skip


def test_same_seed_same_paper() -> None:
    assert assemble(version(), 42) == assemble(version(), 42)


def test_different_seeds_give_different_papers() -> None:
    papers = {tuple(assemble(version(), seed)) for seed in range(20)}
    assert len(papers) == 20


@given(st.integers(min_value=0, max_value=2**53))
def test_no_paper_holds_a_question_twice_and_mixes_are_kept(seed: int) -> None:
    paper = assemble(version(), seed)
    ids = [s.question_id for s in paper]
    assert len(ids) == len(set(ids)) == 4 + 5 + 5
    assert [s.section for s in paper] == [0] * 4 + [1] * 5 + [2] * 5
    third = [int(s.question_id[1:]) for s in paper if s.section == 2]
    assert sorted(("easy", "medium", "hard")[n % 3] for n in third) == ["easy"] * 2 + ["hard"] * 3
    for s in paper:
        assert sorted(s.option_order) == list(range(len(s.option_order)))
        if s.type in ("ordering", "matching"):
            assert list(s.option_order) != sorted(s.option_order)  # never the answer itself


def test_without_shuffling_the_order_is_the_stored_one() -> None:
    paper = assemble(version(shuffle_questions=False, shuffle_options=False), 7)
    fixed = [s for s in paper if s.section == 0]
    assert [s.question_id for s in fixed] == ["q1", "q2", "q3", "q4"]
    assert fixed[0].option_order == (0, 1, 2, 3)
    assert fixed[1].option_order != (0, 1, 2, 3)  # ordering items are always shuffled


def test_options_are_shuffled_per_question_reproducibly() -> None:
    orders = {assemble(version(), seed)[0].option_order for seed in range(30)}
    assert len(orders) > 5


def test_a_pool_that_cannot_be_filled_is_invalid() -> None:
    v = Version(sections=[{"kind": "pool", "title": "Too few", "count": 3, "difficulty_mix": None,
                           "pool": [entry(1), entry(2)]}])  # fmt: skip
    with pytest.raises(Invalid, match="draws 3 questions but only 2"):
        assemble(v, 1)
