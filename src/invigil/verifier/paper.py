"""Replay a candidate's paper from the frozen exam and the attempt's seed.

Invigil draws each paper from the exam version and a seed with nothing but
SHA-256 and Python's ``random.Random`` (Mersenne Twister), so the same
version and seed give the same paper on any machine (``content/assemble.py``
in Invigil; docs/formats/result-recomputation.md, "The paper"). An auditor
replays it here, with the standard library only, and :func:`check_paper`
names the first place where the answer sheet's paper differs: a question
drawn that the seed would not draw, another order, another shuffle of
choices. The results are then recomputed over a paper known to be the one
the rules gave the candidate.
"""

from __future__ import annotations

import hashlib
import random
from typing import Any

DIFFICULTIES = ("easy", "medium", "hard")
ALWAYS_SHUFFLED = frozenset({"ordering", "matching"})  # in stored order they give the answer
SHUFFLABLE = frozenset({"single_choice", "multiple_choice"}) | ALWAYS_SHUFFLED


def _rng(seed: int, label: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))  # noqa: S311 - a replay, not a secret


def replay(frozen: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    """The paper (slots as the answer sheet holds them) of ``seed``."""
    settings = frozen["settings"]
    shuffle_questions = bool(settings.get("shuffle_questions", True))
    shuffle_options = bool(settings.get("shuffle_options", True))
    paper: list[dict[str, Any]] = []
    for index, section in enumerate(frozen["sections"]):
        if section["kind"] == "pool":
            entries = _draw(section, _rng(seed, f"draw:{index}"))
        else:
            entries = list(section["questions"])
        if shuffle_questions:
            _rng(seed, f"order:{index}").shuffle(entries)
        for e in entries:
            paper.append(
                {
                    "section": index,
                    "question_id": e["question_id"],
                    "version_id": e["version_id"],
                    "type": e["type"],
                    "option_order": _options(e, seed, shuffle_options),
                }
            )
    return paper


def _draw(section: dict[str, Any], r: random.Random) -> list[dict[str, Any]]:
    pool = sorted(section["pool"], key=lambda e: str(e["version_id"]))
    mix = section.get("difficulty_mix")
    if mix is None:
        return r.sample(pool, int(section["count"]))
    picked: list[dict[str, Any]] = []
    for level in DIFFICULTIES:
        picked += r.sample([e for e in pool if e["difficulty"] == level], int(mix.get(level, 0)))
    return picked


def _options(entry: dict[str, Any], seed: int, shuffle_options: bool) -> list[int]:
    n = int(entry.get("options", 0))
    kind = entry["type"]
    order = list(range(n))
    if kind not in SHUFFLABLE or not (shuffle_options or kind in ALWAYS_SHUFFLED):
        return order
    _rng(seed, f"options:{entry['version_id']}").shuffle(order)
    if kind in ALWAYS_SHUFFLED and n > 1 and order == sorted(order):
        order = order[1:] + order[:1]  # never the answer itself
    return order


def check_paper(exam_version: dict[str, Any], answer_sheet: dict[str, Any]) -> str | None:
    """None when the sheet's paper is the one its seed draws, else the
    first difference (``paper[2].version_id (recorded ..., replayed ...)``)."""
    mine = replay(exam_version["frozen"], int(answer_sheet["seed"]))
    theirs = answer_sheet["paper"]
    if len(mine) != len(theirs):
        return f"paper (recorded {len(theirs)} questions, replayed {len(mine)})"
    for n, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        for key in ("section", "question_id", "version_id", "type", "option_order"):
            if a[key] != b.get(key):
                return f"paper[{n}].{key} (recorded {b.get(key)!r}, replayed {a[key]!r})"
    return None
