"""JSON: a list of questions, each exactly the API's question body
(``category``, ``tags``, ``difficulty``, ``points``, ``body``, ``language``),
plus, optionally, ``translations``: language -> the translated words of
that question (see :mod:`invigil.content.translations`). An object
``{"questions": [...]}`` is accepted too. Problems name the 0-based index."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from invigil import i18n
from invigil.content import translations
from invigil.content.formats import MAX_QUESTIONS, Parsed
from invigil.content.schemas import QuestionIn, describe
from invigil.content.translations import TranslationIn


def parse(text: str, *, max_questions: int = MAX_QUESTIONS) -> Parsed:
    out = Parsed()
    try:
        data: Any = json.loads(text)
    except ValueError as exc:
        out.problems.append(("file", f"this is not valid JSON ({exc})"))
        return out
    if isinstance(data, dict) and set(data) == {"questions"}:
        data = data["questions"]
    if not isinstance(data, list):
        out.problems.append(("file", 'give a list of questions: [{"category": ..., "body": ...}]'))
        return out
    if len(data) > max_questions:
        out.problems.append(("file", f"at most {max_questions} questions per file"))
        return out
    for i, item in enumerate(data):
        words = item.pop("translations", None) if isinstance(item, dict) else None
        try:
            question = QuestionIn.model_validate(item)
        except ValidationError as exc:
            out.problems += [(f"index {i}", msg) for msg in describe(exc)]
            continue
        found = _translations(f"index {i}", question, words, out.problems)
        if found:
            out.translations[len(out.questions)] = found
        out.questions.append(question)
    return out


def _translations(
    where: str, question: QuestionIn, words: Any, problems: list[tuple[str, str]]
) -> dict[str, TranslationIn]:
    if words is None:
        return {}
    if not isinstance(words, dict):
        problems.append((where, 'translations: give an object {"de": {"prompt": ...}, ...}'))
        return {}
    out: dict[str, TranslationIn] = {}
    for raw, text in list(words.items())[:40]:
        lang = i18n.normalise(str(raw))
        at = f"translations.{str(raw)[:16]}"
        if lang is None:
            problems.append((where, f"{at}: not a language Invigil speaks; use one of the codes"))
            continue
        if lang == question.language:
            problems.append((where, f"{at}: the question is written in this language already"))
            continue
        try:
            t = TranslationIn.model_validate(text)
        except ValidationError as exc:
            problems += [(where, msg) for msg in describe(exc, f"{at}.")]
            continue
        found = translations.problems(question.body, t)
        problems += [(where, f"{at}.{field}: {msg}") for field, msg in found]
        if not found:
            out[lang] = t
    return out


def dump(questions: list[QuestionIn], words: list[dict[str, Any]] | None = None) -> str:
    """``words``: each question's translations (language -> words), in order."""
    items = []
    for n, q in enumerate(questions):
        item = q.model_dump(mode="json")
        if words and words[n]:
            item["translations"] = dict(sorted(words[n].items()))
        items.append(item)
    return json.dumps(items, indent=2, ensure_ascii=False)
