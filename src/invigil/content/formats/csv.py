"""CSV: one row per question, a header row naming the columns (any order).

Lists inside a cell are separated by ``|`` (choices, accepted answers,
items, pairs, rubric criteria) or ``;`` (tags, right choices, rubric
levels); ``\\`` escapes a separator (``\\|``, ``\\;``, ``\\=``, ``\\:``,
``\\\\``). A cell a spreadsheet would run as a formula is written with a
leading quote, which reading removes (:mod:`invigil.security.safe_csv`).
The columns are documented in docs/content-formats.md.
"""

from __future__ import annotations

import csv
import io
import string
from typing import Any

from pydantic import ValidationError

from invigil.content import bodies as b
from invigil.content.formats import MAX_QUESTIONS, Parsed, number
from invigil.content.schemas import QuestionIn, describe
from invigil.security import safe_csv

COLUMNS = (
    "type", "category", "tags", "difficulty", "points", "prompt", "explanation", "choices",
    "correct", "scoring", "tolerance", "accepted", "case_sensitive", "pattern", "rubric",
    "max_words", "items", "pairs",
)  # fmt: skip
REQUIRED = ("type", "category", "points", "prompt")
COMMON = {"type", "category", "tags", "difficulty", "points", "prompt", "explanation"}
USES = {
    "single_choice": {"choices", "correct"},
    "multiple_choice": {"choices", "correct", "scoring"},
    "true_false": {"correct"},
    "numeric": {"correct", "tolerance"},
    "short_text": {"accepted", "case_sensitive", "pattern"},
    "essay": {"rubric", "max_words"},
    "ordering": {"items"},
    "matching": {"pairs", "scoring"},
}
LETTERS = string.ascii_uppercase
YES, NO = {"yes", "true", "y", "1"}, {"no", "false", "n", "0", ""}
SPECIAL = "\\|;=:"


def escape(text: str) -> str:
    return "".join("\\" + c if c in SPECIAL else c for c in text)


