"""How a QTI item scores, as an Invigil question body, or why it cannot.

Each reader maps one interaction to an Invigil type only where the scoring
is exactly Invigil's (docs/content-formats.md lists the rules); partial
credit Invigil cannot express, a score below 0 and rules of the item's own
refuse the item with a sentence saying why (:class:`Refusal`).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

from invigil.content.formats import Message, number
from invigil.content.formats.qti import inv, q
from invigil.content.formats.qti_text import choice_text, local
from invigil.i18n import N_

TEMPLATES = ("match_correct", "map_response", "map_response_point")


class Refusal(ValueError):
    """This item cannot be imported as it is; the message says what and why
    (a catalog message, translated where a page shows it)."""

    def __init__(self, message: str, **params: object) -> None:
        self.message = Message.of(message, **params)
        super().__init__(str(self.message))


# -- the item's parts -----------------------------------------------------------


@dataclass
class Item:
    el: ET.Element
    version: str
    invigil: bool  # written by Invigil (carries inv:type)
    notes: list[str]
    full: float = 1.0  # what all-or-nothing rules give a right answer (1 for the template)

    def find(self, path: str) -> ET.Element | None:
        return self.el.find(path)

    def declaration(self, identifier: str) -> ET.Element | None:
        for decl in self.el.iter(q("qti-response-declaration")):
            if decl.get("identifier") == identifier:
                return decl
        return None


def to_float(value: str | None, what: str) -> float:
    try:
        out = float((value or "").strip())
    except ValueError:
        raise Refusal(N_("%(what)s is not a number (%(value)r)"), what=what, value=value) from None
    if not math.isfinite(out):
        raise Refusal(N_("%(what)s is not a finite number (%(value)r)"), what=what, value=value)
    return out


def correct_values(decl: ET.Element) -> list[str]:
    return [
        (v.text or "").strip()
        for v in decl.iterfind(f"{q('qti-correct-response')}/{q('qti-value')}")
    ]


@dataclass(frozen=True)
class Entry:
    key: str
    value: float
    case_sensitive: bool


@dataclass(frozen=True)
class Mapping:
    entries: list[Entry]
    default: float
    lower: float | None
    upper: float | None


def read_mapping(decl: ET.Element) -> Mapping | None:
    el = decl.find(q("qti-mapping"))
    if el is None:
        return None
    entries = [
        Entry(
            (e.get("map-key") or "").strip(),
            to_float(e.get("mapped-value"), "a mapped value"),
            # QTIWorks, the reference implementation of QTI 2.1, reads an
            # absent case-sensitive as true; so does Invigil.
            (e.get("case-sensitive") or "true").strip().lower() in ("true", "1"),
        )
        for e in el.iter(q("qti-map-entry"))
    ]
    lower, upper = el.get("lower-bound"), el.get("upper-bound")
    return Mapping(
        entries,
        to_float(el.get("default-value") or "0", "the mapping's default value"),
        to_float(lower, "the lower bound") if lower is not None else None,
        to_float(upper, "the upper bound") if upper is not None else None,
    )


def template_of(item: Item) -> str:
    """The response-processing template's name, or "" for rules of the
    item's own. Without any response processing, an item is scored against
    its correct response, all or nothing (match_correct), and says so."""
    proc = item.find(q("qti-response-processing"))
    if proc is None:
        note = N_(
            "it declares no response processing; Invigil scores it all or nothing "
            "against its correct response"
        )
        if note not in item.notes:
            item.notes.append(note)
        return "match_correct"
    url = (proc.get("template") or proc.get("template-location") or "").strip()
    if not url:
        name, full = _written_out(proc)
        item.full = full
        return name
    name = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")
    if name in TEMPLATES:
        return name
    raise Refusal(
        N_("it is scored by a response processing template Invigil does not know (%(url)s)"),
        url=url[:200],
    )


def _sets_score(rule: ET.Element) -> bool:
    return (
        any(
            el.get("identifier") == "SCORE"
            for tag in ("qti-set-outcome-value", "qti-lookup-outcome-value")
            for el in rule.iter(q(tag))
        )
        or local(rule.tag) == "qti-exit-response"
    )


def scoring_rules(proc: ET.Element) -> list[ET.Element]:
    """The response processing's top-level rules that can change SCORE; the
    others (feedback, other outcomes) never change how the item scores."""
    return [rule for rule in proc if _sets_score(rule)]


def _written_out(proc: ET.Element) -> tuple[str, float]:
    """Rules of the item's own that are a standard template written out
    (as TAO and others export them, often with feedback rules beside it):
    that template's name and what a right answer scores; else ("", 1)."""
    rule = _one_condition(proc)
    if rule is None:
        return "", 1.0
    right, other = rule
    test = right[0]
    kinds = [local(c.tag) for c in test]
    if local(test.tag) == "qti-match" and kinds == ["qti-variable", "qti-correct"]:
        full = _all_or_nothing(right, other)
        return ("match_correct", full) if full is not None else ("", 1.0)
    sets = _score_sets(right) + _score_sets(other)
    if local(test.tag) == "qti-is-null" and any(
        len(s) and local(s[0].tag) == "qti-map-response" for s in sets
    ):
        return "map_response", 1.0
    return "", 1.0


