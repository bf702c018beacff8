"""The routes a platform and its users' browsers reach (public: the
platform's signature, the state and the browser's cookie are what count).

The state cookie: a platform may open Invigil in a new window or inside
a frame of its own pages, and posts the id_token from its site to ours, a
cross-site request. Over https the cookie is ``SameSite=None; Secure;
Partitioned`` (sent with that post, kept in the frame's own partition
where browsers partition third-party cookies), under ``/lti/`` only and
for five minutes. Over plain http (development) it is ``Lax``.

The pages that answer a launch may be framed by the platform's own
origins (its issuer and login URL), never by anyone else; the exam, the
staff pages and every other page keep ``frame-ancestors 'none'``, so from
a frame the learner and the instructor continue in a window of their own.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from invigil.delivery.candidate import Taking, Viewing
from invigil.delivery.invitations import Kit
from invigil.delivery.landing import no_store
from invigil.i18n import N_
from invigil.identity.api import client_address, visitor
from invigil.identity.pages.common import SESSION_SECONDS
from invigil.lti import deep_linking, keys, launches, message, platforms
from invigil.lti import proctoring_services as ap
from invigil.lti.models import LtiLaunch, LtiPlatform
from invigil.lti.remote import LtiError
from invigil.security.tokens import split_secret
from invigil.web.access import Public
from invigil.web.headers import CSP
from invigil.web.pages import render
from invigil.web.session import COOKIE

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
LTI_COOKIE = "invigil_lti"
LTI_PATH = "/lti/"
Key = Annotated[str, Path(max_length=120)]
FormStr = Annotated[str, Form(max_length=20000)]

_STATE = N_(
    "This launch was already used, has expired or was started in another browser window. "
    "Open the activity again from your course. If your browser blocks cookies of "
    "other sites, ask your administrator to open Invigil in a new window."
)
_TOKEN = N_(
    "Your learning platform's launch could not be verified, so Invigil did not open. "
    "Open the activity again from your course; if it goes on, tell your administrator."
)
_PLATFORM = N_(
    "Your learning platform could not be reached, or answered in a way Invigil cannot use. "
    "Try again in a moment; if it goes on, tell your administrator."
)
REASONS: dict[str, str] = {
    "not_configured": N_(
        "This learning platform is not registered with Invigil, or its registration is off. "
        "Ask your administrator."
    ),
    "deployment_unknown": N_(
        "This course's deployment of Invigil is not registered. Ask your administrator to "
        "add its deployment id."
    ),
    "message_type": N_("Invigil cannot open this kind of launch from your learning platform."),
    "link_not_mapped": N_(
        "This activity is not linked to an exam yet. Ask your instructor to choose one."
    ),
    "exam_unavailable": N_(
        "The exam of this activity cannot be taken now: it is not published, or its "
        "window is closed. Ask your instructor."
    ),
    "no_email": N_(
        "Your learning platform did not share your name and e-mail address with Invigil. "
        "Ask your administrator to share them with this tool."
    ),
    "no_staff_role": N_(
        "Instructors cannot open Invigil from this learning platform. Ask your administrator."
    ),
    "email_taken": N_(
        "An Invigil account with your e-mail address exists and holds more than instructors "
        "get from a learning platform. Sign in to Invigil directly."
    ),
    "not_active": N_("Your Invigil account is deactivated. Ask your administrator."),
    "mfa_account": N_(
        "Your Invigil account signs in with an authenticator code. Sign in to Invigil directly."
    ),
    "not_staff": N_("Only instructors can choose an exam for an activity."),
    "attempt_ended": N_(
        "Proctoring of this attempt has already ended. Start a new attempt from your course."
    ),
    "attempt_number": N_(
        "Your learning platform asked to proctor an earlier attempt than one already proctored. "
        "Start the assessment again from your course."
    ),
    "end_without_start": N_(
        "Invigil has no proctoring session for this attempt, so there was nothing to end."
    ),
}


def reason_words(reason: str) -> str:
    if reason in REASONS:
        return REASONS[reason]
    if reason.startswith(("state_", "login_")):
        return _STATE
    if reason.startswith("token_"):
        return _TOKEN
    return _PLATFORM


def _status(reason: str) -> int:
    if reason.startswith("platform_"):
        return 502
    if reason in ("attempt_ended", "attempt_number", "end_without_start"):
        return 409
    if reason in ("not_configured", "link_not_mapped", "exam_unavailable"):
        return 409 if reason != "not_configured" else 404
    if reason.startswith(("state_", "login_")):
        return 400
    return 401 if reason.startswith("token_") else 403


def origins(platform: LtiPlatform) -> list[str]:
    found = []
    for url in (platform.issuer, platform.auth_login_url):
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}"
            if origin not in found:
                found.append(origin)
    return found


def framed_by(response: Response, platform: LtiPlatform | None, *, form_to: str = "") -> Response:
    """Let the platform's own pages frame this answer (and nobody else's)."""
    if platform is None:
        return response
    # 'self' too: a platform's assessment that Invigil's player frames ends
    # with a launch (LtiEndAssessment) inside that frame.
    ancestors = " ".join(["'self'", *origins(platform)])
    csp = CSP.replace("frame-ancestors 'none'", "frame-ancestors " + ancestors)
    if form_to:
        parts = urlsplit(form_to)
        csp = csp.replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
        )
    # X-Frame-Options stays DENY for browsers without frame-ancestors; every
    # browser that knows frame-ancestors follows it instead.
    response.headers["Content-Security-Policy"] = csp
    return response


def refused(request: Request, reason: str, platform: LtiPlatform | None = None) -> Response:
    response = render(
        request,
        "lti/refused.html",
        {"page": None, "words": reason_words(reason)},
        status=_status(reason),
    )
    _forget_browser(request, response)
    return framed_by(response, platform)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _keep_browser(request: Request, response: Response, secret: str) -> None:
    if _secure(request):
        response.set_cookie(
            LTI_COOKIE,
            secret,
            max_age=launches.LOGIN_MINUTES * 60,
            path=LTI_PATH,
            httponly=True,
            samesite="none",
            secure=True,
            partitioned=True,
        )
    else:
        response.set_cookie(
            LTI_COOKIE,
            secret,
            max_age=launches.LOGIN_MINUTES * 60,
            path=LTI_PATH,
            httponly=True,
            samesite="lax",
        )


def _forget_browser(request: Request, response: Response) -> None:
    if LTI_COOKIE in request.cookies:
        response.delete_cookie(
            LTI_COOKIE,
            path=LTI_PATH,
            httponly=True,
            samesite="none" if _secure(request) else "lax",
            secure=_secure(request),
        )


def _unknown(request: Request, what: str) -> Response:
    """No tenant can be named: nothing to audit under, so the server log says it."""
    log.warning("lti launch refused: %s (from %s)", what, client_address(request))
    return refused(request, "not_configured")


async def _fields(request: Request) -> dict[str, str]:
    """The login's parameters: a GET's query or a POST's form, bounded."""
    source: Any = request.query_params
    if request.method == "POST":
        try:
            source = await request.form(max_files=0, max_fields=30)
        except Exception:
            source = {}
    return {k: str(v)[:2000] for k, v in source.items() if isinstance(v, str)}


