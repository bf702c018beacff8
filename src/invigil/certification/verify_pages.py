"""The public verification page: ``GET /verify/{certificate_id}`` (no
sign-in, rate-limited per client address), and the issuer's logo on it.

What it shows and why each case costs the same: :mod:`invigil.certification.verify`.
The page is in the verifier's language (``?lang=`` or the browser's, among
the languages Invigil speaks: the verifier is nobody the tenant knows),
right-to-left in Arabic. A known certificate answers 200 whatever its
status (the status is the answer); an unknown or malformed id answers the
same 404 page.

Headers: ``Cache-Control: no-store`` (a status must never be served stale
by a browser or a proxy; the server's own short reuse is bounded, see
``verify_cache_seconds``), ``X-Robots-Tag: noindex`` (holders' names are not
for search engines) and ``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from invigil import i18n
from invigil.certification import verify
from invigil.tenants import branding
from invigil.tenants.api import logo_response
from invigil.tenants.branding import DEFAULT_ACCENT, Brand
from invigil.web.pages import templates
from invigil.web.public_limits import PublicLimited

router = APIRouter(include_in_schema=False)
TEMPLATE = "certification/verify.html"


def recent(request: Request) -> verify.Recent:
    """The process's reuse of recent lookups (made from the settings on first use)."""
    state = request.app.state
    kept: verify.Recent | None = getattr(state, "verify_recent", None)
    if kept is None:
        kept = verify.Recent(state.settings.verify_cache_seconds)
        state.verify_recent = kept
    return kept


def _brand(shown: verify.Shown) -> Brand | None:
    if shown.tenant_id is None:
        return None
    return Brand(
        tenant_id=shown.tenant_id,
        name=shown.issuer,
        accent=shown.accent or DEFAULT_ACCENT,
        logo_sha256=shown.logo_sha256,
        logo_type=None,
        logo_width=None,
        logo_height=None,
        custom_accent=shown.accent is not None,
    )


def _headers(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


class Rendered:
    """Pages already rendered, by (id if known, what was shown, language):
    the same facts in the same language make the same bytes, so a page
    reused within ``verify_cache_seconds`` is not rendered again. Bounded;
    the least recently used is forgotten first."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._pages: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        with self._lock:
            found = self._pages.get(key)
            if found is not None:
                self._pages.move_to_end(key)
            return found

    def put(self, key: tuple[Any, ...], body: bytes) -> None:
        with self._lock:
            self._pages[key] = body
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


_RENDERED = Rendered()


def _render(request: Request, wanted: uuid.UUID | None, shown: verify.Shown) -> bytes:
    brand = _brand(shown)
    base = f"/verify/{wanted}"
    values: dict[str, Any] = {
        "page": None,
        "c": shown,
        "brand": brand,
        "brand_logo": f"{base}/logo?v={brand.logo_sha256[:16]}"
        if brand is not None and brand.logo_sha256
        else None,
        "credential_json": f"/credentials/{wanted}?format=json",
        "credential_signed": f"/credentials/{wanted}",
    }
    return bytes(templates.TemplateResponse(request, TEMPLATE, values).body)


@router.get("/verify/{certificate_id}", response_class=HTMLResponse, dependencies=[PublicLimited])
async def verify_page(request: Request, certificate_id: str) -> Response:
    """Async: a lookup still fresh in this process is answered without a
    thread; a new one runs its two round trips in the thread pool."""
    wanted = verify.parse_id(certificate_id)
    now = datetime.now(UTC)
    kept = recent(request)
    shown = kept.peek(wanted, now)
    if shown is None:
        shown = await run_in_threadpool(kept.get, request.app.state.db, wanted, now)
    locale = i18n.negotiate(
        enabled=i18n.AVAILABLE,
        chosen=request.query_params.get("lang"),
        accept_language=request.headers.get("accept-language"),
    )
    request.state.locale = locale
    key = (wanted if shown.known else None, shown, locale)
    body = _RENDERED.get(key) if kept.seconds > 0 else None
    if body is None:
        body = _render(request, wanted, shown)
        if kept.seconds > 0:
            _RENDERED.put(key, body)
    return _headers(HTMLResponse(body, status_code=200 if shown.known else 404))


@router.get("/verify/{certificate_id}/logo", dependencies=[PublicLimited])
def verify_logo(request: Request, certificate_id: str) -> Response:
    """The issuer's logo on the page (a known certificate's tenant only)."""
    wanted = verify.parse_id(certificate_id)
    shown = recent(request).get(request.app.state.db, wanted, datetime.now(UTC))
    stored = None
    if shown.tenant_id is not None and shown.logo_sha256:
        with request.app.state.db.unit_of_work(shown.tenant_id, verify.ACTOR) as uow:
            stored = branding.logo_of(uow)
    if stored is None:
        return _headers(HTMLResponse(_render(request, None, verify.UNKNOWN), status_code=404))
    response = logo_response(stored)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
