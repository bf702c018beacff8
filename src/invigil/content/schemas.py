"""Request and response shapes of the content API (bodies are in ``bodies``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime
from gettext import NullTranslations
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from invigil.content.bodies import Body, Essay
from invigil.content.settings import ExamSettings, Section

Difficulty = Literal["easy", "medium", "hard"]
# The author's consent text in other languages: {"de": "...", ...} (checked in content.consent).
ConsentTranslations = Annotated[
    dict[Annotated[str, Field(max_length=35)], Annotated[str, Field(max_length=20_000)]],
    Field(max_length=40, description="the consent text in each other language the tenant offers"),
]
# The exam's title, description and section titles in other languages:
# {"de": {"title": ..., "description": ..., "sections": [...]}} (checked in content.exam_text).
TextTranslations = Annotated[
    dict[Annotated[str, Field(max_length=35)], Any],
    Field(
        max_length=40,
        description="the title, description and section titles (one per section, in order) "
        "in each other language the tenant offers",
    ),
]
LANGUAGE = re.compile(r"[a-z]{2,3}(_[a-z0-9]{2,8})?")


def clean_tags(tags: list[str]) -> list[str]:
    """Trimmed, lower-case, without duplicates, in the order given."""
    out: list[str] = []
    for tag in tags:
        t = " ".join(tag.split()).lower()
        if t and t not in out:
            out.append(t)
    return out


class QuestionIn(BaseModel):
    """One question as authors write it: the API body, one JSON import item."""

    model_config = ConfigDict(extra="forbid")

    category: str = Field(min_length=1, max_length=100, description="used for breakdowns")
    tags: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=20)
    difficulty: Difficulty = "medium"
    points: float = Field(gt=0, le=1000, allow_inf_nan=False)
    body: Body
    language: str = Field(
        default="en", max_length=16, description="the language the question is written in"
    )

    @field_validator("language")
    @classmethod
    def _language(cls, v: str) -> str:
        code = v.strip().replace("-", "_").lower()
        if not LANGUAGE.fullmatch(code):
            raise ValueError("give a language code such as en, de or pt_br")
        return code

    @field_validator("category")
    @classmethod
    def _category(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("the category needs some text")
        return v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return clean_tags(v)

    @field_validator("points")
    @classmethod
    def _points(cls, v: float) -> float:
        if round(v, 2) != v:
            raise ValueError("points may have at most two decimals")
        return v

    @model_validator(mode="after")
    def _rubric(self) -> QuestionIn:
        if isinstance(self.body, Essay) and abs(self.body.rubric_points() - self.points) > 1e-9:
            raise ValueError(
                f"the rubric's best levels add up to {self.body.rubric_points():g} points, "
                f"but the question is worth {self.points:g}; make them equal"
            )
        return self


class QuestionCreateIn(QuestionIn):
    bank_id: uuid.UUID


class QuestionPatchIn(BaseModel):
    """Any field given replaces the current one; the result is a new version."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = None
    tags: list[str] | None = None
    difficulty: Difficulty | None = None
    points: float | None = None
    body: dict[str, Any] | None = Field(default=None, description="a whole new body")
    language: str | None = None


class VersionOut(BaseModel):
    id: uuid.UUID
    version: int
    category: str
    tags: list[str]
    difficulty: str
    points: float
    body: dict[str, Any]
    language: str
    created_at: datetime
    created_by: str
    drafted_from: uuid.UUID | None = Field(
        default=None,
        description="the AI draft this version was saved from (drafted by AI, reviewed by "
        "created_by)",
    )


class QuestionOut(BaseModel):
    id: uuid.UUID
    bank_id: uuid.UUID
    type: str
    version: int
    version_id: uuid.UUID
    category: str
    tags: list[str]
    difficulty: str
    points: float
    body: dict[str, Any]
    language: str
    archived: bool
    created_at: datetime
    updated_at: datetime


class QuestionDetailOut(QuestionOut):
    versions: list[VersionOut]


class TranslationOut(BaseModel):
    language: str
    question_version_id: uuid.UUID
    version: int = Field(description="the question version this translates")
    current: bool = Field(
        description="false: made for an earlier version; not delivered until translated again"
    )
    body: dict[str, Any] = Field(description="the translated words (see TranslationIn)")
    created_at: datetime
    updated_at: datetime
    updated_by: str


class BankIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class BankPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class BankOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    name: str
    description: str
    questions: int
    created_at: datetime
    updated_at: datetime


class ImportProblem(BaseModel):
    where: str
    message: str


class ImportOut(BaseModel):
    imported: int
    question_ids: list[uuid.UUID]
    skipped_duplicates: int = 0  # exact copies of questions already in the bank
    refused: list[ImportProblem] = Field(
        default_factory=list,
        description="QTI items not imported because Invigil cannot carry them faithfully, "
        "each with the reason; the file's other items were imported",
    )
    notes: list[ImportProblem] = Field(
        default_factory=list,
        description="what an import left out or decided without changing a question "
        "(e.g. feedback not imported)",
    )


class ExamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$", description="unique per tenant")
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=20_000, description="instructions")
    consent_text: str = Field(
        default="", max_length=20_000, description="in the tenant's default language"
    )
    consent_translations: ConsentTranslations = Field(default_factory=dict)
    text_translations: TextTranslations = Field(default_factory=dict)
    settings: ExamSettings = Field(default_factory=ExamSettings)
    sections: list[Section] = Field(default_factory=list, max_length=50)


class ExamPatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=20_000)
    consent_text: str | None = Field(default=None, max_length=20_000)
    consent_translations: ConsentTranslations | None = None
    text_translations: TextTranslations | None = None
    settings: dict[str, Any] | None = None
    sections: list[dict[str, Any]] | None = None


