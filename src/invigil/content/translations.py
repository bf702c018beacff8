"""Translated question versions: other words, the same question.

A translation belongs to exactly one question version and carries only
what a candidate reads: the prompt, the choices, items and pairs, the names
of an essay's criteria, the explanation. Everything that decides a score
stays in the version and is shared by every language: which choice is
right (by position), the numeric value and tolerance, the right order, the
right pairs, the pattern, the points and the rubric's levels. A translation
must therefore have exactly the structure of its version (as many choices,
in the same order, as many items, pairs and criteria), or it is refused
with the field that does not fit.

One exception, because words are not language-independent: a short-text
question may list accepted answers of its own in the translation
("München" where the version accepts "Munich"). A candidate who takes the
question in that language scores against the version's accepted answers
*and* the translation's; the pattern and case rule stay shared.

Editing a question writes a new version; translations of the old version
stay with it, are shown to staff as outdated and are never delivered with
the new version, until someone translates the new version (the form starts
from the old words). Publishing copies the translations of each pinned
version, for the tenant's enabled languages, into the exam version (see
:func:`frozen`), so a published exam never changes when a translation is
corrected later.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import select

from invigil import audit, i18n
from invigil.audit.canonical import canonical_json
from invigil.content import bodies as b
from invigil.content.models import Question, QuestionTranslation, QuestionVersion
from invigil.content.questions import current, require_question
from invigil.content.schemas import describe
from invigil.db.uow import UnitOfWork
from invigil.errors import Conflict, Invalid

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class TranslationIn(BaseModel):
    """The words of one question version in another language."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=10_000)
    explanation: str = Field(default="", max_length=10_000)
    choices: list[Text] | None = Field(default=None, max_length=20)
    items: list[Text] | None = Field(default=None, max_length=20)
    pairs: list[b.Pair] | None = Field(default=None, max_length=20)
    criteria: list[Text] | None = Field(
        default=None,
        max_length=20,
        description="the essay's criteria names, as candidates see them",
    )
    accepted: list[Annotated[str, Field(min_length=1, max_length=500)]] | None = Field(
        default=None,
        max_length=50,
        description="short text only: answers also right in this language",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the question needs some text")
        return v.strip()

    @field_validator("accepted")
    @classmethod
    def _accepted(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        cleaned = [" ".join(a.split()) for a in v]
        if any(not a for a in cleaned):
            raise ValueError("every accepted answer needs some text")
        return cleaned

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class TranslationPutIn(TranslationIn):
    """A translation with the language it is in (the API's body)."""

    language: str = Field(min_length=2, max_length=16, description="en, de, ...")


# The lists each type shows a candidate, and what the version calls them.
_LISTS: dict[str, str] = {
    "choices": "choices",
    "items": "items",
    "pairs": "pairs",
    "criteria": "rubric",
}


def _wanted(body: b.Body) -> dict[str, int]:
    """The translation's lists this body needs, with their lengths."""
    if isinstance(body, b.SingleChoice | b.MultipleChoice):
        return {"choices": len(body.choices)}
    if isinstance(body, b.Ordering):
        return {"items": len(body.items)}
    if isinstance(body, b.Matching):
        return {"pairs": len(body.pairs)}
    if isinstance(body, b.Essay):
        return {"criteria": len(body.rubric)}
    return {}


def problems(body: b.Body, t: TranslationIn) -> list[tuple[str, str]]:
    """Where ``t`` does not have the structure of ``body``: (field, message)."""
    out: list[tuple[str, str]] = []
    wanted = _wanted(body)
    for name in _LISTS:
        given: list[Any] | None = getattr(t, name)
        if name not in wanted:
            if given is not None:
                out.append((name, f"a {body.type} question has no {name}; remove this field"))
            continue
        n = wanted[name]
        if given is None:
            out.append((name, f"give the {n} {name} of the question in this language"))
        elif len(given) != n:
            out.append(
                (
                    name,
                    f"the question has {n} {name}, the translation {len(given)}; "
                    f"give exactly {n}, in the question's order",
                )
            )
        else:
            texts = [p.left for p in given] if name == "pairs" else given
            try:
                b._distinct(texts, name[:-1] if name != "pairs" else "left-hand item")
                if name == "pairs":
                    b._distinct([p.right for p in given], "right-hand item")
            except ValueError as exc:
                out.append((name, str(exc)))
    if t.accepted is not None and not isinstance(body, b.ShortText):
        out.append(("accepted", f"a {body.type} question has no accepted answers; remove them"))
    return out


def parse(raw: Any) -> TranslationIn:
    """A translation from a form or a file, or :class:`Invalid` naming the fields."""
    try:
        return TranslationIn.model_validate(raw)
    except ValidationError as exc:
        found = describe(exc)
        where = [str(e["loc"][0]) for e in exc.errors() if e["loc"]]
        raise Invalid(
            "the translation was not saved: " + "; ".join(found),
            field=where[0] if where else "body",
            problems=[{"where": w, "message": m} for w, m in zip(where, found, strict=False)],
        ) from None


def check(body: b.Body, t: TranslationIn) -> None:
    found = problems(body, t)
    if found:
        raise Invalid(
            "the translation was not saved: " + "; ".join(f"{w}: {m}" for w, m in found),
            field=found[0][0],
            problems=[{"where": w, "message": m} for w, m in found],
        )


def translated(body: b.Body, text: dict[str, Any]) -> b.Body:
    """``body`` with a stored translation's words; every key stays. A
    translation is plain text: the original's formatted text (in the
    original language) is not shown with it."""
    update: dict[str, Any] = {"prompt": text["prompt"], "prompt_html": None}
    if text.get("explanation"):
        update["explanation"] = text["explanation"]
    if isinstance(body, b.SingleChoice | b.MultipleChoice) and "choices" in text:
        update["choices"] = list(text["choices"])
    elif isinstance(body, b.Ordering) and "items" in text:
        update["items"] = list(text["items"])
    elif isinstance(body, b.Matching) and "pairs" in text:
        update["pairs"] = [b.Pair.model_validate(p) for p in text["pairs"]]
    elif isinstance(body, b.Essay) and "criteria" in text:
        update["rubric"] = [
            c.model_copy(update={"name": name})
            for c, name in zip(body.rubric, text["criteria"], strict=True)
        ]
    return body.model_copy(update=update)


def for_scoring(body: b.Body, text: dict[str, Any] | None) -> b.Body:
    """The version's keys, plus a short-text translation's own accepted
    answers: the only key a language adds (never removes)."""
    if text is None or not isinstance(body, b.ShortText) or not text.get("accepted"):
        return body
    extra = [a for a in text["accepted"] if a not in body.accepted]
    return body.model_copy(update={"accepted": [*body.accepted, *extra]})


# -- the service --------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A translation as staff see it: for which version, and whether that
    version is still the question's current one."""

    translation: QuestionTranslation
    version: int
    current: bool


def _author(uow: UnitOfWork) -> str:
    return f"{uow.actor.kind}:{uow.actor.id}"[:80]


def text_sha256(text: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(text)).hexdigest()


def language_of(code: str, v: QuestionVersion) -> str:
    lang = i18n.check(code)
    if lang == v.language:
        raise Invalid(
            f"the question is written in {i18n.display_name(lang)} already; "
            "choose another language",
            field="language",
        )
    return lang


def put(uow: UnitOfWork, question_id: uuid.UUID, code: str, data: TranslationIn) -> Row:
    """Translate the question's current version into ``code`` (or correct
    that translation); audited with the hash of the words."""
    q = require_question(uow, question_id)
    # Takes turns with an edit: the version translated is the current one.
    uow.session.refresh(q, with_for_update=True)
    if q.archived_at is not None:
        raise Conflict("this question is archived; it can no longer be translated")
    v = current(uow, q)
    lang = language_of(code, v)
    check(b.parse_body(v.body), data)
    text = data.stored()
    row = uow.scalar(
        select(QuestionTranslation).where(
            QuestionTranslation.question_version_id == v.id, QuestionTranslation.language == lang
        )
    )
    now = datetime.now(UTC)
    if row is None:
        row = add(uow, q, v, lang, data)
        action = "question.translated"
    else:
        if row.body == text:
            raise Invalid("nothing to change: the translation already says exactly this")
        row.body = text
        row.updated_at = now
        row.updated_by = _author(uow)
        action = "question.translation_updated"
    uow.flush()
    audit.record(
        uow,
        action,
        q,
        {
            "language": lang,
            "version": v.version,
            "version_id": v.id,
            "translation_id": row.id,
            "text_sha256": text_sha256(text),
        },
    )
    return Row(row, v.version, True)


def add(
    uow: UnitOfWork, q: Question, v: QuestionVersion, lang: str, data: TranslationIn
) -> QuestionTranslation:
    """A new question's translation from an imported file (already checked
    against its version's structure; the import's audit entry lists it)."""
    row = QuestionTranslation(
        tenant_id=uow.tenant,
        id=uuid.uuid4(),
        question_id=q.id,
        question_version_id=v.id,
        language=lang,
        body=data.stored(),
        created_by=_author(uow),
        updated_by=_author(uow),
    )
    uow.add(row)
    return row


def current_words(
    uow: UnitOfWork, version_ids: list[uuid.UUID]
) -> dict[uuid.UUID, dict[str, dict[str, Any]]]:
    """version id -> language -> words, every language (for export)."""
    if not version_ids:
        return {}
    out: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
    stmt = select(QuestionTranslation).where(
        QuestionTranslation.question_version_id.in_(version_ids)
    )
    for t in uow.scalars(stmt):
        out.setdefault(t.question_version_id, {})[t.language] = t.body
    return out


def of_question(uow: UnitOfWork, q: Question) -> list[Row]:
    """Every translation of every version, newest version first."""
    stmt = (
        select(QuestionTranslation, QuestionVersion.version)
        .join(
            QuestionVersion,
            (QuestionVersion.tenant_id == QuestionTranslation.tenant_id)
            & (QuestionVersion.id == QuestionTranslation.question_version_id),
        )
        .where(QuestionTranslation.question_id == q.id)
        .order_by(QuestionVersion.version.desc(), QuestionTranslation.language)
    )
    return [Row(t, n, n == q.current_version) for t, n in uow.session.execute(stmt)]


@dataclass(frozen=True)
class Status:
    """One enabled language of a question, as the question page lists it."""

    language: str
    row: Row | None  # the current version's translation, else the newest older one

    @property
    def state(self) -> str:
        if self.row is None:
            return "missing"
        return "current" if self.row.current else "outdated"


def statuses(rows: list[Row], languages: list[str], authored: str) -> list[Status]:
    out = []
    for lang in languages:
        if lang == authored:
            continue
        mine = [r for r in rows if r.translation.language == lang]
        out.append(Status(lang, mine[0] if mine else None))
    return out


def for_versions(
    uow: UnitOfWork, version_ids: list[uuid.UUID], languages: list[str]
) -> dict[uuid.UUID, dict[str, dict[str, Any]]]:
    """version id -> language -> words, for freezing an exam."""
    if not version_ids or not languages:
        return {}
    out: dict[uuid.UUID, dict[str, dict[str, Any]]] = {}
    stmt = select(QuestionTranslation).where(
        QuestionTranslation.question_version_id.in_(version_ids),
        QuestionTranslation.language.in_(languages),
    )
    for t in uow.scalars(stmt):
        out.setdefault(t.question_version_id, {})[t.language] = t.body
    return out


# -- what a frozen exam says in a language --------------------------------------


def entries(sections: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A frozen exam's question entries by version id (fixed and pool)."""
    out: dict[str, dict[str, Any]] = {}
    for s in sections:
        for e in s.get("questions") or s.get("pool") or []:
            out[str(e["version_id"])] = e
    return out


def text_in(entry: dict[str, Any] | None, language: str | None) -> dict[str, Any] | None:
    """The frozen words of a question in ``language``, or None (as authored)."""
    if entry is None or language is None:
        return None
    found = (entry.get("translations") or {}).get(language)
    return found if isinstance(found, dict) else None


def missing(sections: list[dict[str, Any]], languages: list[str]) -> dict[str, list[str]]:
    """Of a frozen exam: question id -> the enabled languages it lacks."""
    out: dict[str, list[str]] = {}
    for e in entries(sections).values():
        authored = str(e.get("language") or i18n.DEFAULT)
        have = e.get("translations") or {}
        lacking = [lang for lang in languages if lang != authored and lang not in have]
        if lacking:
            out.setdefault(str(e["question_id"]), []).extend(lacking)
    return out