def _one_condition(proc: ET.Element) -> tuple[ET.Element, ET.Element | None] | None:
    """The one rule that sets SCORE, as an if and an optional else (with a
    test in the if); None for anything else."""
    rules = scoring_rules(proc)
    if len(rules) != 1 or local(rules[0].tag) != "qti-response-condition":
        return None
    branches = [b for b in rules[0] if local(b.tag).startswith("qti-response-")]
    names = [local(b.tag) for b in branches]
    if names not in (["qti-response-if"], ["qti-response-if", "qti-response-else"]):
        return None
    if not len(branches[0]):
        return None
    return branches[0], branches[1] if len(branches) == 2 else None


def _score_sets(branch: ET.Element | None) -> list[ET.Element]:
    if branch is None:
        return []
    return [s for s in branch.iter(q("qti-set-outcome-value")) if s.get("identifier") == "SCORE"]


def _all_or_nothing(right: ET.Element, other: ET.Element | None) -> float | None:
    """What a right answer scores when the rule is "right: a fixed score (or
    MAXSCORE); else 0"; None when it is anything else (say, a part for a
    wrong answer)."""
    given = _score_sets(right)
    if len(given) != 1 or len(given[0]) != 1:
        return None
    value = given[0][0]
    if local(value.tag) == "qti-variable" and value.get("identifier") == "MAXSCORE":
        full = 1.0  # MAXSCORE is the points (points_of reads it)
    elif local(value.tag) == "qti-base-value":
        try:
            full = float((value.text or "").strip())
        except ValueError:
            return None
    else:
        return None
    for s in _score_sets(other):
        zero = len(s) == 1 and local(s[0].tag) == "qti-base-value"
        if not zero or (s[0].text or "").strip() not in ("0", "0.0"):
            return None
    return full if full > 0 else None


def max_score(item: Item) -> float | None:
    for out in item.el.iter(q("qti-outcome-declaration")):
        if out.get("identifier") == "MAXSCORE":
            value = out.find(f"{q('qti-default-value')}/{q('qti-value')}")
            if value is not None and (value.text or "").strip():
                return to_float(value.text, "MAXSCORE")
    return None


def response_of(item: Item, inter: ET.Element) -> ET.Element:
    ident = inter.get("response-identifier") or "RESPONSE"
    decl = item.declaration(ident)
    if decl is None:
        raise Refusal(
            N_("its interaction answers %(id)s, which the item does not declare"), id=ident[:100]
        )
    return decl


def points_of(item: Item, best: float) -> float:
    declared = max_score(item)
    points = declared if declared is not None else best
    if points <= 0:
        raise Refusal(N_("it is worth no points (its highest possible score is 0)"))
    return points


