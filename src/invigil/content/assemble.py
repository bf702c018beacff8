"""Build one candidate's paper from a frozen exam version and a seed.

``assemble(exam_version, seed)`` is pure: the same version and seed give the
same paper, on any machine, for ever (a dispute can be replayed). Every
random choice comes from SHA-256 of the seed and a label, so adding a
section or a question does not reshuffle the others.

Frozen sections (written by ``content.freeze``) look like::

    {"kind": "fixed", "title": ..., "time_limit_minutes": ..., "questions": [ENTRY, ...]}
    {"kind": "pool", ..., "count": 3 | null, "difficulty_mix": {"easy": 2} | null,
     "pool": [ENTRY, ...]}
    ENTRY = {"question_id": ..., "version_id": ..., "type": ..., "difficulty": ...,
             "options": <number of choices, items or pairs>}

Pools of one version never share a question (freeze makes them disjoint),
so a paper never holds a question twice.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from invigil.errors import Invalid

DIFFICULTIES = ("easy", "medium", "hard")
# Shown in their stored order these would give the answer away.
ALWAYS_SHUFFLED = frozenset({"ordering", "matching"})
SHUFFLABLE = frozenset({"single_choice", "multiple_choice"}) | ALWAYS_SHUFFLED


class Frozen(Protocol):
    @property
    def settings(self) -> Mapping[str, Any]: ...
    @property
    def sections(self) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class Slot:
    """One question of a paper. ``option_order[k]`` is the stored position of
    what the candidate sees at position k (choices, items, right-hand side)."""

    section: int
    question_id: str
    version_id: str
    type: str
    option_order: tuple[int, ...]


def rng(seed: int, label: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))  # noqa: S311 - not a secret


def assemble(exam_version: Frozen, seed: int) -> list[Slot]:
    settings = exam_version.settings
    shuffle_questions = bool(settings.get("shuffle_questions", True))
    shuffle_options = bool(settings.get("shuffle_options", True))
    paper: list[Slot] = []
    for index, section in enumerate(exam_version.sections):
        if section["kind"] == "pool":
            entries = draw(section, rng(seed, f"draw:{index}"))
        else:
            entries = list(section["questions"])
        if shuffle_questions:
            rng(seed, f"order:{index}").shuffle(entries)
        for e in entries:
            order = option_order(e, seed, shuffle_options)
            paper.append(Slot(index, e["question_id"], e["version_id"], e["type"], order))
    return paper


def draw(section: Mapping[str, Any], r: random.Random) -> list[dict[str, Any]]:
    """``count`` entries, or so many of each difficulty, without repeats."""
    pool = sorted(section["pool"], key=lambda e: str(e["version_id"]))
    mix = section.get("difficulty_mix")
    if mix is None:
        return _sample(pool, int(section["count"]), r, section)
    picked: list[dict[str, Any]] = []
    for level in DIFFICULTIES:
        of_level = [e for e in pool if e["difficulty"] == level]
        picked += _sample(of_level, int(mix.get(level, 0)), r, section, level)
    return picked


def _sample(
    entries: list[dict[str, Any]],
    k: int,
    r: random.Random,
    section: Mapping[str, Any],
    level: str = "",
) -> list[dict[str, Any]]:
    if k > len(entries):
        what = f"{level} questions" if level else "questions"
        raise Invalid(
            f"section {section.get('title') or ''!r} draws {k} {what} but only "
            f"{len(entries)} match its filter"
        )
    return r.sample(entries, k)


def option_order(entry: Mapping[str, Any], seed: int, shuffle_options: bool) -> tuple[int, ...]:
    n = int(entry.get("options", 0))
    kind = entry["type"]
    order = list(range(n))
    if kind not in SHUFFLABLE or not (shuffle_options or kind in ALWAYS_SHUFFLED):
        return tuple(order)
    rng(seed, f"options:{entry['version_id']}").shuffle(order)
    if kind in ALWAYS_SHUFFLED and n > 1 and order == sorted(order):
        order = order[1:] + order[:1]  # never present the answer itself
    return tuple(order)
