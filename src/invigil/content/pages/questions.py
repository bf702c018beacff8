"""One question: read it, its versions, edit it (a new version), archive it,
attach images to it (each a new version); and the form for a new question
of a chosen type."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from invigil.audit import names
from invigil.content import banks, images, questions, rich
from invigil.content.bodies import TYPES
from invigil.content.images_api import image_response, read_upload
from invigil.content.models import Question, QuestionBank, QuestionVersion
from invigil.content.pages import translations as translated
from invigil.content.pages.common import TYPE_HINTS, problems, redirect, render, say
from invigil.content.pages.forms import LABELS, FormProblem, QuestionForm, from_version, to_input
from invigil.content.pages.translations import TranslationForm
from invigil.content.schemas import QuestionCreateIn, QuestionIn, QuestionPatchIn
from invigil.errors import Conflict, Invalid
from invigil.i18n import N_
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
QuestionFields = Annotated[QuestionForm, Form()]
# The summary's links: a field's element id where it is not "f-<field>".
FORM = N_("Form")  # a problem that belongs to no one field
FIELD_IDS = {"choices": "f-choice-0", "max_words": "f-max-words", "case_sensitive": "f-accepted"}


def _check(
    request: Request, form: QuestionForm, kind: str, current: QuestionVersion | None = None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The form as a question input, or the problems to show next to the fields.
    Formatted text that came without Markdown (an import) has no field of its
    own: it is kept while the question text stays as it was."""
    try:
        data = to_input(form, kind)
        stored = current.body if current is not None else {}
        same_words = " ".join(form.prompt.split()) == " ".join(str(stored.get("prompt")).split())
        if (
            stored.get("prompt_html")
            and not stored.get("prompt_markdown")
            and "prompt_markdown" not in data["body"]
            and same_words
        ):
            data["body"]["prompt_html"] = stored["prompt_html"]
    except FormProblem as exc:
        return {}, [
            {
                "field": exc.field,
                "message": f"{say(request, LABELS.get(exc.field, FORM))}: " + exc.message,
            }
        ]
    try:
        QuestionIn.model_validate(data)
    except ValidationError as exc:
        return data, problems(exc, LABELS, request)
    return data, []


def _preview(form: QuestionForm) -> tuple[str | None, list[dict[str, str]]]:
    """The form's formatted text as candidates would see it, or its problem."""
    try:
        return rich.from_markdown(form.prompt_markdown), []
    except rich.FormulaError as exc:
        return None, [{"field": "prompt_markdown", "message": str(exc)}]


def _editor(
    request: Request,
    ctx: PageContext,
    name: str,
    *,
    form: QuestionForm,
    kind: str,
    status: int = 200,
    found: list[dict[str, str]] | None = None,
    **values: Any,
) -> HTMLResponse:
    found = [p | {"field": p["field"] if p["field"] in LABELS else ""} for p in found or []]
    by_field: dict[str, list[str]] = {}
    for p in found:
        by_field.setdefault(p["field"], []).append(p["message"])
    return render(
        request,
        name,
        ctx,
        status=status,
        form=form,
        kind=kind,
        rows=form.rows(),
        problems=found,
        field_errors=by_field,
        field_ids=FIELD_IDS,
        form_anchor="f-prompt",
        type_hint=TYPE_HINTS.get(kind, ""),
        **values,
    )


# -- new question -----------------------------------------------------------------


def _bank_of(ctx: PageContext, bank_id: str) -> QuestionBank | None:
    if not bank_id:
        return None
    return banks.require_bank(ctx.uow, _parse_id(bank_id, "question bank"))


