"""What a candidate sees of a question: no answers, options in paper order.

Options carry no stored position (for ordering and matching that position
*is* the answer); a response names options by their position on the paper,
and ``Slot.option_order`` maps it back to stored positions for scoring.
"""

from __future__ import annotations

from typing import Any

from invigil.content import bodies as b
from invigil.content.assemble import Slot


def candidate_body(body: b.Body, slot: Slot) -> dict[str, Any]:
    out: dict[str, Any] = {"type": body.type, "prompt": body.prompt}
    if body.prompt_html:
        out["prompt_html"] = body.prompt_html
    order = slot.option_order
    if isinstance(body, b.SingleChoice | b.MultipleChoice):
        out["choices"] = [body.choices[i] for i in order]
        out["select"] = "one" if isinstance(body, b.SingleChoice) else "many"
    elif isinstance(body, b.Ordering):
        out["items"] = [body.items[i] for i in order]
    elif isinstance(body, b.Matching):
        out["left"] = [p.left for p in body.pairs]
        out["right"] = [body.pairs[i].right for i in order]
    elif isinstance(body, b.Essay):
        out["criteria"] = [c.name for c in body.rubric]
        out["max_words"] = body.max_words
    return out


def to_stored(slot: Slot, paper_positions: list[int]) -> list[int]:
    """Paper positions chosen by a candidate as stored positions (for scoring)."""
    return [slot.option_order[p] for p in paper_positions]
