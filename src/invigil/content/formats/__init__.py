"""Question import and export formats: JSON, CSV and QTI 3.0 (see
docs/content-formats.md). A parser returns every question it could read and
every problem it found; the importer refuses the whole file on any problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from gettext import NullTranslations
from typing import Any

from invigil.content.schemas import QuestionIn

MAX_QUESTIONS = 2000
MAX_BYTES = 5 * 1024 * 1024


@dataclass
class Parsed:
    questions: list[QuestionIn] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, what)
    # QTI only: items not imported because Invigil cannot carry them
    # faithfully (where, why); the file's other items import.
    refused: list[tuple[str, Message]] = field(default_factory=list)
    # What an import leaves out without changing a question (where, what).
    notes: list[tuple[str, Message]] = field(default_factory=list)
    # QTI packages: position in ``questions`` -> the images its text shows
    # (file name, bytes), named in the text by their SHA-256 (content.rich).
    images: dict[int, list[tuple[str, bytes]]] = field(default_factory=dict)
    # JSON only: position in ``questions`` -> language -> translated words.
    translations: dict[int, dict[str, Any]] = field(default_factory=dict)


class Message(str):
    """A sentence for the person importing: English as a ``str`` (the API
    answers it), and its catalog id and values, so a page can show it in the
    reader's language (:meth:`render`)."""

    msgid: str
    params: dict[str, object]

    @classmethod
    def of(cls, msgid: str, **params: object) -> Message:
        made = cls(msgid % params if params else msgid)
        made.msgid, made.params = msgid, params
        return made

    def render(self, t: NullTranslations) -> str:
        text = t.gettext(self.msgid)
        return text % self.params if self.params else text


def number(x: float) -> str:
    """A float as short text that reads back as the same float."""
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)