@router.get("/authoring/questions/new", response_class=HTMLResponse)
def question_new(
    request: Request,
    bank_id: Annotated[str, Query(max_length=64)] = "",
    type: Annotated[str, Query(max_length=32)] = "",
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> HTMLResponse:
    bank = _bank_of(ctx, bank_id)
    if bank is None or type not in TYPES:
        return render(
            request,
            "question_type.html",
            ctx,
            bank=bank,
            banks=banks.list_banks(ctx.uow),
            types=TYPES,
            type_hints=TYPE_HINTS,
            chosen=type,
        )
    return _editor(
        request, ctx, "question_new.html", form=from_version(None, type), kind=type, bank=bank
    )


@router.post("/authoring/questions/new", response_class=HTMLResponse)
def question_create(
    request: Request, form: QuestionFields, ctx: PageContext = requires_page(P.QUESTION_MANAGE)
) -> Response:
    check_csrf(ctx, form.csrf)
    bank = _bank_of(ctx, form.bank_id)
    if bank is None:
        raise Invalid("choose the question bank for the new question")
    kind = form.type
    if kind not in TYPES:
        raise Invalid(f"choose a type of question: one of {', '.join(TYPES)}")
    if form.preview:
        shown, found = _preview(form)
        return _editor(request, ctx, "question_new.html", form=form, kind=kind, bank=bank,
                       status=422 if found else 200, found=found, preview=shown)  # fmt: skip
    data, found = _check(request, form, kind)
    if not found:
        try:
            body = QuestionCreateIn.model_validate(data | {"bank_id": bank.id})
            made_in = QuestionIn.model_validate(body.model_dump(exclude={"bank_id"}))
            with _change(ctx.uow):
                made = questions.create_question(ctx.uow, body.bank_id, made_in)
        except (Invalid, Conflict) as exc:
            found = [{"field": "", "message": exc.detail}]
            status = exc.status
        else:
            return redirect(request, f"/authoring/questions/{made.question.id}", "question-created")
    else:
        status = 422
    return _editor(
        request,
        ctx,
        "question_new.html",
        form=form,
        kind=kind,
        bank=bank,
        status=status,
        found=found,
    )


# -- one question -----------------------------------------------------------------


def _question_page(
    request: Request,
    ctx: PageContext,
    q: Question,
    *,
    form: QuestionForm | None = None,
    status: int = 200,
    found: list[dict[str, str]] | None = None,
    translation_form: TranslationForm | None = None,
    translation_errors: list[dict[str, str]] | None = None,
    **values: Any,
) -> HTMLResponse:
    cur = questions.current(ctx.uow, q)
    values |= translated.context(ctx, q, cur, translation_form, translation_errors)
    history = questions.history(ctx.uow, q)
    values["reviewers"] = _reviewers(ctx, history)
    attached = images.list_for(ctx.uow, q.id)
    added_in: dict[int, list[images.QuestionImage]] = {}
    for img in attached:
        added_in.setdefault(img.question_version, []).append(img)
    return _editor(
        request,
        ctx,
        "question.html",
        form=form or from_version(cur, q.type),
        kind=q.type,
        status=status,
        found=found,
        question=q,
        current=cur,
        history=list(reversed(history)),
        bank=banks.require_bank(ctx.uow, q.bank_id),
        editable=q.archived_at is None and ctx.can(P.QUESTION_MANAGE),
        images=attached,
        image_urls=images.addresses(
            attached, lambda i: f"/authoring/questions/{q.id}/images/{i.id}"
        ),
        images_added_in=added_in,
        max_image_mib=images.MAX_SIZE // images.MiB,
        **values,
    )


question_page = _question_page


def _reviewers(ctx: PageContext, history: list[Any]) -> dict[int, str]:
    """Who reviewed and saved each version drafted by AI, by version number."""
    drafted = [v for v in history if v.drafted_from is not None]
    wanted = [tuple(v.created_by.split(":", 1)) for v in drafted if ":" in v.created_by]
    found = names.resolve(ctx.uow, wanted)
    out = {}
    for v in drafted:
        kind, _, ident = v.created_by.partition(":")
        out[v.version] = found.get((kind, ident), names.short(ident))
    return out


def _question(ctx: PageContext, question_id: str) -> Question:
    return questions.require_question(ctx.uow, _parse_id(question_id, "question"))


@router.get("/authoring/questions/{question_id}", response_class=HTMLResponse)
def question_detail(
    request: Request, question_id: str, ctx: PageContext = requires_page(P.QUESTION_VIEW)
) -> HTMLResponse:
    return _question_page(request, ctx, _question(ctx, question_id))


@router.post("/authoring/questions/{question_id}", response_class=HTMLResponse)
def question_update(
    request: Request,
    question_id: str,
    form: QuestionFields,
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, form.csrf)
    q = _question(ctx, question_id)
    if form.preview:
        shown, found = _preview(form)
        return _question_page(request, ctx, q, form=form, status=422 if found else 200,
                              found=found, preview=shown)  # fmt: skip
    data, found = _check(request, form, q.type, questions.current(ctx.uow, q))
    status = 422
    if not found:
        try:
            patch = QuestionPatchIn.model_validate(data)
            with _change(ctx.uow):
                questions.update_question(ctx.uow, q.id, patch)
        except (Invalid, Conflict) as exc:
            found, status = [{"field": "", "message": exc.detail}], exc.status
        else:
            return redirect(request, f"/authoring/questions/{q.id}", "question-saved")
    return _question_page(request, ctx, q, form=form, status=status, found=found)


@router.post("/authoring/questions/{question_id}/archive", response_class=HTMLResponse)
def question_archive(
    request: Request,
    question_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    q = _question(ctx, question_id)
    with _change(ctx.uow):
        questions.archive_question(ctx.uow, q.id)
    return redirect(request, f"/authoring/questions/{q.id}", "question-archived")


# -- images -----------------------------------------------------------------------


@router.post("/authoring/questions/{question_id}/images", response_class=HTMLResponse)
def question_image_attach(
    request: Request,
    question_id: str,
    csrf: FormStr = "",
    file: Annotated[UploadFile | None, File()] = None,
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    q = _question(ctx, question_id)
    try:
        if file is None or not file.filename:
            raise Invalid("nothing was attached: choose an image file")
        filename, data = read_upload(file)
        with _change(ctx.uow):
            images.attach(ctx.uow, q.id, filename, data)
    except (Invalid, Conflict) as exc:
        return _question_page(request, ctx, q, status=exc.status, image_error=exc.detail)
    # Attaching wrote a new version: the notice says exactly that.
    return redirect(request, f"/authoring/questions/{q.id}", "question-saved")


@router.get("/authoring/questions/{question_id}/images/{image_id}")
def question_image(
    request: Request,
    question_id: str,
    image_id: str,
    ctx: PageContext = requires_page(P.QUESTION_VIEW),
) -> Response:
    qid = _parse_id(question_id, "question")
    iid = _parse_id(image_id, "image")
    return image_response(request, images.get(ctx.uow, qid, iid))
