"""Import and export of a bank's questions (JSON, CSV, QTI 3.0).

Import is all or nothing: the whole file is read and validated first, and a
single problem refuses it with a report naming each problem by line (CSV),
index (JSON) or item identifier (QTI). Nothing is half-imported.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from invigil import audit
from invigil.content import images, questions, rich, translations
from invigil.content.banks import require_bank
from invigil.content.formats import (
    MAX_BYTES,
    MAX_QUESTIONS,
    Message,
    Parsed,
    qti,
    qti_package,
    qti_read,
)
from invigil.content.formats import csv as csv_format
from invigil.content.formats import json as json_format
from invigil.content.models import QuestionVersion
from invigil.content.questions import Current, Search
from invigil.content.schemas import QuestionIn
from invigil.content.translations import TranslationIn
from invigil.db.uow import UnitOfWork
from invigil.errors import Invalid

Format = Literal["json", "csv", "qti"]
# Export only: the QTI items as an IMS content package (ZIP, one file per item).
ExportFormat = Literal["json", "csv", "qti", "qti-package"]
MEDIA_TYPES: dict[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "qti": "application/xml",
    "qti-package": "application/zip",
}
EXTENSIONS = {"json": "json", "csv": "csv", "qti": "xml", "qti-package": "zip"}
PARSERS: dict[str, Callable[..., Parsed]] = {"json": json_format.parse, "csv": csv_format.parse}
NO_IMAGES = (
    "its formatted text shows images, which this format cannot carry; move the question "
    "with a QTI content package (format qti-package) instead"
)
BATCH = 500  # questions written per flush, so a long import can report how far it is
# (phase, done, total): "checking" then "writing"; total 0 while it is not known yet
Progress = Callable[[str, int, int], None]


def parse(
    fmt: Format, content: bytes, *, max_bytes: int = MAX_BYTES, max_questions: int = MAX_QUESTIONS
) -> Parsed:
    """``max_bytes`` and ``max_questions``: the API's limits unless the caller
    (the operator's ``invigil bank import``) allows more."""
    if len(content) > max_bytes:
        raise Invalid(f"the file is too large (at most {max_bytes // (1024 * 1024)} MB)")
    if fmt == "qti":  # XML names its own encoding; the parser reads it (and refuses any DTD)
        if not content.strip():
            raise Invalid("the file is empty")
        return qti_read.parse(content, max_questions=max_questions)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("the file is not UTF-8 text; save it as UTF-8 and try again") from None
    if not text.strip():
        raise Invalid("the file is empty")
    return PARSERS[fmt](text, max_questions=max_questions)


@dataclass(frozen=True)
class Imported:
    made: list[Current]
    skipped: int  # exact duplicates left out (see :func:`canonical`)
    # QTI: items not imported because Invigil cannot carry them faithfully,
    # and what was left out of imported ones without changing them (where, what).
    refused: list[tuple[str, Message]] = field(default_factory=list)
    notes: list[tuple[str, Message]] = field(default_factory=list)


def canonical(item: QuestionIn) -> str:
    """A question's content as one canonical string: type, text, choices and
    answers, scoring, points, category, tags, difficulty and explanation,
    exactly as the JSON export writes them (keys sorted). Two questions are
    exact duplicates when these strings are equal."""
    return json.dumps(item.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))


