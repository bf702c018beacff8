"""Question import and export formats: JSON, CSV and QTI 3.0 (see
docs/content-formats.md). A parser returns every question it could read and
every problem it found; the importer refuses the whole file on any problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from invigil.content.schemas import QuestionIn

MAX_QUESTIONS = 2000
MAX_BYTES = 5 * 1024 * 1024


@dataclass
class Parsed:
    questions: list[QuestionIn] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (where, what)
    # JSON only: position in ``questions`` -> language -> translated words.
    translations: dict[int, dict[str, Any]] = field(default_factory=dict)


def number(x: float) -> str:
    """A float as short text that reads back as the same float."""
    return str(int(x)) if x.is_integer() and abs(x) < 2**53 else repr(x)
