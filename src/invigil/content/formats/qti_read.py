"""Reading QTI 3.0 items (see ``qti`` for what is covered).

Items from other tools import too: without Invigil's ``inv:*`` attributes a
question lands in category "General" with medium difficulty, its type comes
from the interaction, and an essay without a rubric gets a one-criterion
rubric worth its points.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from pydantic import ValidationError

from invigil.content.formats import MAX_QUESTIONS, Parsed
from invigil.content.formats.csv import items
from invigil.content.formats.qti import WRAP, inv, q
from invigil.content.schemas import QuestionIn, describe
from invigil.security import safe_xml


def _text(el: ET.Element | None) -> str:
    return " ".join("".join(el.itertext()).split()) if el is not None else ""


def _values(item: ET.Element) -> list[str]:
    return [
        (v.text or "").strip()
        for v in item.iterfind(f".//{q('qti-correct-response')}/{q('qti-value')}")
    ]


def _points(item: ET.Element) -> float:
    for out in item.iter(q("qti-outcome-declaration")):
        if out.get("identifier") == "MAXSCORE":
            value = out.find(f"{q('qti-default-value')}/{q('qti-value')}")
            if value is not None and value.text:
                return float(value.text)
    return 1.0


def _kind(item: ET.Element) -> str:
    declared = item.get(inv("type"))
    if declared:
        return declared
    choice = item.find(f".//{q('qti-choice-interaction')}")
    if choice is not None:
        return "single_choice" if choice.get("max-choices") == "1" else "multiple_choice"
    if item.find(f".//{q('qti-extended-text-interaction')}") is not None:
        return "essay"
    if item.find(f".//{q('qti-text-entry-interaction')}") is not None:
        decl = item.find(q("qti-response-declaration"))
        base = decl.get("base-type") if decl is not None else "string"
        return "numeric" if base in ("float", "integer") else "short_text"
    raise ValueError(
        "this item has no interaction Invigil imports (choice, text entry, extended text)"
    )


def _body(item: ET.Element, kind: str, points: float) -> dict[str, Any]:
    feedback = item.find(q("qti-modal-feedback"))
    body: dict[str, Any] = {"type": kind, "explanation": _text(feedback)}
    choice = item.find(f".//{q('qti-choice-interaction')}")
    if choice is not None:
        body["prompt"] = _text(choice.find(q("qti-prompt")))
        choices = list(choice.iter(q("qti-simple-choice")))
        ids = [c.get("identifier", "") for c in choices]
        body["choices"] = [_text(c) for c in choices]
        right = [ids.index(v) for v in _values(item) if v in ids]
        if kind == "single_choice":
            body["correct"] = right[0] if right else -1
        else:
            body["correct"] = sorted(right)
            proportional = item.get(inv("scoring")) == "proportional" or any(
                (p.get("template") or "").endswith("map_response")
                for p in item.iter(q("qti-response-processing"))
            )
            body["scoring"] = "proportional" if proportional else "all_or_nothing"
        return body
    body["prompt"] = _text(item.find(f".//{q('qti-item-body')}/{q('p')}"))
    if kind == "numeric":
        values = _values(item)
        body["value"] = float(values[0]) if values else None
        tolerance = item.get(inv("tolerance"))
        equal = item.find(f".//{q('qti-equal')}")
        if tolerance is None and equal is not None:
            tolerance = (equal.get("tolerance") or "0").split()[0]
        body["tolerance"] = float(tolerance or 0)
    elif kind == "short_text":
        entries = list(item.iter(q("qti-map-entry")))
        body["accepted"] = [e.get("map-key", "") for e in entries] or _values(item)
        flag = item.get(inv("case-sensitive"))
        if flag is None and entries:
            flag = entries[0].get("case-sensitive", "false")
        body["case_sensitive"] = flag == "true"
        body["pattern"] = item.get(inv("pattern"))
    elif kind == "essay":
        body["rubric"] = [
            {
                "name": li.get("data-criterion", ""),
                "levels": [
                    {"label": s.get("data-level", ""), "points": float(s.get("data-points", "0"))}
                    for s in li.iter(q("span"))
                ],
            }
            for li in item.iter(q("li"))
            if li.get("data-criterion") is not None
        ] or [{"name": "Overall", "levels": [{"label": "Not met", "points": 0},
                                             {"label": "Met", "points": points}]}]  # fmt: skip
        inter = item.find(f".//{q('qti-extended-text-interaction')}")
        words = inter.get("data-max-words") if inter is not None else None
        if words:
            body["max_words"] = int(words)
    return body


def _question(item: ET.Element) -> QuestionIn:
    kind = _kind(item)
    points = _points(item)
    tags = item.get(inv("tags"), "")
    return QuestionIn.model_validate(
        {
            "category": item.get(inv("category"), "General"),
            "tags": items(tags, ";"),
            "difficulty": item.get(inv("difficulty"), "medium"),
            "points": points,
            "body": _body(item, kind, points),
        }
    )


def parse(data: bytes | str, *, max_questions: int = MAX_QUESTIONS) -> Parsed:
    """The questions of a QTI document; ``data`` as it was sent (bytes: the
    document's own byte-order mark or XML declaration names its encoding)."""
    out = Parsed()
    try:
        root = safe_xml.parse(data)
    except safe_xml.Refused as exc:
        out.problems.append(("file", str(exc)))
        return out
    if root.tag == q("qti-assessment-item"):
        items = [root]
    elif root.tag == f"{{{WRAP}}}qti-items":
        items = list(root)
    else:
        out.problems.append(("file", "expected qti-assessment-item elements (QTI 3.0 namespace)"))
        return out
    if len(items) > max_questions:
        out.problems.append(("file", f"at most {max_questions} questions per file"))
        return out
    for n, item in enumerate(items, start=1):
        where = f"item {item.get('identifier') or f'#{n}'}"
        if item.tag != q("qti-assessment-item"):
            out.problems.append((where, "not a qti-assessment-item"))
            continue
        try:
            out.questions.append(_question(item))
        except ValidationError as exc:
            out.problems += [(where, msg) for msg in describe(exc)]
        except ValueError as exc:
            out.problems.append((where, str(exc)))
    return out
