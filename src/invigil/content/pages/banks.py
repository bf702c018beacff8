"""Question banks: the list, one bank's questions (search, pages), import, export."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from invigil import i18n
from invigil.content import banks, drafting, questions, transfer
from invigil.content.bodies import TYPES
from invigil.content.formats import MAX_BYTES, Message
from invigil.content.models import Question, QuestionBank, QuestionVersion
from invigil.content.pages.common import TYPE_HINTS, TYPE_LABELS, redirect, render
from invigil.content.questions import PROMPT
from invigil.errors import Conflict, Invalid, NotFound
from invigil.i18n import N_
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.security.permissions import Permission as P
from invigil.web import flash, table
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
FORMATS = {"csv": "csv", "json": "json", "xml": "qti", "qti": "qti", "zip": "qti"}


BANKS = table.Table(
    name="banks",
    path="/authoring/banks",
    caption=N_("Question banks"),
    columns=(
        table.Column("name", N_("Bank"), func.lower(QuestionBank.name), export=lambda b: b[0].name),
        table.Column("questions", N_("Questions"), export=lambda b: b[1], numeric=True),
        table.Column(
            "changed",
            N_("Last changed"),
            QuestionBank.updated_at,
            datetime.fromisoformat,
            export=lambda b: b[0].updated_at.isoformat(),
        ),
    ),
    id=QuestionBank.id,
    default_sort="name",
    search=(QuestionBank.name, QuestionBank.description),
    search_label=N_("Bank name or description"),
    empty=N_("There are no question banks yet."),
    empty_filtered=N_("No bank matches this search."),
)


def _banks_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> Response:
    view = table.read(BANKS, request.query_params)
    if view.csv:
        found = table.all_rows(ctx.uow, view, select(QuestionBank))
        counts = banks.question_counts(ctx.uow, [b.id for b in found])
        return table.csv_response(view, [(b, counts.get(b.id, 0)) for b in found])
    shown = table.fetch(ctx.uow, view, select(QuestionBank))
    counts = banks.question_counts(ctx.uow, [b.id for b in shown.rows])
    values.setdefault("form", {"name": "", "description": ""})
    rows = [(b, counts.get(b.id, 0)) for b in shown.rows]
    return render(request, "banks.html", ctx, status=status, t=shown.with_rows(rows), **values)


@router.get("/authoring/banks", response_class=HTMLResponse)
def bank_list(request: Request, ctx: PageContext = requires_page(P.QUESTION_VIEW)) -> Response:
    return _banks_page(request, ctx)


@router.post("/authoring/banks", response_class=HTMLResponse)
def bank_create(
    request: Request,
    csrf: FormStr = "",
    name: FormStr = "",
    description: FormStr = "",
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    form = {"name": name[:200], "description": description[:2000]}
    try:
        if len(name) > 200 or len(description) > 2000:
            raise Invalid("a name has at most 200 characters, a description at most 2000")
        with _change(ctx.uow):
            bank = banks.create_bank(ctx.uow, name=name, description=description)
    except (Invalid, Conflict) as exc:
        return _banks_page(
            request, ctx, status=exc.status, error=exc.detail, form=form, form_anchor="bank-name"
        )
    return redirect(request, f"/authoring/banks/{bank.id}", "bank-created")


def questions_table(bank_id: uuid.UUID) -> table.Table:
    """A bank's current questions: search the text, filter, sort."""
    return table.Table(
        name="questions",
        path=f"/authoring/banks/{bank_id}",
        caption=N_("Questions"),
        columns=(
            table.Column("prompt", N_("Question"), func.lower(PROMPT)),
            table.Column("type", N_("Type"), Question.type),
            table.Column("category", N_("Category"), func.lower(QuestionVersion.category)),
            table.Column("tags", N_("Tags")),
            table.Column("difficulty", N_("Difficulty"), QuestionVersion.difficulty),
            table.Column("points", N_("Points"), QuestionVersion.points, Decimal, numeric=True),
            table.Column("version", N_("Version"), Question.current_version, int, numeric=True),
            table.Column("added", N_("Added"), Question.created_at, datetime.fromisoformat),
        ),
        id=Question.id,
        default_sort="added",
        search=(PROMPT, QuestionVersion.body["explanation"].astext),
        search_label=N_("Text"),
        filters=(
            table.Filter(
                "category",
                N_("Category"),
                None,
                lambda stmt, v: stmt.where(func.lower(QuestionVersion.category) == v.lower()),
            ),
            table.Filter(
                "tag",
                N_("Tag"),
                None,
                lambda stmt, v: stmt.where(QuestionVersion.tags.contains([v.lower()])),
            ),
            table.Filter(
                "type",
                N_("Type"),
                [(t, TYPE_LABELS[t]) for t in TYPES],
                lambda stmt, v: stmt.where(Question.type == v),
                all_label=N_("Any type"),
            ),
        ),
        empty=N_("This bank has no questions yet."),
        empty_filtered=N_("No question matches this search."),
        # The bank's own export (below the table) is the CSV that imports back.
        export=False,
    )