def same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _choice(item: Item, inter: ET.Element) -> tuple[dict[str, Any], float]:
    decl = response_of(item, inter)
    choices = [c for c in inter.iter(q("qti-simple-choice"))]
    if len(choices) < 2:
        raise Refusal(N_("its choice interaction has fewer than 2 choices"))
    ids = [c.get("identifier", "") for c in choices]
    texts = [choice_text(c) for c in choices]
    if any(not t for t in texts):
        raise Refusal(N_("a choice has no text (only an image or a formula?)"))
    right = correct_values(decl)
    unknown = [v for v in right if v not in ids]
    if unknown:
        raise Refusal(N_("its right answer %(id)r is not one of its choices"), id=unknown[0][:100])
    positions = sorted(ids.index(v) for v in right)
    max_choices = int(inter.get("max-choices") or "1")  # QTI's default is 1
    single = max_choices == 1 and decl.get("cardinality", "single") == "single"
    template = template_of(item)
    mapping = read_mapping(decl)
    body: dict[str, Any] = {"type": "single_choice" if single else "multiple_choice",
                            "choices": texts}  # fmt: skip
    if template == "":
        raise Refusal(OWN_RULES)
    if not positions:
        raise Refusal(N_("it does not say which choice is right (no correct response)"))
    if single:
        if len(positions) != 1:
            raise Refusal(N_("it takes one choice but names several right answers"))
        body["correct"] = positions[0]
        if template == "match_correct":
            return body, item.full
        values = _choice_values(mapping, ids)
        best = max(values)
        if values[positions[0]] != best or any(
            not same(v, 0) and not same(v, best) for v in values
        ):
            raise _partial(values, texts, best)
        return body, best
    body["correct"] = positions
    if template == "match_correct":
        body["scoring"] = "all_or_nothing"
        return body, item.full
    values = _choice_values(mapping, ids)
    k = len(positions)
    share = values[positions[0]]
    proportional = (
        share > 0
        and all(same(values[i], share) for i in positions)
        and all(same(values[i], -share) for i in range(len(ids)) if i not in positions)
        and mapping is not None
        and mapping.lower is not None
        and same(mapping.lower, 0)
        and (mapping.upper is None or same(mapping.upper, share * k))
    )
    if proportional:
        body["scoring"] = "proportional"
        return body, share * k
    if mapping is not None and (mapping.lower is None or mapping.lower < 0) and min(values) < 0:
        raise Refusal(
            N_(
                "it can score below 0 (negative marking without a lower bound of 0); "
                "Invigil scores every question from 0 up"
            )
        )
    raise Refusal(
        N_(
            "it gives each choice its own points (%(values)s); Invigil scores a multiple-answer "
            "question all or nothing, or +1 per right and -1 per wrong choice (proportional), "
            "and cannot reproduce these points"
        ),
        values=", ".join(f"{t[:30]!r} = {number(v)}" for t, v in zip(texts, values, strict=True)),
    )


def _choice_values(mapping: Mapping | None, ids: list[str]) -> list[float]:
    if mapping is None:
        raise Refusal(N_("it is scored by map_response but declares no mapping"))
    found = {e.key: e.value for e in mapping.entries}
    return [found.get(i, mapping.default) for i in ids]


def _partial(values: list[float], texts: list[str], best: float) -> Refusal:
    parts = [t for t, v in zip(texts, values, strict=True) if not same(v, best)]
    return Refusal(
        N_(
            "it gives part of the points for a choice (%(choice)r); Invigil scores a "
            "single-choice question all or nothing"
        ),
        choice=(parts or [""])[0][:40],
    )


OWN_RULES = N_("it scores with response rules of its own, which Invigil cannot reproduce")


