"""The double marking rule as a property: two marks within the tolerance
settle at their mean (half-up to cents), between the two; further apart
they await moderation; a moderation or a regrade is final."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from invigil.results.grading import Rules, mean, state_of
from invigil.results.models import GradingMark

cents = st.integers(min_value=0, max_value=2000).map(lambda n: Decimal(n) / 100)
AT = datetime(2026, 12, 1, tzinfo=UTC)


def mark(kind: str, total: Decimal, minutes: int = 0) -> GradingMark:
    return GradingMark(
        id=uuid.uuid4(),
        kind=kind,
        total=total,
        grader_id=uuid.uuid4(),
        created_at=AT + timedelta(minutes=minutes),
    )


@given(a=cents, b=cents, tolerance=st.integers(min_value=0, max_value=100))
def test_two_marks_settle_or_await_moderation(a: Decimal, b: Decimal, tolerance: int) -> None:
    worth = Decimal(20)
    rules = Rules(blind=True, double=True, tolerance_percent=Decimal(tolerance))
    first, second = mark("first", a), mark("second", b, 1)
    settled = state_of(rules, worth, [first, second])
    if abs(a - b) <= worth * tolerance / 100:
        assert settled.status == "final" and settled.final == mean(a, b)
        assert min(a, b) <= settled.final <= max(a, b)
        assert settled.rests_on == (first.id, second.id)
    else:
        assert settled.status == "awaiting_moderation" and settled.final is None
    assert state_of(rules, worth, [first]).status == "awaiting_second"
    decided = mark("moderation", a, 2)
    assert state_of(rules, worth, [first, second, decided]).final == a
    later = mark("regrade", b, 3)
    assert state_of(rules, worth, [first, second, decided, later]).final == b


@given(a=cents)
def test_single_marking_is_final_at_the_first_mark(a: Decimal) -> None:
    rules = Rules(blind=True, double=False, tolerance_percent=Decimal(10))
    assert state_of(rules, Decimal(20), []).status == "unmarked"
    assert state_of(rules, Decimal(20), [mark("first", a)]).final == a