@router.api_route("/lti/{key}/login", methods=["GET", "POST"], dependencies=[Public])
async def login(request: Request, key: Key) -> Response:
    """The platform's third-party-initiated login (GET or POST)."""
    fields = await _fields(request)
    return await _login(request, key, fields)


async def _login(request: Request, key: str, fields: dict[str, str]) -> Response:
    import anyio.to_thread

    return await anyio.to_thread.run_sync(_login_sync, request, key, fields)


def _login_sync(request: Request, key: str, fields: dict[str, str]) -> Response:
    db, services = request.app.state.db, request.app.state.services
    tenant_id = platforms.tenant_of(key)
    if tenant_id is None:
        return _unknown(request, "no such registration")
    address = client_address(request)
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        platform = platforms.by_public_key(uow, key)
        if platform is None:
            return _unknown(request, "no such registration")
        got = launches.begin(
            uow,
            services.settings,
            platform,
            launches.Login(
                iss=fields.get("iss", ""),
                login_hint=fields.get("login_hint", ""),
                target_link_uri=fields.get("target_link_uri", ""),
                message_hint=fields.get("lti_message_hint", ""),
                client_id=fields.get("client_id", ""),
                deployment_id=fields.get("lti_deployment_id", ""),
            ),
        )
        if isinstance(got, str):
            launches.refuse(uow, services.box, got, address=address, platform=platform)
            return refused(request, got, platform)
    url, browser = got
    response = RedirectResponse(url, status_code=302)
    _keep_browser(request, response, browser)
    return response


