"""Hypothesis strategies for questions of every type, as authors write them
(``QuestionIn`` dicts), and for answers to them, right, wrong, partial,
blank or of a shape the question does not take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from hypothesis import strategies as st

CATEGORIES = ("Alpha", "Beta", "Gamma")
POINTS = (0.5, 1, 1.25, 2, 2.5, 3, 7.33)
WORDS = ("Berlin", "colour", "Straße", "New  York", "IX", "ß")


@st.composite
def body(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    prompt = {"prompt": f"A {kind} question"}
    if kind in ("single_choice", "multiple_choice"):
        n = draw(st.integers(2, 5))
        choices = [f"Choice {i}" for i in range(n)]
        if kind == "single_choice":
            return prompt | {
                "type": kind,
                "choices": choices,
                "correct": draw(st.integers(0, n - 1)),
            }
        correct = sorted(draw(st.sets(st.integers(0, n - 1), min_size=1)))
        scoring = draw(st.sampled_from(["all_or_nothing", "proportional"]))
        return prompt | {"type": kind, "choices": choices, "correct": correct, "scoring": scoring}
    if kind == "true_false":
        return prompt | {"type": kind, "correct": draw(st.booleans())}
    if kind == "numeric":
        value = draw(st.sampled_from([3.14, 0.3, -2, 1e6, 42.5]))
        tolerance = draw(st.sampled_from([0, 0.005, 0.5, 2]))
        return prompt | {"type": kind, "value": value, "tolerance": tolerance}
    if kind == "short_text":
        accepted = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=2, unique=True))
        out = prompt | {
            "type": kind,
            "accepted": accepted,
            "case_sensitive": draw(st.booleans()),
            "manual_credit": draw(st.booleans()),
        }
        if draw(st.booleans()):
            out["pattern"] = draw(st.sampled_from([r"colou?r", r"[0-9]+ ?km", r"ber.in"]))
        return out
    if kind == "essay":
        criteria = []
        for i in range(draw(st.integers(1, 3))):
            points = draw(st.lists(st.sampled_from([0, 0.5, 1, 1.5, 2, 3.25, 4]), min_size=2,
                                   max_size=4, unique=True))  # fmt: skip
            levels = [{"label": f"L{k}", "points": p} for k, p in enumerate(sorted(points))]
            criteria.append({"name": f"Criterion {i}", "levels": levels})
        return prompt | {"type": kind, "rubric": criteria}
    if kind == "ordering":
        return prompt | {
            "type": kind,
            "items": [f"Item {i}" for i in range(draw(st.integers(2, 5)))],
        }
    n = draw(st.integers(2, 4))
    pairs = [{"left": f"L{i}", "right": f"R{i}"} for i in range(n)]
    scoring = draw(st.sampled_from(["per_pair", "all_or_nothing", None]))
    out = prompt | {"type": "matching", "pairs": pairs}
    return out | {"scoring": scoring} if scoring else out


def rubric_points(b: dict[str, Any]) -> float:
    return sum(max(lv["points"] for lv in c["levels"]) for c in b["rubric"])


@st.composite
def question(draw: st.DrawFn, kind: str, points: Any = None) -> dict[str, Any]:
    b = draw(body(kind))
    if kind == "essay":
        worth = rubric_points(b)
        if worth <= 0:  # a rubric must be worth something
            b["rubric"][0]["levels"][-1]["points"] = 1
            worth = rubric_points(b)
    else:
        worth = points if points is not None else draw(st.sampled_from(POINTS))
    return {
        "category": draw(st.sampled_from(CATEGORIES)),
        "difficulty": draw(st.sampled_from(["easy", "medium", "hard"])),
        "points": worth,
        "body": b,
    }


KINDS = ("single_choice", "multiple_choice", "true_false", "numeric", "short_text",
         "essay", "ordering", "matching")  # fmt: skip


class Pick(Protocol):
    """What answers are chosen with: a ``random.Random``, or Hypothesis's draws."""

    def choice(self, seq: Sequence[Any]) -> Any: ...
    def randint(self, a: int, b: int) -> int: ...


class Drawn:
    """Hypothesis's draws as a :class:`Pick` (so failures shrink)."""

    def __init__(self, draw: st.DrawFn) -> None:
        self.draw = draw

    def choice(self, seq: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(seq)))

    def randint(self, a: int, b: int) -> int:
        return self.draw(st.integers(a, b))


ODD: tuple[Any, ...] = (True, -1, 0, 5, "", "x", "3,14", [], [0, 0], [1, 0], [-1], [0, None])


def respond(b: dict[str, Any], order: list[int], pick: Pick) -> Any:
    """A response in paper positions (``order[k]``: the stored position shown
    at k): right, wrong, blank or of an odd shape (the server decides)."""
    intent = pick.choice(["right", "wrong", "blank", "odd"])
    kind = b["type"]
    if intent == "blank":
        return None
    if intent == "odd":
        return pick.choice(ODD)
    right = intent == "right"
    n = len(order)
    canonical = [order.index(i) for i in range(n)]
    if kind == "single_choice":
        return order.index(b["correct"]) if right else pick.randint(0, n - 1)
    if kind == "multiple_choice":
        if right:
            return [order.index(c) for c in b["correct"]]
        return [k for k in range(n) if pick.randint(0, 1)]
    if kind == "true_false":
        return b["correct"] if right else pick.choice([True, False])
    if kind == "numeric":
        if right:
            return pick.choice([b["value"], str(b["value"]).replace(".", ",")])
        return pick.choice([b["value"] + b["tolerance"], b["value"] + 0.3, "12 km", "-0"])
    if kind == "short_text":
        if right:
            return pick.choice([f"  {b['accepted'][0].upper()} ", b["accepted"][0]])
        return pick.choice(["", "  ", "colour", "Color", "12km", "Bonn", "BERLIN", "ber in"])
    if kind == "essay":
        return pick.choice(["", "An essay of a few words.", "Ein Aufsatz."])
    if right:
        return canonical
    if kind == "ordering":
        rest, out = list(range(n)), []
        while rest:
            out.append(rest.pop(pick.randint(0, len(rest) - 1)))
        return out
    return [pick.choice([None, *range(n)]) for _ in range(n)]


@st.composite
def answer(draw: st.DrawFn, b: dict[str, Any], order: list[int]) -> Any:
    return respond(b, order, Drawn(draw))