def _text_entry(item: Item, inter: ET.Element) -> tuple[dict[str, Any], float]:
    decl = response_of(item, inter)
    base = decl.get("base-type", "string")
    right = correct_values(decl)
    if base in ("float", "integer"):
        return _numeric(item, decl, right)
    if base != "string":
        raise Refusal(
            N_("its text entry expects a %(type)s, which Invigil has no question type for"),
            type=base[:40],
        )
    template = template_of(item)
    mapping = read_mapping(decl)
    if template == "match_correct":
        if len(right) != 1 or not right[0]:
            raise Refusal(N_("it does not say which answer is right (no correct response)"))
        return {"type": "short_text", "accepted": right, "case_sensitive": True}, item.full
    if template != "map_response":
        raise Refusal(OWN_RULES)
    if mapping is None or not mapping.entries:
        raise Refusal(N_("it is scored by map_response but declares no mapping"))
    best = max(e.value for e in mapping.entries)
    if mapping.upper is not None:
        best = min(best, mapping.upper)
    if best <= 0:
        raise Refusal(N_("no answer earns points (every mapped value is 0 or less)"))
    if not same(mapping.default, 0):
        raise Refusal(N_("it gives points to answers it does not list (a default value above 0)"))
    partial = [e for e in mapping.entries if not same(e.value, 0) and e.value < best]
    if partial:
        e = partial[0]
        raise Refusal(
            N_(
                "it gives part of the points for %(answer)r (%(part)s of %(all)s); Invigil "
                "scores a short answer all or nothing"
            ),
            answer=e.key[:60],
            part=number(e.value),
            all=number(best),
        )
    accepted = [e for e in mapping.entries if e.value >= best]
    if len({e.case_sensitive for e in accepted}) > 1:
        raise Refusal(
            N_(
                "it compares some answers with case and others without; Invigil uses one rule "
                "for the whole question"
            )
        )
    body = {
        "type": "short_text",
        "accepted": [e.key for e in accepted],
        "case_sensitive": accepted[0].case_sensitive,
    }
    return body, best


def _numeric(item: Item, decl: ET.Element, right: list[str]) -> tuple[dict[str, Any], float]:
    if len(right) != 1:
        raise Refusal(N_("it does not say which number is right (no correct response)"))
    value = to_float(right[0], "its right answer")
    template = template_of(item)
    tolerance = 0.0
    declared = item.el.get(inv("tolerance"))
    if template == "match_correct":
        pass
    elif template == "":
        tolerance = _tolerance(item, value)
    else:
        raise Refusal(
            N_(
                "it gives points for answers other than the right number (a mapping); "
                "Invigil scores a numeric question all or nothing"
            )
        )
    if declared is not None and item.invigil:
        tolerance = to_float(declared, "the tolerance")
    return {"type": "numeric", "value": value, "tolerance": tolerance}, item.full


def _tolerance(item: Item, value: float) -> float:
    proc = item.find(q("qti-response-processing"))
    assert proc is not None
    rule = _one_condition(proc)
    full = _all_or_nothing(*rule) if rule is not None else None
    if rule is None or full is None:
        raise Refusal(OWN_RULES)
    item.full = full
    test = rule[0][0]
    if local(test.tag) == "qti-match":
        return 0.0
    if local(test.tag) != "qti-equal":
        raise Refusal(OWN_RULES)
    for bound in ("include-lower-bound", "include-upper-bound"):
        if (test.get(bound) or "true").strip() not in ("true", "1"):
            raise Refusal(
                N_(
                    "it leaves out the ends of its tolerance range; Invigil's tolerance "
                    "includes them"
                )
            )
    parts = (test.get("tolerance") or "0").split()
    amounts = [to_float(p, "the tolerance") for p in parts[:2]] or [0.0]
    if len(amounts) == 2 and not same(amounts[0], amounts[1]):
        raise Refusal(
            N_(
                "its tolerance differs below and above the right number; Invigil's is the same "
                "on both sides"
            )
        )
    amount = amounts[0]
    if amount < 0:
        raise Refusal(N_("its tolerance is negative"))
    mode = (test.get("tolerance-mode") or "exact").strip()
    if mode == "exact":
        return 0.0
    if mode == "absolute":
        return amount
    if mode == "relative":  # a percentage of the right answer
        return abs(value) * amount / 100
    raise Refusal(N_("its tolerance mode %(mode)r is not one QTI defines"), mode=mode[:40])


def _extended_text(item: Item, inter: ET.Element) -> tuple[dict[str, Any], float]:
    response_of(item, inter)
    body: dict[str, Any] = {"type": "essay"}
    rubric = [
        {
            "name": li.get("data-criterion", ""),
            "levels": [
                {
                    "label": s.get("data-level", ""),
                    "points": to_float(s.get("data-points"), "a level"),
                }
                for s in li.iter(q("span"))
            ],
        }
        for li in item.el.iter(q("li"))
        if li.get("data-criterion") is not None
    ]
    if rubric:
        body["rubric"] = rubric
    words = inter.get("data-max-words")
    if words and words.isdigit():
        body["max_words"] = int(words)
    return body, 1.0