@router.post("/lti/{key}/launch", response_class=HTMLResponse, dependencies=[Public])
def launch(
    request: Request,
    key: Key,
    id_token: FormStr = "",
    state: Annotated[str, Form(max_length=200)] = "",
    error: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The platform posts the id_token (form_post) back here."""
    db, services = request.app.state.db, request.app.state.services
    settings, box = services.settings, services.box
    tenant_id = platforms.tenant_of(key)
    if tenant_id is None:
        return _unknown(request, "no such registration")
    address = client_address(request)
    browser = request.cookies.get(LTI_COOKIE, "")[:200]
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        platform = platforms.by_public_key(uow, key)
        if platform is None:
            return _unknown(request, "no such registration")
        pending = launches.consume(uow, platform, state, browser)
        if isinstance(pending, str) or error or not id_token:
            reason = pending if isinstance(pending, str) else "token_missing"
            launches.refuse(uow, box, reason, address=address, platform=platform, detail=error)
            return refused(request, reason, platform)
        nonce, launch_id = pending.nonce, pending.id
        uow.session.expunge(platform)
    try:  # no transaction is held while the platform's keys are fetched
        claims = message.validate(platform, settings, id_token, nonce=nonce)
    except LtiError as exc:
        with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
            launches.refuse(
                uow, box, exc.reason, address=address, platform=platform, detail=exc.detail
            )
        return refused(request, exc.reason, platform)
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        platform = platforms.by_public_key(uow, key)
        assert platform is not None
        pending = uow.get(LtiLaunch, launch_id)
        pending.deployment_id = str(claims[message.DEPLOYMENT])[:255]
        kind = claims[message.MESSAGE_TYPE]
        if kind == message.DEEP_LINKING_REQUEST:
            if not message.is_staff(claims):
                launches.refuse(uow, box, "not_staff", address=address, platform=platform)
                return refused(request, "not_staff", platform)
            picked = deep_linking.start(uow, box, platform, pending, claims, address=address)
            if not picked.startswith(launches.HANDOFF + "."):
                return refused(request, picked, platform)
            response = deep_linking.picker(request, uow, picked)
        elif kind == message.START_PROCTORING:
            url = ap.start(uow, Kit.of(services), settings, platform, claims, address=address)
            if not url.startswith("http"):
                return refused(request, url, platform)
            response = render(request, "lti/proctoring.html", {"page": None, "target": url})
        elif kind == message.END_ASSESSMENT:
            ended = ap.end(uow, box, platform, claims, address=address)
            if isinstance(ended, str):
                return refused(request, ended, platform)
            response = render(
                request, "lti/ended.html", {"page": None, "back": _return_url(claims)}
            )
        elif message.is_staff(claims):
            handoff = launches.staff(uow, box, platform, pending, claims, address=address)
            if not handoff.startswith(launches.HANDOFF + "."):
                return refused(request, handoff, platform)
            response = render(request, "lti/staff.html", {"page": None, "handoff": handoff})
        else:
            url = launches.learner(uow, Kit.of(services), platform, claims, address=address)
            if not url.startswith("http"):
                return refused(request, url, platform)
            response = render(request, "lti/learner.html", {"page": None, "target": url})
    _forget_browser(request, response)
    return framed_by(response, platform)


def _return_url(claims: dict[str, Any]) -> str:
    """The platform's return address from the launch, when it gave a web one."""
    shown = claims.get(message.LTI + "launch_presentation")
    url = shown.get("return_url") if isinstance(shown, dict) else None
    if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 2000:
        return url
    return ""


@router.get("/take/{token}/lms", response_class=HTMLResponse)
def start_assessment(request: Request, t: Taking = Viewing) -> Response:
    """Inside the player's frame, while the proctored attempt runs: the
    signed ``LtiStartAssessment`` goes to the platform, which shows its
    assessment in the frame."""
    services = request.app.state.services
    found = ap.assessment(t.uow, services.box, t.invitation)
    if found is None:
        return no_store(render(request, "lti/assess_closed.html", {"page": None}, status=409))
    _platform, url, token = found
    response = no_store(
        render(request, "lti/assess.html", {"page": None, "url": url, "jwt": token})
    )
    parts = urlsplit(url)
    response.headers["Content-Security-Policy"] = CSP.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    ).replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@router.post("/lti/{key}/deep-link", response_class=HTMLResponse, dependencies=[Public])
