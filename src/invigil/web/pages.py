"""Server-rendered pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from invigil import __version__, i18n
from invigil.errors import DomainError
from invigil.web import flash, forms
from invigil.web.access import Public
from invigil.web.session import SignInRequired

STATIC = Path(__file__).parent / "static"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
forms.install(templates.env)
i18n.install(templates.env)
router = APIRouter(include_in_schema=False)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A staff page. Pages may show one-time links, secrets and candidates'
    data: never cached, and their URL never leaks as a referrer. A waiting
    one-shot message (:mod:`invigil.web.flash`) is shown, and spent."""
    message = flash.take(request)
    if message:
        context = {**context, "flash": message}
    response = templates.TemplateResponse(request, template, context, status_code=status)
    flash.clear(request, response)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_page(request: Request, exc: DomainError) -> Response:
    """A domain error on a page: the sign-in redirect, or a page that says what went wrong."""
    if isinstance(exc, SignInRequired) or exc.status == 303:
        return RedirectResponse(exc.headers()["Location"], status_code=303)
    response = templates.TemplateResponse(
        request,
        exc.page or "error.html",
        {"status": exc.status, "detail": exc.detail, "page": getattr(request.state, "page", None)},
        status_code=exc.status,
    )
    for name, value in exc.headers().items():
        response.headers[name] = value
    return response


def status_page(
    request: Request,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    reference: str | None = None,
    unknown_address: bool = False,
) -> Response:
    """An HTTP error (unknown address, wrong method, a crash) as a page for a
    person; programs get problem+json instead (see app.py). A crash shows
    only its reference, which the log carries next to the traceback."""
    response = templates.TemplateResponse(
        request,
        "error.html",
        {
            "status": status,
            "detail": detail,
            "reference": reference,
            "unknown_address": unknown_address,
            "page": getattr(request.state, "page", None),
        },
        status_code=status,
    )
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@router.get("/favicon.ico", dependencies=[Public])
def favicon() -> FileResponse:
    """Browsers ask every site for it; the pages link the SVG icon too."""
    return FileResponse(
        STATIC / "staff" / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/", response_class=HTMLResponse, dependencies=[Public])
def home(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "home.html", {"version": __version__})