def _bank_page(
    request: Request, ctx: PageContext, bank_id: uuid.UUID, *, status: int = 200, **values: Any
) -> HTMLResponse:
    bank = banks.require_bank(ctx.uow, bank_id)
    values.setdefault(
        "draft_form", {"count": "3", "types": ["single_choice"], "difficulty": "medium"}
    )
    view = table.read(questions_table(bank.id), request.query_params)
    shown = table.fetch(ctx.uow, view, questions.current_select(bank.id))
    return render(
        request,
        "bank.html",
        ctx,
        status=status,
        bank=bank,
        count=banks.question_counts(ctx.uow, [bank.id]).get(bank.id, 0),
        t=shown.with_rows([questions.Current(q, v) for q, v in shown.rows]),
        types=TYPES,
        type_hints=TYPE_HINTS,
        drafting=_drafting(request, ctx, bank.id),
        **values,
    )


bank_page = _bank_page


def _drafting(request: Request, ctx: PageContext, bank_id: uuid.UUID) -> dict[str, Any] | None:
    """What the bank's page shows of AI drafting: nothing unless it is available."""
    if not ctx.can(P.QUESTION_MANAGE):
        return None
    if not drafting.available(ctx.uow, request.app.state.settings):
        return None
    return {
        "types": drafting.DRAFT_TYPES,
        "languages": drafting.languages(ctx.uow, bank_id),
        "pending": drafting.pending_count(ctx.uow, bank_id),
        "max_count": drafting.MAX_COUNT,
        "max_topic": drafting.MAX_TOPIC,
    }


@router.get("/authoring/banks/{bank_id}", response_class=HTMLResponse)
def bank_detail(
    request: Request, bank_id: str, ctx: PageContext = requires_page(P.QUESTION_VIEW)
) -> HTMLResponse:
    return _bank_page(request, ctx, _parse_id(bank_id, "question bank"))


def _format(name: str, chosen: str) -> str:
    if chosen in ("csv", "json", "qti"):
        return chosen
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext in FORMATS:
        return FORMATS[ext]
    raise Invalid(
        "nothing was imported: say which format the file is in (or name it .csv, .json or .xml)"
    )


@router.post("/authoring/banks/{bank_id}/import", response_class=HTMLResponse)
def bank_import(
    request: Request,
    bank_id: str,
    csrf: FormStr = "",
    format: FormStr = "",
    file: Annotated[UploadFile | None, File()] = None,
    ctx: PageContext = requires_page(P.QUESTION_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    bid = banks.require_bank(ctx.uow, _parse_id(bank_id, "question bank")).id
    try:
        if file is None or not file.filename:
            raise Invalid("nothing was imported: choose a file to import")
        fmt = _format(file.filename, format)
        content = file.file.read(MAX_BYTES + 1)
        with _change(ctx.uow):
            done = transfer.import_questions(ctx.uow, bid, fmt, content)  # type: ignore[arg-type]
    except Invalid as exc:
        say = i18n.translations(i18n.locale_of({"request": request}))
        report = [
            {**p, "message": p["message"].render(say)} if isinstance(p.get("message"), Message)
            else p
            for p in exc.extensions.get("problems", [])
        ]  # fmt: skip
        return _bank_page(
            request,
            ctx,
            bid,
            status=exc.status,
            import_error=exc.detail,
            import_problems=report,
            import_file=file.filename if file is not None else "",
            import_format=format,
        )
    n, skipped = len(done.made), done.skipped
    say = i18n.translations(i18n.locale_of({"request": request}))
    text = say.ngettext("Imported %(n)s question.", "Imported %(n)s questions.", n) % {"n": n}
    if skipped:
        text += " " + say.ngettext(
            "Skipped %(n)s exact duplicate of questions already in this bank "
            "(or repeated in the file).",
            "Skipped %(n)s exact duplicates of questions already in this bank "
            "(or repeated in the file).",
            skipped,
        ) % {"n": skipped}
    if not done.refused and not done.notes:
        return flash.redirect(request, f"/authoring/banks/{bid}", text)
    # Items left out, or notes on what was imported: the report stays on the page.
    return _bank_page(
        request,
        ctx,
        bid,
        import_done=text,
        import_refused=_said(done.refused, say),
        import_notes=_said(done.notes, say),
        import_file=file.filename,
    )


def _said(found: list[tuple[str, Message]], say: Any) -> list[dict[str, str]]:
    """Report lines in the reader's language (catalog messages translated)."""
    return [{"where": w, "message": m.render(say)} for w, m in found]


@router.get("/authoring/banks/{bank_id}/export")
def bank_export(
    bank_id: str,
    format: Annotated[str, Query(max_length=16)] = "csv",
    ctx: PageContext = requires_page(P.QUESTION_VIEW),
) -> Response:
    bid = _parse_id(bank_id, "question bank")
    if format not in ("csv", "json", "qti", "qti-package"):
        banks.require_bank(ctx.uow, bid)
        raise NotFound(f"there is no export format {format!r}; use csv, json, qti or qti-package")
    out = transfer.export_questions(ctx.uow, bid, format)  # type: ignore[arg-type]
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    if out.skipped:
        headers["X-Invigil-Skipped"] = ",".join(out.skipped)
    return Response(out.text, media_type=out.media_type, headers=headers)
