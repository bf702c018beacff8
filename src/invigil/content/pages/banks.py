"""Question banks: the list, one bank's questions (search, pages), import, export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from invigil.content import banks, questions, transfer
from invigil.content.bodies import TYPES
from invigil.content.formats import MAX_BYTES
from invigil.content.pages.common import TYPE_HINTS, redirect, render
from invigil.content.questions import Search
from invigil.errors import Conflict, Invalid, NotFound
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.pagination import decode_cursor
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
FORMATS = {"csv": "csv", "json": "json", "xml": "qti", "qti": "qti"}


def _banks_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    found = banks.list_banks(ctx.uow)
    counts = banks.question_counts(ctx.uow, [b.id for b in found])
    values.setdefault("form", {"name": "", "description": ""})
    return render(request, "banks.html", ctx, status=status, banks=found, counts=counts, **values)


@router.get("/authoring/banks", response_class=HTMLResponse)
def bank_list(request: Request, ctx: PageContext = requires_page(P.QUESTION_VIEW)) -> HTMLResponse:
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


def _bank_page(
    request: Request,
    ctx: PageContext,
    bank_id: uuid.UUID,
    *,
    status: int = 200,
    search: dict[str, str] | None = None,
    **values: Any,
) -> HTMLResponse:
    bank = banks.require_bank(ctx.uow, bank_id)
    search = search or {"q": "", "category": "", "tag": "", "type": "", "cursor": ""}
    kind = search["type"] if search["type"] in TYPES else None
    cursor = search["cursor"] or None
    search_error = None
    try:
        decode_cursor(cursor)
        rows, nxt = questions.search(
            ctx.uow,
            Search(
                bank.id,
                search["q"].strip() or None,
                search["category"].strip() or None,
                search["tag"].strip() or None,
                kind,
            ),
            limit=PAGE_SIZE,
            cursor=cursor,
        )
    except Invalid as exc:
        rows, nxt, search_error = [], None, exc.detail
    except (ValueError, IndexError):
        rows, nxt, search_error = [], None, "the page link is not valid; start again without it"
    filters = {k: v for k, v in search.items() if v and k != "cursor"}
    next_link = (
        f"/authoring/banks/{bank.id}?" + urlencode(filters | {"cursor": nxt}) if nxt else None
    )
    first_link = f"/authoring/banks/{bank.id}?" + urlencode(filters) if cursor else None
    return render(
        request,
        "bank.html",
        ctx,
        status=status,
        bank=bank,
        count=banks.question_counts(ctx.uow, [bank.id]).get(bank.id, 0),
        rows=rows,
        search=search,
        filtered=bool(filters),
        search_error=search_error,
        next_link=next_link,
        first_link=first_link,
        types=TYPES,
        type_hints=TYPE_HINTS,
        **values,
    )


@router.get("/authoring/banks/{bank_id}", response_class=HTMLResponse)
def bank_detail(
    request: Request,
    bank_id: str,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=100)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
    type: Annotated[str, Query(max_length=32)] = "",
    cursor: Annotated[str, Query(max_length=500)] = "",
    ctx: PageContext = requires_page(P.QUESTION_VIEW),
) -> HTMLResponse:
    search = {"q": q, "category": category, "tag": tag, "type": type, "cursor": cursor}
    return _bank_page(request, ctx, _parse_id(bank_id, "question bank"), search=search)


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
        report = exc.extensions.get("problems", [])
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
    text = f"Imported {n} question{'s' if n != 1 else ''}."
    if skipped:
        text += (
            f" Skipped {skipped} exact duplicate{'s' if skipped != 1 else ''} of "
            "questions already in this bank (or repeated in the file)."
        )
    return flash.redirect(request, f"/authoring/banks/{bid}", text)


@router.get("/authoring/banks/{bank_id}/export")
def bank_export(
    bank_id: str,
    format: Annotated[str, Query(max_length=8)] = "csv",
    ctx: PageContext = requires_page(P.QUESTION_VIEW),
) -> Response:
    bid = _parse_id(bank_id, "question bank")
    if format not in ("csv", "json", "qti"):
        banks.require_bank(ctx.uow, bid)
        raise NotFound(f"there is no export format {format!r}; use csv, json or qti")
    out = transfer.export_questions(ctx.uow, bid, format)  # type: ignore[arg-type]
    headers = {"Content-Disposition": f'attachment; filename="{out.filename}"'}
    if out.skipped:
        headers["X-Invigil-Skipped"] = ",".join(out.skipped)
    return Response(out.text, media_type=out.media_type, headers=headers)
