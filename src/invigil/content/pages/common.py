"""Shared by the authoring pages: rendering, fixed notices, labels."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from invigil.content.schemas import describe
from invigil.web import flash
from invigil.web.pages import render as render_page
from invigil.web.pages import templates
from invigil.web.session import PageContext

# Notices are fixed texts chosen by key: a crafted URL cannot put words on the page.
NOTICES = {
    "bank-created": "Question bank created. Add questions one by one or import a file.",
    "question-created": "Question created (version 1).",
    "question-saved": "Saved as a new version. Earlier versions stay as they were.",
    "question-archived": "Question archived: it stays in published exams but is no longer "
    "drawn into new papers or editable.",
    "translation-saved": "Translation saved. Exams published from now on carry it; "
    "exams already published keep the words they were published with.",
    "exam-created": "Exam created as a draft. Add sections, then preview and publish it.",
    "exam-saved": "Saved. Publish the exam again for candidates to get the change.",
    "section-added": "Section added.",
    "section-removed": "Section removed.",
    "section-moved": "Section moved.",
    "exam-published": "Exam published. Candidates now get this version.",
    "exam-retired": "Exam retired: no new attempts can start.",
}

TYPE_LABELS = {
    "single_choice": "Single choice",
    "multiple_choice": "Multiple choice",
    "true_false": "True or false",
    "numeric": "Number",
    "short_text": "Short text answer",
    "essay": "Essay (graded with a rubric)",
    "ordering": "Put in order",
    "matching": "Matching pairs",
}
TYPE_HINTS = {
    "single_choice": "Candidates pick exactly one of several choices.",
    "multiple_choice": "Candidates pick every right choice; there can be several.",
    "true_false": "A statement that is either true or false.",
    "numeric": "Candidates type a number; you can allow a margin of error.",
    "short_text": "Candidates type a word or phrase; you list the accepted answers.",
    "essay": "A written answer that a grader marks with your rubric.",
    "ordering": "Candidates put items in the right order.",
    "matching": "Candidates match each item on the left with one on the right.",
}
STATUS_LABELS = {"draft": "draft", "published": "published", "retired": "retired"}

templates.env.globals["type_labels"] = TYPE_LABELS


def render(
    request: Request,
    name: str,
    ctx: PageContext,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    values.setdefault("error", None)
    return render_page(request, f"content/{name}", {"page": ctx, **values}, status=status)


def redirect(request: Request, path: str, notice: str) -> RedirectResponse:
    """303 to ``path``; the page there shows the fixed notice once (web.flash)."""
    return flash.redirect(request, path, NOTICES[notice])


def problems(exc: ValidationError, labels: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "message"}`` for a page: the field is the
    first part of the location (a form field's name), the message the
    backend's sentence without its location prefix."""
    out = []
    for err, text in zip(exc.errors(), describe(exc), strict=True):
        loc = [str(p) for p in err["loc"] if not _variant(p)]
        if loc and loc[0] == "body":
            loc = loc[1:]
        where = ".".join(str(p) for p in err["loc"] if not _variant(p))
        message = text[len(where) + 2 :] if where and text.startswith(where + ": ") else text
        field = loc[0] if loc else ""
        label = (labels or {}).get(field, "")
        rest = [p for p in loc[1:] if p]
        if rest and rest[0].isdigit():
            label = f"{label} (line {int(rest[0]) + 1})" if label else label
        out.append({"field": field, "message": f"{label}: {message}" if label else message})
    return out


def _variant(part: object) -> bool:
    return isinstance(part, str) and (part in TYPE_LABELS or part.startswith("function-"))


def split_list(text: str) -> list[str]:
    """Comma- or line-separated words (tags, categories)."""
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
