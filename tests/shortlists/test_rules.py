"""The ranking as a property over random cohorts and random rules: a total,
stable order (the same whatever order the cohort is read in), ranks 1..n
without gaps, and every excluded candidate excluded by exactly the first
rule (in the documented order) that an independent check finds failed."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from invigil.shortlists.rules import INTEGRITY, ORDER, Facts, evaluate, parse, sort_key

CATS = ("Writing", "Practice")
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
percents = st.integers(0, 100).map(lambda n: Decimal(n))  # few values: many ties


@st.composite
def facts(draw: Any) -> Facts:
    not_final = draw(st.sampled_from([None, None, None, "awaiting_grading", "awaiting_review"]))
    return Facts(
        attempt_id=uuid.UUID(int=draw(st.integers(0, 2**128 - 1))),
        exam_id=uuid.UUID(int=1),
        candidate_id=uuid.uuid4(),
        not_final=not_final,
        percent=draw(st.none() | percents.filter(lambda p: p % 10 == 0)),
        passed=draw(st.none() | st.booleans()),
        integrity=draw(st.sampled_from(INTEGRITY)),
        seconds=draw(st.none() | st.sampled_from([600, 1800, 3600])),
        submitted_at=draw(st.none() | st.sampled_from([T0, T0 + timedelta(hours=1)])),
        categories={
            c: draw(percents.filter(lambda p: p % 25 == 0)) for c in CATS if draw(st.booleans())
        },
    )


rule_sets = st.fixed_dictionaries(
    {},
    optional={
        "min_percent": st.sampled_from(["0", "40", "60.5"]),
        "min_category_percent": st.dictionaries(
            st.sampled_from(CATS), st.sampled_from(["25", "50"])
        ),
        "pass_required": st.booleans(),
        "integrity_allowed": st.lists(st.sampled_from(INTEGRITY), min_size=1, unique=True),
        "max_minutes": st.sampled_from([20, 45, 90]),
        "top_n": st.integers(1, 8),
        "tie_breaks": st.lists(
            st.sampled_from(
                ["category:Writing", "category:Practice", "shorter_time", "earlier_submission"]
            ),
            unique=True,
            max_size=3,
        ),
    },
).map(parse)


def first_failed(rules: dict[str, Any], f: Facts) -> str | None:
    """Each rule checked on its own, in ORDER (top_n aside)."""
    fails = {
        "final": f.not_final is not None,
        "pass_required": rules["pass_required"] and f.passed is not True,
        "min_percent": rules["min_percent"] is not None
        and (f.percent is None or f.percent < Decimal(rules["min_percent"])),
        "min_category_percent": any(
            f.categories.get(c) is None or f.categories[c] < Decimal(m)
            for c, m in rules["min_category_percent"].items()
        ),
        "integrity_allowed": f.integrity not in rules["integrity_allowed"],
        "max_minutes": rules["max_minutes"] is not None
        and (f.seconds is None or f.seconds > rules["max_minutes"] * 60),
    }
    return next((rule for rule in ORDER if fails.get(rule)), None)


@settings(max_examples=300, deadline=None)
@given(rules=rule_sets, cohort=st.lists(facts(), max_size=25, unique_by=lambda f: f.attempt_id),
       seed=st.randoms(use_true_random=False))  # fmt: skip
def test_the_ranking_is_total_stable_and_each_exclusion_names_its_first_failed_rule(
    rules: dict[str, Any], cohort: list[Facts], seed: Any
) -> None:
    out = evaluate(rules, cohort)
    shuffled = list(cohort)
    seed.shuffle(shuffled)
    again = evaluate(rules, shuffled)
    assert [(o.facts.attempt_id, o.rank, o.failed) for o in again] == [
        (o.facts.attempt_id, o.rank, o.failed) for o in out]  # fmt: skip
    assert sorted(o.facts.attempt_id for o in out) == sorted(f.attempt_id for f in cohort)
    ranked = [o for o in out if o.rank is not None]
    assert [o.rank for o in ranked] == list(range(1, len(ranked) + 1))
    assert all(o.rank is None for o in out[len(ranked) :])
    keys = [sort_key(rules, o.facts) for o in ranked]
    assert all(a < b for a, b in itertools.pairwise(keys))  # strictly: no ties
    qualified = 0
    for o in sorted(out, key=lambda o: sort_key(rules, o.facts)):
        expected = first_failed(rules, o.facts)
        if expected is None:
            qualified += 1
            if rules["top_n"] is not None and qualified > rules["top_n"]:
                expected = "top_n"
        if expected is None:
            assert o.failed is None and o.rank == qualified
        else:
            assert o.failed is not None and o.failed["rule"] == expected and o.rank is None
