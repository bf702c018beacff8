"""The registration URL a learning platform opens (LTI Dynamic Registration,
``invigil.lti.dynamic``): public, the URL's one-time token is what counts.

The platform shows the answer in a frame or window of its own, so the
page may be framed by the origin of the platform's OpenID configuration
(and by nobody else's); a small script of Invigil's own tells the platform
that the registration is done (``org.imsglobal.lti.close``).
"""

from __future__ import annotations

import logging
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from invigil import i18n
from invigil.errors import Invalid
from invigil.i18n import N_
from invigil.identity.api import client_address, visitor
from invigil.lti import dynamic, platforms
from invigil.lti.models import LtiRegistrationUrl
from invigil.lti.remote import LtiError
from invigil.web.access import Public
from invigil.web.headers import CSP
from invigil.web.pages import render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

_USED = N_(
    "This registration URL was already used or has expired. Make a new one on Invigil's "
    "learning platforms page and register again."
)
_CONFIGURATION = N_(
    "Invigil could not read your learning platform's configuration, or it lacks what "
    "LTI Dynamic Registration needs."
)
REASONS: dict[str, str] = {
    "registration_unknown": _USED,
    "registration_used": _USED,
    "registration_expired": _USED,
    "registration_configuration": _CONFIGURATION,
    "registration_issuer": N_(
        "Your learning platform's configuration names an issuer other than the address it "
        "was read from, so Invigil did not register."
    ),
    "registration_refused": N_("Your learning platform refused Invigil's registration."),
    "registration_answer": N_(
        "Your learning platform's answer to the registration lacks its client id or deployment id."
    ),
    "registration_duplicate": N_(
        "This learning platform has registered Invigil with this client id already."
    ),
}
_STATUS = {
    "registration_unknown": 404,
    "registration_used": 410,
    "registration_expired": 410,
    "registration_duplicate": 409,
}


def reason_words(reason: str) -> str:
    return REASONS.get(reason, _CONFIGURATION)


def _language(request: Request) -> None:
    """The page is for the platform's administrator: the browser's language
    among those staff pages are complete in."""
    request.state.locale = i18n.negotiate(
        enabled=i18n.STAFF_LANGUAGES,
        accept_language=request.headers.get("accept-language"),
    )


def _framed(response: Response, config_url: str) -> Response:
    """The platform whose configuration URL this is may frame the page."""
    origin = dynamic.origin(config_url)
    if origin:  # else no framing at all, as every other page
        response.headers["Content-Security-Policy"] = CSP.replace(
            "frame-ancestors 'none'", f"frame-ancestors 'self' {origin}"
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(request: Request, reason: str, config_url: str, detail: str = "") -> Response:
    status = _STATUS.get(reason, 502 if reason != "registration_issuer" else 400)
    _language(request)
    response = render(
        request,
        "lti/registration_refused.html",
        {"page": None, "words": reason_words(reason), "detail": detail[:200]},
        status=status,
    )
    return _framed(response, config_url)


@router.get("/lti-registration/{token}", response_class=HTMLResponse, dependencies=[Public])
async def register(
    request: Request,
    token: Annotated[str, Path(max_length=120)],
    openid_configuration: Annotated[str, Query(max_length=2000)] = "",
    registration_token: Annotated[str, Query(max_length=4000)] = "",
) -> Response:
    """The platform opens the registration URL (LTI Dynamic Registration)."""
    return await anyio.to_thread.run_sync(
        _register, request, token, openid_configuration, registration_token
    )


def _register(request: Request, token: str, config_url: str, registration_token: str) -> Response:
    db, settings = request.app.state.db, request.app.state.services.settings
    box = request.app.state.services.box
    tenant_id = dynamic.tenant_of(token)
    if tenant_id is None:
        log.warning("lti registration refused: no such URL (from %s)", client_address(request))
        return _refused(request, "registration_unknown", config_url)
    address = box.pseudonym(tenant_id, "address", client_address(request))
    actor = visitor(request, tenant_id)
    with db.unit_of_work(tenant_id, actor) as uow:
        url = dynamic.claim(uow, token, address=address)
        if url == "registration_unknown":  # perhaps no such tenant: the server log says it
            log.warning("lti registration refused: no such URL (from %s)", client_address(request))
        if isinstance(url, str):
            return _refused(request, url, config_url)
        url_id = url.id
        if not config_url:
            dynamic.refuse(uow, "registration_configuration", url_id=url_id, address=address,
                           detail="no openid_configuration")  # fmt: skip
            return _refused(request, "registration_configuration", config_url)
    public_key = platforms.new_public_key(tenant_id)
    try:  # no transaction is held while the platform is asked
        doc = dynamic.configuration(config_url, settings)
        body = dynamic.tool_registration(settings, public_key, doc)
        answer = dynamic.post(settings, doc["registration_endpoint"], body, registration_token)
    except LtiError as exc:
        with db.unit_of_work(tenant_id, actor) as uow:
            dynamic.refuse(uow, exc.reason, url_id=url_id, address=address, detail=exc.detail)
        return _refused(request, exc.reason, config_url)
    with db.unit_of_work(tenant_id, actor) as uow:
        url = uow.get(LtiRegistrationUrl, url_id)
        try:
            with uow.session.begin_nested():
                row = dynamic.store(uow, settings, url, public_key, doc, answer)
        except Invalid as exc:
            reason = (
                "registration_duplicate"
                if exc.extensions.get("field") == "client_id"
                else ("registration_configuration")
            )
            dynamic.refuse(uow, reason, url_id=url_id, address=address, detail=exc.detail)
            return _refused(request, reason, config_url, exc.detail)
        name, issuer = row.name, row.issuer
    _language(request)
    response = render(
        request, "lti/registered.html", {"page": None, "name": name, "issuer": issuer}
    )
    return _framed(response, config_url)
