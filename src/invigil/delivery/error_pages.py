"""The error pages a candidate can reach on a guest-link path (``/take/...``),
in the candidate's language.

Staff pages share ``error.html`` (English); a candidate who mistyped a link,
followed an old one or met a server fault reads the same kind of page in
their own language instead. The language is the invitation's choice (the
switcher's cookie, the invitation, the tenant) when the link is alive and
the server can read it; otherwise the browser's ``Accept-Language`` among
the languages Invigil speaks. Errors of the server itself (500, 503) never
look anything up: the database may be why they happened. A dead or unknown
link keeps its neutral page, negotiated from the browser only, so it says
nothing about the link. The English ``detail`` of the error is not shown
(it is in the log and in problem+json for programs): each status has its
own translated words.
"""

from __future__ import annotations

import re

from fastapi import Request, Response

from invigil import i18n
from invigil.db.uow import Actor
from invigil.delivery import language, links
from invigil.delivery.landing import brand_context, no_store
from invigil.logs import get_logger
from invigil.web.pages import templates

log = get_logger(__name__)

TEMPLATE = "delivery/error.html"
_PAGE = re.compile(r"^/take/(?P<token>[^/]+)(?:/|$)")


def token_of(path: str) -> str | None:
    """The link token of a candidate page's path, or None for any other path."""
    found = _PAGE.match(path)
    return found.group("token") if found else None


def is_candidate_page(path: str) -> bool:
    return token_of(path) is not None


def _from_browser(request: Request) -> None:
    request.state.locale = i18n.negotiate(
        enabled=i18n.AVAILABLE, accept_language=request.headers.get("accept-language")
    )


def _from_invitation(request: Request, token: str) -> dict[str, object]:
    """The switcher and the tenant's brand, with the page's language set from
    the invitation; nothing (and the browser's language) when the link is
    dead, unknown, or cannot be read now."""
    tenant_id = links.tenant_of(token)
    if tenant_id is None:
        return {}
    db, key = request.app.state.db, request.app.state.services.links
    base = f"/take/{token}"
    try:
        with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
            found = links.resolve(uow, key, token)
            if found.neutral or found.invitation is None:
                return {}
            chosen = language.choose(request, uow, found.invitation)
            return {"languages": chosen.languages, "known": True, **brand_context(uow, base)}
    except Exception as exc:  # an error page must not fail: the browser's language will do
        log.warning("candidate_error_page.lookup_failed", error=type(exc).__name__)
        return {}


def render(
    request: Request,
    status: int,
    *,
    headers: dict[str, str] | None = None,
    template: str | None = None,
    reference: str | None = None,
    unknown_address: bool = False,
    fields: str = "",
) -> Response:
    """The page for ``status`` on a candidate path. ``template`` is the
    error's own page (the neutral page of a dead link), shown in the
    browser's language. ``fields`` names what could not be read (a 422)."""
    token = token_of(request.url.path) or ""
    _from_browser(request)
    shown: dict[str, object] = {}
    if template is None and status < 500:
        shown = _from_invitation(request, token)
    response = templates.TemplateResponse(
        request,
        template or TEMPLATE,
        {
            "page": None,
            "status": status,
            "reference": reference,
            "unknown_address": unknown_address,
            "fields": fields,
            "base": f"/take/{token}",
            **shown,
        },
        status_code=status,
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return no_store(response)
