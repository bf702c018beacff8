"""The question form for people: plain fields in, a question body out.

Lists are one per line; choices are rows with a tick for the right ones;
an essay rubric is one criterion per line written
``Criterion | Level: points; Level: points``; matching pairs are
``left = right``. Whatever the author typed is kept to show it again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from invigil.content import rich
from invigil.content.bodies import TYPES
from invigil.content.models import QuestionVersion
from invigil.i18n import N_

MIN_ROWS = 5
MAX_ROWS = 20

LABELS = {
    "category": N_("Category"),
    "tags": N_("Tags"),
    "difficulty": N_("Difficulty"),
    "points": N_("Points"),
    "prompt": N_("Question text"),
    "prompt_markdown": N_("Formatted text"),
    "explanation": N_("Explanation"),
    "choices": N_("Choices"),
    "correct": N_("Right answer"),
    "scoring": N_("Scoring"),
    "value": N_("Right answer (number)"),
    "tolerance": N_("Allowed margin"),
    "accepted": N_("Accepted answers"),
    "case_sensitive": N_("Case"),
    "pattern": N_("Pattern"),
    "rubric": N_("Rubric"),
    "max_words": N_("Word limit"),
    "items": N_("Items"),
    "pairs": N_("Pairs"),
}


class QuestionForm(BaseModel):
    """Every field of every type as typed (only the ones of the type are used)."""

    model_config = ConfigDict(extra="ignore")

    csrf: str = ""
    bank_id: str = ""
    type: str = ""
    category: str = ""
    tags: str = ""
    difficulty: str = "medium"
    points: str = "1"
    prompt: str = ""
    prompt_markdown: str = ""
    preview: str = ""  # "Preview the formatted text": shown, nothing saved
    explanation: str = ""
    choice: list[str] = []
    correct: list[str] = []
    scoring: str = "all_or_nothing"
    value: str = ""
    tolerance: str = ""
    accepted: str = ""
    case_sensitive: str = ""
    manual_credit: str = ""
    pattern: str = ""
    rubric: str = ""
    max_words: str = ""
    items: str = ""
    pairs: str = ""

    def rows(self) -> list[str]:
        """The choice rows to show: what was typed plus blank rows to add more."""
        rows = list(self.choice[:MAX_ROWS])
        while rows and not rows[-1].strip() and len(rows) > MIN_ROWS:
            rows.pop()
        want = min(MAX_ROWS, max(MIN_ROWS, len([r for r in rows if r.strip()]) + 2))
        return rows + [""] * (want - len(rows))


class FormProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _number(text: str) -> str:
    """A number as typed; pydantic says what is wrong with one that is not."""
    return text.strip()


def _choices(form: QuestionForm, many: bool) -> dict[str, Any]:
    kept: list[str] = []
    right: list[int] = []
    ticked = {c for c in form.correct if c.isdigit()}
    for row, text in enumerate(form.choice[:MAX_ROWS]):
        if text.strip():
            if str(row) in ticked:
                right.append(len(kept))
            kept.append(text.strip())
        elif str(row) in ticked:
            raise FormProblem("choices", f"choice {row + 1} is marked right but has no text")
    if not right:
        raise FormProblem(
            "choices", "tick the right choice" + ("s" if many else "") + " next to the text"
        )
    if not many and len(right) > 1:
        raise FormProblem("choices", "tick exactly one right choice")
    body: dict[str, Any] = {"choices": kept, "correct": right if many else right[0]}
    if many:
        body["scoring"] = form.scoring
    return body


def _rubric(text: str) -> list[dict[str, Any]]:
    criteria = []
    for n, line in enumerate(_lines(text), start=1):
        name, bar, rest = line.partition("|")
        if not bar or not name.strip() or not rest.strip():
            raise FormProblem(
                "rubric",
                f"rubric line {n}: write it as Criterion | Level: points; Level: points",
            )
        levels = []
        for part in [p for p in rest.split(";") if p.strip()]:
            label, colon, points = part.rpartition(":")
            if not colon or not label.strip():
                raise FormProblem(
                    "rubric",
                    f"rubric line {n}: write each level as Label: points (not {part.strip()!r})",
                )
            levels.append({"label": label.strip(), "points": _number(points)})
        criteria.append({"name": name.strip(), "levels": levels})
    return criteria


def _pairs(text: str) -> list[dict[str, str]]:
    pairs = []
    for n, line in enumerate(_lines(text), start=1):
        left, eq, right = line.partition("=")
        if not eq:
            raise FormProblem("pairs", f"pair on line {n}: write it as left = right")
        pairs.append({"left": left.strip(), "right": right.strip()})
    return pairs


def to_input(form: QuestionForm, kind: str) -> dict[str, Any]:
    """The form as the API's question body (``QuestionIn`` shape, not yet
    validated). Raises FormProblem for what the form itself cannot read."""
    if kind not in TYPES:
        raise FormProblem("type", "choose a type of question")
    body: dict[str, Any] = {"type": kind, "prompt": form.prompt, "explanation": form.explanation}
    if form.prompt_markdown.strip():  # the formatted text; the question text is made from it
        try:
            rich.from_markdown(form.prompt_markdown)
        except rich.FormulaError as exc:
            raise FormProblem("prompt_markdown", str(exc)) from None
        body["prompt_markdown"] = form.prompt_markdown
    if kind in ("single_choice", "multiple_choice"):
        body |= _choices(form, kind == "multiple_choice")
    elif kind == "true_false":
        answer = next((c for c in form.correct if c in ("true", "false")), None)
        if answer is None:
            raise FormProblem("correct", "say whether the statement is true or false")
        body["correct"] = answer == "true"
    elif kind == "numeric":
        body["value"] = _number(form.value)
        if form.tolerance.strip():
            body["tolerance"] = _number(form.tolerance)
    elif kind == "short_text":
        body["accepted"] = _lines(form.accepted)
        body["case_sensitive"] = bool(form.case_sensitive)
        body["pattern"] = form.pattern.strip() or None
        if form.manual_credit:  # left out when off: bodies saved before stay the same
            body["manual_credit"] = True
    elif kind == "essay":
        body["rubric"] = _rubric(form.rubric)
        if form.max_words.strip():
            body["max_words"] = form.max_words.strip()
    elif kind == "ordering":
        body["items"] = _lines(form.items)
    elif kind == "matching":
        body["pairs"] = _pairs(form.pairs)
        body["scoring"] = "all_or_nothing" if form.scoring == "all_or_nothing" else "per_pair"
    return {
        "category": form.category,
        "tags": [t.strip() for t in form.tags.replace("\n", ",").split(",") if t.strip()],
        "difficulty": form.difficulty,
        "points": _number(form.points),
        "body": body,
    }


def _num(value: Any) -> str:
    return f"{float(value):g}" if value is not None else ""


def from_version(v: QuestionVersion | None, kind: str) -> QuestionForm:
    """The form filled with a stored version (or blank for a new question)."""
    if v is None:
        correct = ["true"] if kind == "true_false" else []
        return QuestionForm(type=kind, correct=correct, choice=[""] * MIN_ROWS)
    body = v.body
    form: dict[str, Any] = {
        "type": kind,
        "category": v.category,
        "tags": ", ".join(v.tags),
        "difficulty": v.difficulty,
        "points": _num(v.points),
        "prompt": body.get("prompt", ""),
        "prompt_markdown": body.get("prompt_markdown") or "",
        "explanation": body.get("explanation", ""),
    }
    if kind in ("single_choice", "multiple_choice"):
        form["choice"] = list(body["choices"])
        right = body["correct"] if isinstance(body["correct"], list) else [body["correct"]]
        form["correct"] = [str(i) for i in right]
        form["scoring"] = body.get("scoring", "all_or_nothing")
    elif kind == "true_false":
        form["correct"] = ["true" if body["correct"] else "false"]
    elif kind == "numeric":
        form["value"] = _num(body["value"])
        form["tolerance"] = _num(body.get("tolerance", 0))
    elif kind == "short_text":
        form["accepted"] = "\n".join(body["accepted"])
        form["case_sensitive"] = "yes" if body.get("case_sensitive") else ""
        form["pattern"] = body.get("pattern") or ""
        form["manual_credit"] = "yes" if body.get("manual_credit") else ""
    elif kind == "essay":
        form["rubric"] = "\n".join(
            f"{c['name']} | "
            + "; ".join(f"{lv['label']}: {_num(lv['points'])}" for lv in c["levels"])
            for c in body["rubric"]
        )
        form["max_words"] = str(body["max_words"]) if body.get("max_words") else ""
    elif kind == "ordering":
        form["items"] = "\n".join(body["items"])
    elif kind == "matching":
        form["pairs"] = "\n".join(f"{p['left']} = {p['right']}" for p in body["pairs"])
        form["scoring"] = body.get("scoring", "per_pair")
    return QuestionForm.model_validate(form)