def import_questions(
    uow: UnitOfWork,
    bank_id: uuid.UUID,
    fmt: Format,
    content: bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_questions: int = MAX_QUESTIONS,
    progress: Progress | None = None,
) -> Imported:
    """Import a whole file or nothing. A question that is an exact duplicate
    (:func:`canonical`) of a live question of the bank, or of one earlier in
    the file, is skipped and counted: importing the same file twice adds
    nothing the second time. The questions are written in batches of
    :data:`BATCH`, all in the caller's one transaction, ``progress`` told
    after each."""
    report = progress or (lambda phase, done, total: None)
    bank = require_bank(uow, bank_id)
    report("checking", 0, 0)
    parsed = parse(fmt, content, max_bytes=max_bytes, max_questions=max_questions)
    if fmt == "json":  # only a QTI package carries images; a reference alone would show nothing
        parsed.problems += [
            (f"index {n}", NO_IMAGES)
            for n, q in enumerate(parsed.questions)
            if rich.image_names(q.body.prompt_html or "")
        ]
    if parsed.problems:
        n = len(parsed.problems)
        raise Invalid(
            f"nothing was imported: the file has {n} problem{'s' if n > 1 else ''}; "
            "fix them and import the whole file again",
            problems=[{"where": w, "message": m} for w, m in parsed.problems],
        )
    if not parsed.questions and parsed.refused:
        n = len(parsed.refused)
        which = "this item" if n == 1 else f"any of the {n} items"
        raise Invalid(
            f"nothing was imported: Invigil cannot import {which} faithfully (each reason "
            "is listed)",
            problems=[{"where": w, "message": m} for w, m in parsed.refused],
        )
    if not parsed.questions:
        raise Invalid("the file holds no questions")
    rows, _ = questions.search(uow, Search(bank_id=bank.id))
    seen = {canonical(questions.as_input(r.version)) for r in rows}
    fresh: list[QuestionIn] = []
    words: list[dict[str, TranslationIn]] = []
    shown: list[list[tuple[str, bytes]]] = []
    total = len(parsed.questions)
    for n, item in enumerate(parsed.questions):
        key = canonical(item)
        if key not in seen:
            seen.add(key)
            fresh.append(item)
            words.append(parsed.translations.get(n, {}))
            shown.append(parsed.images.get(n, []))
        if (n + 1) % BATCH == 0:
            report("checking", n + 1, total)
    report("checking", total, total)
    skipped = total - len(fresh)
    if not fresh:
        return Imported([], skipped, parsed.refused, parsed.notes)
    made: list[Current] = []
    start = datetime.now(UTC)
    report("writing", 0, len(fresh))
    for at in range(0, len(fresh), BATCH):
        when = start + timedelta(microseconds=at)
        made += questions.add_questions(uow, bank.id, fresh[at : at + BATCH], start=when)
        report("writing", len(made), len(fresh))
    added = [
        translations.add(uow, m.question, m.version, lang, t)
        for m, found in zip(made, words, strict=True)
        for lang, t in found.items()
    ]
    uow.flush()
    pictures = [
        images.add_imported(uow, m.question.id, m.version.version, name, data)
        for m, found_images in zip(made, shown, strict=True)
        for name, data in found_images
    ]
    uow.flush()
    audit.record(
        uow,
        "question.imported",
        bank,
        {
            "format": fmt,
            "count": len(made),
            "question_ids": [m.question.id for m in made],
            "version_ids": [m.version.id for m in made],
            "skipped_duplicates": skipped,
            "refused": [{"where": w, "reason": str(m)} for w, m in parsed.refused],
            "images": [
                {"question_id": p.question_id, "image_id": p.id, "sha256": p.sha256.hex()}
                for p in pictures
            ],
            "translations": [
                {
                    "question_id": t.question_id,
                    "language": t.language,
                    "translation_id": t.id,
                    "text_sha256": translations.text_sha256(t.body),
                }
                for t in added
            ],
        },
    )
    return Imported(made, skipped, parsed.refused, parsed.notes)


def _media(uow: UnitOfWork, versions: list[QuestionVersion]) -> dict[str, tuple[str, bytes]]:
    """The images the versions' formatted text shows: SHA-256 -> (path in a
    package, bytes)."""
    out: dict[str, tuple[str, bytes]] = {}
    for v in versions:
        wanted = set(rich.image_names(v.body.get("prompt_html") or ""))
        for img in images.for_version(uow, v):
            name = img.sha256.hex()
            if name in wanted and name not in out:
                data = images.get(uow, v.question_id, img.id).data
                out[name] = (f"media/{name}{images.EXTENSIONS[img.content_type]}", data)
    return out


@dataclass(frozen=True)
class Export:
    text: str | bytes  # bytes for a package
    media_type: str
    filename: str
    skipped: list[str]


def export_questions(uow: UnitOfWork, bank_id: uuid.UUID, fmt: ExportFormat) -> Export:
    """The current version of every live question of the bank, oldest first."""
    bank = require_bank(uow, bank_id)
    rows, _ = questions.search(uow, Search(bank_id=bank.id))
    items = [questions.as_input(r.version) for r in rows]
    skipped: list[str] = []
    text: str | bytes
    if fmt == "json":
        current = translations.current_words(uow, [r.version.id for r in rows])
        text = json_format.dump(items, [current.get(r.version.id, {}) for r in rows])
    elif fmt == "csv":
        text = csv_format.dump(items)
    elif fmt == "qti":
        text, skipped = qti.dump(
            [(f"Q-{r.question.id}", i) for r, i in zip(rows, items, strict=True)]
        )
    else:
        media = _media(uow, [r.version for r in rows])
        found, skipped = qti.item_files(
            [(f"Q-{r.question.id}", i) for r, i in zip(rows, items, strict=True)],
            {name: f"../{path}" for name, (path, _) in media.items()},
        )
        text = qti_package.write(found, dict(media.values()))
    name = f"questions-{bank.id}.{EXTENSIONS[fmt]}"
    return Export(text, MEDIA_TYPES[fmt], name, skipped)
