"""A question's translations on its page: one form per enabled language.

Each form translates the current version, field by field beside the words
it translates; a translation made for an earlier version is shown as
outdated and fills the form as a starting point. Saving goes through the
same service as the API (:mod:`invigil.content.translations`), so the
same structure check and the same audit entry apply.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict

from invigil import i18n
from invigil.content import questions, translations
from invigil.content.freeze import enabled_languages
from invigil.content.models import Question, QuestionVersion
from invigil.content.pages.common import redirect
from invigil.errors import Conflict, Invalid
from invigil.identity.pages.common import _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)


class TranslationForm(BaseModel):
    """The form as typed: lists keep the version's order."""

    model_config = ConfigDict(extra="ignore")

    csrf: str = ""
    language: str = ""
    prompt: str = ""
    explanation: str = ""
    choice: list[str] = []
    item: list[str] = []
    left: list[str] = []
    right: list[str] = []
    criterion: list[str] = []
    accepted: str = ""


def _as_input(form: TranslationForm, kind: str) -> dict[str, Any]:
    """The form in the API's shape; only the lists this type has."""
    out: dict[str, Any] = {"prompt": form.prompt, "explanation": form.explanation}
    if kind in ("single_choice", "multiple_choice"):
        out["choices"] = form.choice
    elif kind == "ordering":
        out["items"] = form.item
    elif kind == "matching":
        out["pairs"] = [
            {"left": a, "right": b} for a, b in zip(form.left, form.right, strict=False)
        ]
    elif kind == "essay":
        out["criteria"] = form.criterion
    elif kind == "short_text":
        lines = [line.strip() for line in form.accepted.splitlines() if line.strip()]
        if lines:
            out["accepted"] = lines
    return out


def _filled(text: dict[str, Any]) -> dict[str, Any]:
    """A stored translation as the form's values."""
    pairs = text.get("pairs") or []
    return {
        "prompt": text.get("prompt", ""),
        "explanation": text.get("explanation", ""),
        "choice": list(text.get("choices") or []),
        "item": list(text.get("items") or []),
        "left": [p["left"] for p in pairs],
        "right": [p["right"] for p in pairs],
        "criterion": list(text.get("criteria") or []),
        "accepted": "\n".join(text.get("accepted") or []),
    }


def context(
    ctx: PageContext,
    q: Question,
    cur: QuestionVersion,
    typed: TranslationForm | None = None,
    found: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """What the question page needs to show its translations."""
    rows = translations.of_question(ctx.uow, q)
    # The tenant's languages, and any other a translation exists for (kept
    # when a language is switched off; frozen again once it is back on).
    others = (r.translation.language for r in rows)
    enabled = list(dict.fromkeys([*enabled_languages(ctx.uow), *others]))
    langs = []
    for status in translations.statuses(rows, enabled, cur.language):
        values = _filled(status.row.translation.body) if status.row else _filled({})
        errors: list[dict[str, str]] = []
        if typed is not None and typed.language == status.language:
            values = typed.model_dump()
            errors = found or []
        langs.append(
            {
                "code": status.language,
                "name": i18n.display_name(status.language),
                "dir": i18n.direction(status.language),
                "state": status.state,
                "row": status.row,
                "values": values,
                "errors": errors,
                "fields": {e["field"] for e in errors},
            }
        )
    shown = {lang["code"] for lang in langs}
    loose = [] if typed is None or typed.language in shown else list(found or [])
    return {
        "translations": langs,
        "translation_loose_errors": loose,
        "authored_name": i18n.display_name(cur.language),
        "only_one_language": not langs,
    }


@router.post("/authoring/questions/{question_id}/translations", response_class=HTMLResponse)
def translation_save(
    request: Request,
    question_id: str,
    form: Annotated[TranslationForm, Form()],
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    from invigil.content.pages.questions import question_page

    check_csrf(ctx, form.csrf)
    q = questions.require_question(ctx.uow, _parse_id(question_id, "question"))
    try:
        data = translations.parse(_as_input(form, q.type))
        with _change(ctx.uow):
            translations.put(ctx.uow, q.id, form.language, data)
    except (Invalid, Conflict) as exc:
        listed = exc.extensions.get("problems") or []
        found = [{"field": str(p["where"]), "message": str(p["message"])} for p in listed]
        if not found:
            found = [{"field": str(exc.extensions.get("field") or ""), "message": exc.detail}]
        return question_page(
            request, ctx, q, status=exc.status, translation_form=form, translation_errors=found
        )
    return redirect(request, f"/authoring/questions/{q.id}#tr-{form.language}", "translation-saved")
