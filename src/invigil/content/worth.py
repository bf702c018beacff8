"""What each question of a paper is worth, so every paper of an exam is worth the same.

A pool section draws different questions for different candidates, so its
questions must be worth the same points (publishing refuses a pool whose
questions differ, :mod:`invigil.content.freeze`), unless the author scales
the section: ``scale_to_points: N`` makes the section worth exactly N on
every paper, whatever was drawn. Each drawn question is then worth N/count,
in cents, rounded down; the cents left over go one each to the first
questions of the section in the order the paper shows them. The shares add
up to exactly N (Decimal arithmetic, never a float), and the draw's seed
fixes the order, so replaying a paper gives the same shares. Fixed sections
keep their questions' own points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")


def shares(total: Decimal, count: int) -> list[Decimal]:
    """``total`` split into ``count`` amounts in cents that add up to exactly ``total``."""
    cents = int((Decimal(total) / CENT).to_integral_value())
    base, left_over = divmod(cents, count)
    return [(base + (1 if k < left_over else 0)) * CENT for k in range(count)]


def scale_of(section: Mapping[str, Any]) -> Decimal | None:
    """The points a frozen (or working) section is scaled to, if it is."""
    n = section.get("scale_to_points")
    if section.get("kind") != "pool" or n is None:
        return None
    return Decimal(str(n))


def slot_points(
    sections: Sequence[Mapping[str, Any]],
    paper_sections: Sequence[int],
    authored: Sequence[Decimal],
) -> list[Decimal]:
    """Each slot's points: its question's own (``authored``), or in a scaled
    section its share of the section's points, in paper order."""
    out = [Decimal(str(p)).quantize(CENT) for p in authored]
    for index, section in enumerate(sections):
        scale = scale_of(section)
        if scale is None:
            continue
        mine = [k for k, s in enumerate(paper_sections) if s == index]
        for k, share in zip(mine, shares(scale, len(mine)), strict=True):
            out[k] = share
    return out


def distinct_points(points: Iterable[Decimal]) -> list[Decimal]:
    """The different points found, lowest first (normalised: 2.50 is 2.5)."""
    return sorted({Decimal(str(p)).quantize(CENT) for p in points})


def said(points: Sequence[Decimal]) -> str:
    """``1, 2 and 5`` (points as people write them: 2.5, not 2.50)."""
    words = [_plain(p) for p in points]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _plain(p: Decimal) -> str:
    text = format(p.quantize(CENT), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def every_paper(
    sections: Sequence[Mapping[str, Any]], points: Mapping[str, Decimal]
) -> Decimal | None:
    """What every paper of a frozen exam is worth, or None when papers can
    differ (a version published before pools had to be fair). ``points``
    maps each question version id to its own points."""
    total = Decimal(0)
    for section in sections:
        if section.get("kind") != "pool":
            total += sum((points[e["version_id"]] for e in section["questions"]), Decimal(0))
            continue
        scale = scale_of(section)
        if scale is not None:
            total += scale
            continue
        mix = section.get("difficulty_mix") or {"": section.get("count") or 0}
        for level, count in mix.items():
            if not count:
                continue
            found = distinct_points(
                points[e["version_id"]]
                for e in section["pool"]
                if not level or e.get("difficulty") == level
            )
            if len(found) > 1:
                return None
            total += found[0] * count if found else Decimal(0)
    return total.quantize(CENT)