def unescape(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            i += 1
        out.append(raw[i])
        i += 1
    return "".join(out)


def split(raw: str, sep: str) -> list[str]:
    """Split on unescaped ``sep``, keeping escapes for the next level."""
    parts, cur, i = [], [], 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            cur.append(raw[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def items(raw: str, sep: str = "|") -> list[str]:
    return [unescape(p) for p in split(raw, sep)] if raw.strip() else []


def _flag(raw: str, column: str) -> bool:
    if raw.strip().lower() in YES:
        return True
    if raw.strip().lower() in NO:
        return False
    raise ValueError(f"{column}: write yes or no, not {raw!r}")


def _letter(raw: str, choices: int) -> int:
    letter = raw.strip().upper()
    if len(letter) != 1 or letter not in LETTERS[:choices]:
        raise ValueError(
            f"correct: {raw!r} is not one of the choice letters A to {LETTERS[choices - 1]}"
        )
    return LETTERS.index(letter)


def _float(raw: str, column: str) -> float:
    try:
        return float(raw.strip())
    except ValueError:
        raise ValueError(f"{column}: {raw!r} is not a number") from None


def _rubric(raw: str) -> list[dict[str, Any]]:
    criteria = []
    for part in split(raw, "|"):
        name, colon, levels = part.partition(":")
        while name.endswith("\\") and colon:  # an escaped colon inside the name
            more, colon, levels = levels.partition(":")
            name = f"{name}:{more}"
        if not colon:
            raise ValueError("rubric: write each criterion as 'Name: Level=points; Level=points'")
        parsed = []
        for level in split(levels, ";"):
            label, eq, pts = level.rpartition("=")
            if not eq:
                raise ValueError(f"rubric: give the level {unescape(level)!r} its points (Level=2)")
            parsed.append({"label": unescape(label.strip()), "points": _float(pts, "rubric")})
        criteria.append({"name": unescape(name.strip()), "levels": parsed})
    return criteria


def _body(row: dict[str, str], kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": kind,
        "prompt": row["prompt"],
        "explanation": row["explanation"],
    }
    if kind in ("single_choice", "multiple_choice"):
        body["choices"] = choices = items(row["choices"])
        n = max(len(choices), 1)
        if kind == "single_choice":
            body["correct"] = _letter(row["correct"], n)
        else:
            body["correct"] = sorted(_letter(c, n) for c in items(row["correct"], ";"))
            if row["scoring"].strip():
                body["scoring"] = row["scoring"].strip()
    elif kind == "true_false":
        body["correct"] = _flag(row["correct"], "correct") if row["correct"].strip() else None
    elif kind == "numeric":
        body["value"] = _float(row["correct"], "correct")
        if row["tolerance"].strip():
            body["tolerance"] = _float(row["tolerance"], "tolerance")
    elif kind == "short_text":
        body["accepted"] = items(row["accepted"])
        body["case_sensitive"] = _flag(row["case_sensitive"], "case_sensitive")
        body["pattern"] = row["pattern"] or None
    elif kind == "essay":
        body["rubric"] = _rubric(row["rubric"])
        if row["max_words"].strip():
            body["max_words"] = int(_float(row["max_words"], "max_words"))
    elif kind == "ordering":
        body["items"] = items(row["items"])
    elif kind == "matching":
        pairs = []
        for part in split(row["pairs"], "|") if row["pairs"].strip() else []:
            left, eq, right = part.partition("=")
            if not eq:
                raise ValueError("pairs: write each pair as left=right")
            pairs.append({"left": unescape(left.strip()), "right": unescape(right.strip())})
        body["pairs"] = pairs
        if row["scoring"].strip():
            body["scoring"] = row["scoring"].strip()
    return body


def _question(row: dict[str, str]) -> QuestionIn:
    kind = row["type"].strip()
    if kind not in USES:
        raise ValueError(f"type: {kind!r} is not a question type; use one of: {', '.join(USES)}")
    unused = sorted(c for c in COLUMNS if row[c].strip() and c not in COMMON | USES[kind])
    if unused:
        raise ValueError(f"{', '.join(unused)}: not used by {kind} questions; leave empty")
    return QuestionIn.model_validate(
        {
            "category": row["category"],
            "tags": items(row["tags"], ";"),
            "difficulty": row["difficulty"].strip() or "medium",
            "points": _float(row["points"], "points"),
            "body": _body(row, kind),
        }
    )


def parse(text: str, *, max_questions: int = MAX_QUESTIONS) -> Parsed:
    out = Parsed()
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        if missing:
            out.problems.append(("line 1", f"missing column(s): {', '.join(missing)}"))
        if unknown:
            out.problems.append(("line 1", f"unknown column(s): {', '.join(unknown)}"))
        return out
    reader.fieldnames = header
    for raw in reader:
        where = f"line {reader.line_num}"
        if len(out.questions) + len(out.problems) >= max_questions:
            out.problems.append((where, f"at most {max_questions} questions per file"))
            break
        if None in raw:
            out.problems.append((where, "this row has more cells than the header"))
            continue
        row = {c: safe_csv.restore(raw.get(c) or "") for c in COLUMNS}
        if not any(v.strip() for v in row.values()):
            continue
        try:
            out.questions.append(_question(row))
        except ValidationError as exc:
            out.problems += [(where, msg) for msg in describe(exc)]
        except ValueError as exc:
            out.problems.append((where, str(exc)))
    return out


def _row(q: QuestionIn) -> dict[str, str]:
    body = q.body
    row = dict.fromkeys(COLUMNS, "")
    row |= {
        "type": body.type,
        "category": q.category,
        "tags": ";".join(escape(t) for t in q.tags),
        "difficulty": q.difficulty,
        "points": number(q.points),
        "prompt": body.prompt,
        "explanation": body.explanation,
    }
    if isinstance(body, b.SingleChoice | b.MultipleChoice):
        row["choices"] = "|".join(escape(c) for c in body.choices)
        if isinstance(body, b.SingleChoice):
            row["correct"] = LETTERS[body.correct]
        else:
            row["correct"] = ";".join(LETTERS[c] for c in body.correct)
            row["scoring"] = body.scoring
    elif isinstance(body, b.TrueFalse):
        row["correct"] = "true" if body.correct else "false"
    elif isinstance(body, b.Numeric):
        row["correct"], row["tolerance"] = number(body.value), number(body.tolerance)
    elif isinstance(body, b.ShortText):
        row["accepted"] = "|".join(escape(a) for a in body.accepted)
        row["case_sensitive"] = "yes" if body.case_sensitive else "no"
        row["pattern"] = body.pattern or ""
    elif isinstance(body, b.Essay):
        row["rubric"] = "|".join(
            escape(c.name)
            + ": "
            + "; ".join(f"{escape(lv.label)}={number(lv.points)}" for lv in c.levels)
            for c in body.rubric
        )
        row["max_words"] = "" if body.max_words is None else str(body.max_words)
    elif isinstance(body, b.Ordering):
        row["items"] = "|".join(escape(i) for i in body.items)
    elif isinstance(body, b.Matching):
        row["pairs"] = "|".join(f"{escape(p.left)}={escape(p.right)}" for p in body.pairs)
        row["scoring"] = body.scoring
    return row


def dump(questions: list[QuestionIn]) -> str:
    """Cells that a spreadsheet would take for a formula carry a leading
    quote (:mod:`invigil.security.safe_csv`); :func:`parse` removes it."""
    return safe_csv.dump(COLUMNS, (_row(q) for q in questions))
