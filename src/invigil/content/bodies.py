"""What a question says and what counts as right, one model per type.

A body is validated strictly (unknown fields are refused) and its messages
speak to an author, not a programmer. Choices, items and pairs are stored in
their canonical order; shuffling happens per candidate at assembly.

Image attachments are not supported yet: they belong to the evidence store
(another issue), and a body will then reference stored objects by id.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from invigil.content import rich

Text = Annotated[str, Field(min_length=1, max_length=2000)]
MAX_PATTERN = 200
# A quantified group that itself holds a quantifier, like (a+)+: the classic
# catastrophic-backtracking shape. Python's re has no timeout, and a pattern
# runs on candidates' answers on a shared server, so such patterns are refused.
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


def _clean(value: str) -> str:
    return " ".join(value.split())


def _distinct(values: list[str], what: str) -> list[str]:
    cleaned = [v.strip() for v in values]
    if any(not v for v in cleaned):
        raise ValueError(f"every {what} needs some text")
    seen: set[str] = set()
    for v in cleaned:
        if v.casefold() in seen:
            raise ValueError(f"the {what} {v!r} appears twice; each must be different")
        seen.add(v.casefold())
    return cleaned


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, max_length=10_000, description="the question itself")
    prompt_html: str | None = Field(
        default=None,
        max_length=rich.MAX_HTML,
        description="the question as formatted text: a safe subset of HTML with MathML "
        "formulas (docs/content-formats.md); the prompt is then its plain text (given or "
        "derived)",
    )
    prompt_markdown: str | None = Field(
        default=None,
        max_length=rich.MAX_MARKDOWN,
        description="the formatted text as its author wrote it: Markdown with $...$ and "
        "$$...$$ formulas (LaTeX); prompt_html is then made from it",
    )
    explanation: str = Field(default="", max_length=10_000, description="shown after review")

    @model_validator(mode="before")
    @classmethod
    def _rich(cls, data: Any) -> Any:
        """Markdown makes the formatted text; formatted text is cleaned to
        the allowed subset, and its words are the prompt (a prompt given with
        it is replaced: the two never say different things)."""
        if not isinstance(data, dict):
            return data
        source = data.get("prompt_markdown")
        if isinstance(source, str) and len(source) <= rich.MAX_MARKDOWN:
            if not source.strip():
                data = {**data, "prompt_markdown": None}
            else:
                data = {**data, "prompt_html": rich.from_markdown(source)}
        if not isinstance(data.get("prompt_html"), str):
            return data
        html = rich.clean(data["prompt_html"])
        data = {**data, "prompt_html": html or None}
        if html:
            data["prompt"] = rich.text_of(html)[:10_000]
        return data

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question needs some text")
        return v.strip()


class SingleChoice(_Body):
    type: Literal["single_choice"] = "single_choice"
    choices: list[Text] = Field(min_length=2, max_length=20)
    correct: int = Field(description="position of the right choice, counting from 0")

    @field_validator("choices")
    @classmethod
    def _choices(cls, v: list[str]) -> list[str]:
        return _distinct(v, "choice")

    @model_validator(mode="after")
    def _correct(self) -> SingleChoice:
        if not 0 <= self.correct < len(self.choices):
            raise ValueError(
                f"the right answer must be one of the {len(self.choices)} choices "
                f"(0 to {len(self.choices) - 1}), not {self.correct}"
            )
        return self


class MultipleChoice(_Body):
    type: Literal["multiple_choice"] = "multiple_choice"
    choices: list[Text] = Field(min_length=2, max_length=20)
    correct: list[int] = Field(min_length=1, description="positions of every right choice")
    scoring: Literal["all_or_nothing", "proportional"] = "all_or_nothing"

    @field_validator("choices")
    @classmethod
    def _choices(cls, v: list[str]) -> list[str]:
        return _distinct(v, "choice")

    @field_validator("correct")
    @classmethod
    def _order(cls, v: list[int]) -> list[int]:
        return sorted(v)

    @model_validator(mode="after")
    def _correct(self) -> MultipleChoice:
        n = len(self.choices)
        bad = [c for c in self.correct if not 0 <= c < n]
        if bad:
            raise ValueError(f"right answers must be among the {n} choices (0 to {n - 1})")
        if len(set(self.correct)) != len(self.correct):
            raise ValueError("a right answer is listed twice")
        if sorted(self.correct) != self.correct:
            raise ValueError("list the right answers in the order of the choices")
        return self


class TrueFalse(_Body):
    type: Literal["true_false"] = "true_false"
    correct: bool


class Numeric(_Body):
    type: Literal["numeric"] = "numeric"
    value: float = Field(allow_inf_nan=False, description="the right answer")
    tolerance: float = Field(
        default=0, ge=0, allow_inf_nan=False, description="answers within +/- this are right"
    )


class ShortText(_Body):
    """Answers are compared after trimming and collapsing runs of spaces."""

    type: Literal["short_text"] = "short_text"
    accepted: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=50
    )
    case_sensitive: bool = False
    pattern: str | None = Field(
        default=None,
        max_length=MAX_PATTERN,
        description="also accept any answer this regular expression matches in full",
    )
    manual_credit: bool = Field(
        default=False,
        description="an answer that matches no accepted answer goes to a grader instead of 0",
    )

    @field_validator("accepted")
    @classmethod
    def _accepted(cls, v: list[str]) -> list[str]:
        cleaned = [_clean(a) for a in v]
        if any(not a for a in cleaned):
            raise ValueError("every accepted answer needs some text")
        return cleaned

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"the pattern is not a valid regular expression ({exc})") from None
        if _NESTED_QUANTIFIER.search(v):
            raise ValueError(
                "the pattern repeats a group that already repeats (like (a+)+), which can "
                "take very long to check; simplify it or list the accepted answers"
            )
        return v


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: Text
    points: float = Field(ge=0, le=1000, allow_inf_nan=False)


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Text
    levels: list[Level] = Field(min_length=2, max_length=10)

    @model_validator(mode="after")
    def _levels(self) -> Criterion:
        _distinct([lv.label for lv in self.levels], f"level of {self.name!r}")
        return self


class Essay(_Body):
    """Graded by people with the rubric: the best levels add up to the points."""

    type: Literal["essay"] = "essay"
    rubric: list[Criterion] = Field(min_length=1, max_length=20)
    max_words: int | None = Field(default=None, ge=1, le=20_000)

    @field_validator("rubric")
    @classmethod
    def _rubric(cls, v: list[Criterion]) -> list[Criterion]:
        _distinct([c.name for c in v], "rubric criterion")
        return v

    def rubric_points(self) -> float:
        return sum(max(lv.points for lv in c.levels) for c in self.rubric)


class Ordering(_Body):
    """Items are stored in the right order; candidates see them shuffled."""

    type: Literal["ordering"] = "ordering"
    items: list[Text] = Field(min_length=2, max_length=20)

    @field_validator("items")
    @classmethod
    def _items(cls, v: list[str]) -> list[str]:
        return _distinct(v, "item")


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    left: Text
    right: Text


class Matching(_Body):
    """``per_pair``: each correct pair earns an equal share of the points;
    ``all_or_nothing``: every pair must be right (as QTI's match_correct)."""

    type: Literal["matching"] = "matching"
    pairs: list[Pair] = Field(min_length=2, max_length=20)
    scoring: Literal["per_pair", "all_or_nothing"] = "per_pair"

    @field_validator("pairs")
    @classmethod
    def _pairs(cls, v: list[Pair]) -> list[Pair]:
        _distinct([p.left for p in v], "left-hand item")
        _distinct([p.right for p in v], "right-hand item")
        return v


Body = Annotated[
    SingleChoice | MultipleChoice | TrueFalse | Numeric | ShortText | Essay | Ordering | Matching,
    Field(discriminator="type"),
]
BODY = TypeAdapter[Body](Body)
TYPES = (
    "single_choice",
    "multiple_choice",
    "true_false",
    "numeric",
    "short_text",
    "essay",
    "ordering",
    "matching",
)


def parse_body(raw: dict[str, Any]) -> Body:
    """A stored body (already validated when it was written)."""
    return BODY.validate_python(raw)


def option_count(body: Body) -> int:
    """How many things a candidate sees in an order we may shuffle."""
    if isinstance(body, SingleChoice | MultipleChoice):
        return len(body.choices)
    if isinstance(body, Ordering):
        return len(body.items)
    if isinstance(body, Matching):
        return len(body.pairs)
    return 0
