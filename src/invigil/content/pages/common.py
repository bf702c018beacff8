"""Shared by the authoring pages: rendering, fixed notices, labels."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from pydantic import ValidationError

from invigil import i18n
from invigil.content import rich
from invigil.content.schemas import describe
from invigil.i18n import N_
from invigil.web import flash
from invigil.web.pages import render as render_page
from invigil.web.pages import templates
from invigil.web.session import PageContext

# Notices are fixed texts chosen by key: a crafted URL cannot put words on the page.
NOTICES = {
    "bank-created": N_("Question bank created. Add questions one by one or import a file."),
    "question-created": N_("Question created (version 1)."),
    "question-saved": N_("Saved as a new version. Earlier versions stay as they were."),
    "question-archived": N_(
        "Question archived: it stays in published exams but is no longer "
        "drawn into new papers or editable."
    ),
    "translation-saved": N_(
        "Translation saved. Exams published from now on carry it; "
        "exams already published keep the words they were published with."
    ),
    "exam-created": N_("Exam created as a draft. Add sections, then preview and publish it."),
    "exam-saved": N_("Saved. Publish the exam again for candidates to get the change."),
    "section-added": N_("Section added."),
    "section-removed": N_("Section removed."),
    "section-moved": N_("Section moved."),
    "section-scaled": N_("What the section is worth was saved."),
    "exam-published": N_("Exam published. Candidates now get this version."),
    "exam-retired": N_("Exam retired: no new attempts can start."),
}

TYPE_LABELS = {
    "single_choice": N_("Single choice"),
    "multiple_choice": N_("Multiple choice"),
    "true_false": N_("True or false"),
    "numeric": N_("Number"),
    "short_text": N_("Short text answer"),
    "essay": N_("Essay (graded with a rubric)"),
    "ordering": N_("Put in order"),
    "matching": N_("Matching pairs"),
}
TYPE_HINTS = {
    "single_choice": N_("Candidates pick exactly one of several choices."),
    "multiple_choice": N_("Candidates pick every right choice; there can be several."),
    "true_false": N_("A statement that is either true or false."),
    "numeric": N_("Candidates type a number; you can allow a margin of error."),
    "short_text": N_("Candidates type a word or phrase; you list the accepted answers."),
    "essay": N_("A written answer that a grader marks with your rubric."),
    "ordering": N_("Candidates put items in the right order."),
    "matching": N_("Candidates match each item on the left with one on the right."),
}
STATUS_LABELS = {"draft": N_("draft"), "published": N_("published"), "retired": N_("retired")}
DIFFICULTY_LABELS = {"easy": N_("Easy"), "medium": N_("Medium"), "hard": N_("Hard")}

# Words marked N_() here are translated where the page shows them: ``_(type_labels[t])``.
templates.env.globals["type_labels"] = TYPE_LABELS


def formatted(html: str | None, addresses: dict[str, str] | None = None) -> Markup:
    """A question's formatted text for a page: cleaned again as it is shown
    (stored text was cleaned when saved; this keeps a page safe whatever
    the row holds), its images at the addresses given (SHA-256 -> URL; an
    image without one shows its alternative text)."""
    shown = rich.with_image_addresses(rich.clean(html or ""), addresses or {})
    return Markup(shown)  # noqa: S704 -- cleaned to the safe subset, our own image URLs


templates.env.filters["rich"] = formatted
templates.env.globals["exam_status_labels"] = STATUS_LABELS
templates.env.globals["difficulty_labels"] = DIFFICULTY_LABELS


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
    return flash.redirect(request, path, say(request, NOTICES[notice]))


def say(request: Request, message: str) -> str:
    """``message`` (marked N_) in the language of the page that asked."""
    return i18n.gettext(i18n.locale_of({"request": request}), message)


def problems(
    exc: ValidationError, labels: dict[str, str] | None = None, request: Request | None = None
) -> list[dict[str, str]]:
    """Pydantic errors as ``{"field", "message"}`` for a page: the field is the
    first part of the location (a form field's name), the message the
    backend's sentence without its location prefix, both in the language of
    the page that asked (``labels`` are marked N_)."""
    t = i18n.translations(i18n.locale_of({"request": request}))
    out = []
    for err, text in zip(exc.errors(), describe(exc, t=t), strict=True):
        loc = [str(p) for p in err["loc"] if not _variant(p)]
        if loc and loc[0] == "body":
            loc = loc[1:]
        where = ".".join(str(p) for p in err["loc"] if not _variant(p))
        message = text[len(where) + 2 :] if where and text.startswith(where + ": ") else text
        field = loc[0] if loc else ""
        label = (labels or {}).get(field, "")
        label = t.gettext(label) if label else label
        rest = [p for p in loc[1:] if p]
        if rest and rest[0].isdigit() and label:
            label = t.gettext("%(label)s (line %(n)s)") % {"label": label, "n": int(rest[0]) + 1}
        out.append({"field": field, "message": f"{label}: {message}" if label else message})
    return out


def _variant(part: object) -> bool:
    return isinstance(part, str) and (part in TYPE_LABELS or part.startswith("function-"))


def split_list(text: str) -> list[str]:
    """Comma- or line-separated words (tags, categories)."""
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]