def _order(item: Item, inter: ET.Element) -> tuple[dict[str, Any], float]:
    decl = response_of(item, inter)
    choices = list(inter.iter(q("qti-simple-choice")))
    ids = [c.get("identifier", "") for c in choices]
    right = correct_values(decl)
    if sorted(right) != sorted(ids):
        raise Refusal(N_("its right order does not list every item exactly once"))
    template = template_of(item)
    if template != "match_correct":
        raise Refusal(
            OWN_RULES
            if template == ""
            else N_(
                "it gives part of the points for a partly right order; Invigil scores an "
                "ordering question all or nothing"
            )
        )
    texts = {c.get("identifier", ""): choice_text(c) for c in choices}
    return {"type": "ordering", "items": [texts[i] for i in right]}, item.full


def _inline_choice(item: Item, inter: ET.Element) -> tuple[dict[str, Any], float]:
    decl = response_of(item, inter)
    choices = list(inter.iter(q("qti-inline-choice")))
    ids = [c.get("identifier", "") for c in choices]
    texts = [choice_text(c) for c in choices]
    right = correct_values(decl)
    if len(right) != 1 or right[0] not in ids:
        raise Refusal(N_("it does not say which choice is right (no correct response)"))
    template = template_of(item)
    body = {"type": "single_choice", "choices": texts, "correct": ids.index(right[0])}
    if template == "match_correct":
        return body, item.full
    if template != "map_response":
        raise Refusal(OWN_RULES)
    values = _choice_values(read_mapping(decl), ids)
    best = max(values)
    if values[ids.index(right[0])] != best or any(
        not same(v, 0) and not same(v, best) for v in values
    ):
        raise _partial(values, texts, best)
    return body, best


def _match(item: Item, inter: ET.Element) -> tuple[dict[str, Any], float]:
    decl = response_of(item, inter)
    sets = [list(s.iter(q("qti-simple-associable-choice")))
            for s in inter.iter(q("qti-simple-match-set"))]  # fmt: skip
    if local(inter.tag) != "qti-match-interaction" or len(sets) != 2:
        raise Refusal(
            N_("it pairs items in one set (associate); Invigil matches a left and a right set")
        )
    left, right_set = sets
    if len(left) != len(right_set):
        raise Refusal(
            N_(
                "its two sets differ in size (%(left)s and %(right)s); Invigil matches each "
                "left item to exactly one right item"
            ),
            left=len(left),
            right=len(right_set),
        )
    pairs = [v.split() for v in correct_values(decl)]
    lids = [c.get("identifier", "") for c in left]
    rids = [c.get("identifier", "") for c in right_set]
    found = {p[0]: p[1] for p in pairs if len(p) == 2}
    if sorted(found) != sorted(lids) or sorted(found.values()) != sorted(rids):
        raise Refusal(N_("its right pairs do not match every left item to a different right item"))
    template = template_of(item)
    texts_l = {c.get("identifier", ""): choice_text(c) for c in left}
    texts_r = {c.get("identifier", ""): choice_text(c) for c in right_set}
    matched = [{"left": texts_l[lid], "right": texts_r[found[lid]]} for lid in lids]
    if template == "match_correct":  # the whole matching right, or nothing
        return {"type": "matching", "pairs": matched, "scoring": "all_or_nothing"}, item.full
    mapping = read_mapping(decl)
    if template != "map_response" or mapping is None:
        raise Refusal(OWN_RULES)
    values = {tuple(e.key.split()): e.value for e in mapping.entries}
    share = values.get((lids[0], found[lids[0]]), mapping.default)
    equal = share > 0 and all(
        same(values.get((lid, found[lid]), mapping.default), share) for lid in lids
    )
    right_pairs = set(found.items())
    wrong = [v for k, v in values.items() if k not in right_pairs and not same(v, 0)]
    if not equal or wrong or not same(mapping.default, 0):
        raise Refusal(
            N_("its pairs are worth different points; Invigil gives each right pair an equal share")
        )
    return {"type": "matching", "pairs": matched, "scoring": "per_pair"}, share * len(lids)


READERS = {
    "choice": _choice,
    "text-entry": _text_entry,
    "extended-text": _extended_text,
    "order": _order,
    "inline-choice": _inline_choice,
    "match": _match,
    "associate": _match,
}
