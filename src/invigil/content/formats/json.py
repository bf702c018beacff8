"""JSON: a list of questions, each exactly the API's question body
(``category``, ``tags``, ``difficulty``, ``points``, ``body``). An object
``{"questions": [...]}`` is accepted too. Problems name the 0-based index."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from invigil.content.formats import MAX_QUESTIONS, Parsed
from invigil.content.schemas import QuestionIn, describe


def parse(text: str) -> Parsed:
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
    if len(data) > MAX_QUESTIONS:
        out.problems.append(("file", f"at most {MAX_QUESTIONS} questions per file"))
        return out
    for i, item in enumerate(data):
        try:
            out.questions.append(QuestionIn.model_validate(item))
        except ValidationError as exc:
            out.problems += [(f"index {i}", msg) for msg in describe(exc)]
    return out


def dump(questions: list[QuestionIn]) -> str:
    return json.dumps([q.model_dump(mode="json") for q in questions], indent=2, ensure_ascii=False)