def deep_link(
    request: Request,
    key: Key,
    pick: Annotated[str, Form(max_length=200)] = "",
    exam: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The instructor's pick: the signed answer goes back to the platform."""
    db, services = request.app.state.db, request.app.state.services
    tenant_id = split_secret(launches.HANDOFF, pick)
    if tenant_id is None or platforms.tenant_of(key) != tenant_id:
        return refused(request, "state_unknown")
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        platform = platforms.by_public_key(uow, key)
        answer = deep_linking.respond(uow, services.settings, services.box, pick, exam)
        if isinstance(answer, str):
            launches.refuse(
                uow, services.box, answer, address=client_address(request), platform=platform
            )
            return refused(request, answer, platform)
    platform, return_url, token = answer
    response = render(
        request, "lti/answer.html", {"page": None, "return_url": return_url, "jwt": token}
    )
    return framed_by(response, platform, form_to=return_url)


@router.post("/lti/enter", response_class=HTMLResponse, dependencies=[Public])
def enter(request: Request, handoff: Annotated[str, Form(max_length=200)] = "") -> Response:
    """An instructor's hand-off, spent for a staff session in a window of Invigil's own."""
    db, services = request.app.state.db, request.app.state.services
    tenant_id = split_secret(launches.HANDOFF, handoff)
    if tenant_id is None:
        return refused(request, "state_unknown")
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        entered = launches.enter(
            uow,
            services.settings,
            services.box,
            handoff,
            address=client_address(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        if entered is None:
            launches.refuse(uow, services.box, "state_handoff", address=client_address(request))
    if entered is None:
        return refused(request, "state_handoff")
    target = "/account" if entered.enroll_only else "/home"
    response = render(request, "lti/continue.html", {"page": None, "target": target})
    response.set_cookie(
        COOKIE,
        entered.secret,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
        max_age=SESSION_SECONDS,
    )
    return response


@router.get("/lti/{key}/jwks", dependencies=[Public])
def jwks(request: Request, key: Key) -> Response:
    """The tenant's tool keys, for its platforms to verify Invigil's signatures."""
    db, services = request.app.state.db, request.app.state.services
    tenant_id = platforms.tenant_of(key)
    if tenant_id is None:
        return _unknown(request, "no such registration")
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        if platforms.by_public_key(uow, key) is None:
            return _unknown(request, "no such registration")
        body = keys.jwks(uow, services.box)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})