class ExamOut(BaseModel):
    id: uuid.UUID
    slug: str
    title: str
    description: str
    consent_text: str
    consent_translations: dict[str, str]
    text_translations: dict[str, dict[str, Any]]
    status: str
    published_version: int | None
    has_draft_changes: bool
    settings: dict[str, Any]
    sections: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime


class ExamVersionOut(BaseModel):
    id: uuid.UUID
    exam_id: uuid.UUID
    version: int
    title: str
    content_hash: str
    consent_texts: dict[str, str] | None = Field(
        description="the complete consent text per language, frozen at publish "
        "(null for versions published before consent was frozen per language: English)"
    )
    text_translations: dict[str, dict[str, Any]] | None = Field(
        description="the title, description and section titles per other language, frozen "
        "at publish (null when none was: every candidate reads them as written)"
    )
    text_language: str | None = Field(description="the language the exam's own words are in")
    settings: dict[str, Any]
    sections: list[dict[str, Any]]
    created_at: datetime
    created_by: str


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int | None = Field(default=None, ge=0, le=2**53 - 1)


class PreviewItemOut(BaseModel):
    section: int
    question_id: uuid.UUID
    question_version_id: uuid.UUID
    type: str
    points: float
    body: dict[str, Any] = Field(description="what the candidate sees: no answers")
    images: list[uuid.UUID] = Field(
        default_factory=list,
        description="images this question version shows: "
        "GET /api/v1/questions/{question_id}/images/{image_id}",
    )


class PreviewOut(BaseModel):
    exam_id: uuid.UUID
    version: int | None = Field(description="the published version shown, null for a draft")
    seed: int
    items: list[PreviewItemOut]
    max_points: float = Field(description="what this paper is worth")
    every_paper_worth: float | None = Field(
        description="what every paper of this version is worth; null when papers can differ"
    )


def describe(
    exc: ValidationError, prefix: str = "", t: NullTranslations | None = None
) -> list[str]:
    """Pydantic errors as sentences an author can act on; in English (the
    API, imports), or through ``t``, a page reader's catalog."""
    t = t or NullTranslations()
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not _is_variant(p)]
        where = ".".join(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            msg = t.gettext("unknown question type %(type)r; use one of: %(types)s") % {
                "type": err["input"].get("type"),
                "types": ", ".join(_types()),
            }
        elif err["type"] == "union_tag_not_found":
            msg = t.gettext("say which type of question this is (type: single_choice, essay, ...)")
        elif err["type"] == "extra_forbidden":
            msg = t.gettext("this field is not known here; remove it")
        elif err["type"] == "missing":
            msg = t.gettext("this field is required")
        elif (plain := PLAIN.get(err["type"])) is not None:
            msg = plain(err.get("ctx") or {}, t)
        out.append(f"{prefix}{where + ': ' if where else ''}{msg}")
    return out


def _num(value: object) -> str:
    """0.0 as 0, 2.50 as 2.5: a bound as a person writes it."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _n(value: object) -> int:
    return value if isinstance(value, int) else 0


# Pydantic's sentences for the commonest mistakes, as an author reads them.
PLAIN: dict[str, Callable[[dict[str, Any], NullTranslations], str]] = {
    "float_parsing": lambda c, t: t.gettext("must be a number, such as 2 or 2.5"),
    "float_type": lambda c, t: t.gettext("must be a number, such as 2 or 2.5"),
    "decimal_parsing": lambda c, t: t.gettext("must be a number, such as 2 or 2.5"),
    "int_parsing": lambda c, t: t.gettext("must be a whole number, such as 3"),
    "int_from_float": lambda c, t: t.gettext("must be a whole number, such as 3"),
    "bool_parsing": lambda c, t: t.gettext("must be yes or no"),
    "greater_than": lambda c, t: t.gettext("must be more than %(n)s") % {"n": _num(c.get("gt"))},
    "greater_than_equal": lambda c, t: (
        t.gettext("must be at least %(n)s") % {"n": _num(c.get("ge"))}
    ),
    "less_than": lambda c, t: t.gettext("must be less than %(n)s") % {"n": _num(c.get("lt"))},
    "less_than_equal": lambda c, t: t.gettext("must be at most %(n)s") % {"n": _num(c.get("le"))},
    "string_too_short": lambda c, t: (
        t.gettext("must not be empty")
        if c.get("min_length") == 1
        else t.ngettext(
            "must be at least %(n)s character",
            "must be at least %(n)s characters",
            _n(c.get("min_length")),
        )
        % {"n": c.get("min_length")}
    ),
    "string_too_long": lambda c, t: (
        t.ngettext(
            "must be at most %(n)s character",
            "must be at most %(n)s characters",
            _n(c.get("max_length")),
        )
        % {"n": c.get("max_length")}
    ),
    "too_short": lambda c, t: (
        t.ngettext(
            "needs at least %(n)s item", "needs at least %(n)s items", _n(c.get("min_length"))
        )
        % {"n": c.get("min_length")}
    ),
    "too_long": lambda c, t: (
        t.ngettext("takes at most %(n)s item", "takes at most %(n)s items", _n(c.get("max_length")))
        % {"n": c.get("max_length")}
    ),
    "literal_error": lambda c, t: (
        t.gettext("must be %(expected)s") % {"expected": c.get("expected")}
    ),
}


def _types() -> list[str]:
    from invigil.content.bodies import TYPES

    return list(TYPES)


def _is_variant(part: object) -> bool:
    from invigil.content.bodies import TYPES

    return isinstance(part, str) and (part in TYPES or part.startswith("function-"))
