"""Single sign-on: signing in through the tenant's provider, and its settings page.

The sign-in routes are public (the provider vouches for the person; the
state, bound to the browser by a cookie, ties its answer to the sign-in
this browser began). Their cookie is ``SameSite=Lax`` and only under
``/signin/sso``: the provider's redirect back is a cross-site navigation,
which a ``Strict`` cookie would not come with. The session cookie itself
stays ``Strict``; so the last step is a page of this site that moves on
by itself, and the browser sends the session with that same-site request.

Every refusal shows the sign-in page with a sentence in the reader's
language (never a server error); what happened is in the audit log.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.db import platform
from invigil.errors import Conflict, Invalid, Refused
from invigil.i18n import N_
from invigil.identity import oidc, sso, sso_signin
from invigil.identity.api import client_address, visitor
from invigil.identity.models import Role, User, UserRole
from invigil.identity.pages.common import SESSION_SECONDS, FormStr, P, _change, _render
from invigil.identity.pages.signin import _safe_next, _signin_page
from invigil.security.tokens import split_secret
from invigil.web import flash
from invigil.web.access import Public
from invigil.web.session import COOKIE, PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
SSO_COOKIE = "invigil_sso"
SSO_PATH = "/signin/sso"

_STATE = N_(
    "This sign-in was already used, has expired or was started in another browser. "
    "Start again with the single sign-on button."
)
_PROVIDER = N_(
    "Your organisation's identity provider could not be reached, or answered in a way "
    "Invigil cannot use. Try again in a moment; if it goes on, tell your administrator."
)
_TOKEN = N_(
    "Your identity provider's answer could not be verified, so you were not signed in. "
    "Start again; if it goes on, tell your administrator."
)
REASONS: dict[str, str] = {
    "not_configured": N_(
        "Single sign-on is not available for this organisation. Sign in with your password, "
        "or ask your administrator."
    ),
    "idp_error": N_("Your identity provider did not sign you in. Start again."),
    "no_code": N_("Your identity provider did not sign you in. Start again."),
    "no_email": N_(
        "Your identity provider did not confirm your e-mail address, so Invigil cannot tell "
        "which account is yours. Ask your administrator."
    ),
    "email_not_verified": N_(
        "Your identity provider did not confirm your e-mail address, so Invigil cannot tell "
        "which account is yours. Ask your administrator."
    ),
    "email_domain": N_(
        "Your e-mail address is not in a domain this organisation signs in with single sign-on."
    ),
    "no_account": N_(
        "There is no Invigil account for you in this organisation. "
        "Ask your administrator to invite you."
    ),
    "not_active": N_("Your Invigil account is deactivated. Ask your administrator."),
    "identity_conflict": N_(
        "This Invigil account is already linked to another person at your identity provider. "
        "Ask your administrator."
    ),
    "no_role": N_("Your identity provider gives you no role in Invigil. Ask your administrator."),
    "bad_otp": N_("That code is not valid. Enter the current code from your authenticator app."),
    "locked": N_(
        "The account is locked for a while after repeated failures. Try again in a few minutes."
    ),
    "throttled": N_(
        "Too many failed sign-ins from this address. Wait a few minutes and try again."
    ),
}


def reason_words(reason: str) -> str:
    if reason in REASONS:
        return REASONS[reason]
    if reason.startswith("state_"):
        return _STATE
    if reason.startswith("token_"):
        return _TOKEN
    return _PROVIDER


def _status(reason: str) -> int:
    if reason in ("throttled", "locked"):
        return 429
    if reason.startswith(("provider_", "issuer_")):
        return 502
    if reason.startswith("state_") or reason in ("not_configured", "no_code"):
        return 400
    return 401


def _refused(request: Request, reason: str, *, tenant: str = "") -> HTMLResponse:
    response = _signin_page(
        request, status=_status(reason), error=reason_words(reason), tenant=tenant
    )
    _forget_browser(request, response)
    return response


def _keep_browser(request: Request, response: Response, secret: str) -> None:
    response.set_cookie(
        SSO_COOKIE, secret, max_age=sso_signin.LOGIN_MINUTES * 60, path=SSO_PATH,
        httponly=True, samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip


def _forget_browser(request: Request, response: Response) -> None:
    response.delete_cookie(
        SSO_COOKIE, path=SSO_PATH, httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip


def provider_name(request: Request, slug: str) -> str | None:
    """The name on the tenant's single sign-on button, when it has one on."""
    ref = platform.tenant_by_slug(request.app.state.db, slug) if slug else None
    if ref is None:
        return None
    with request.app.state.db.unit_of_work(ref.id, visitor(request, ref.id)) as uow:
        row = sso.config_of(uow)
        return row.display_name if row is not None and row.enabled else None


@router.get(SSO_PATH, response_class=HTMLResponse, dependencies=[Public])
def sso_start(
    request: Request,
    tenant: Annotated[str, Query(max_length=40)] = "",
    next_path: Annotated[str, Query(alias="next", max_length=2000)] = "",
) -> Response:
    """Leave for the tenant's identity provider (authorization code + PKCE)."""
    db, services = request.app.state.db, request.app.state.services
    slug = tenant.strip().lower()
    ref = platform.tenant_by_slug(db, slug) if slug else None
    if ref is None:
        return _refused(request, "not_configured", tenant=slug)
    address = client_address(request)
    with db.unit_of_work(ref.id, visitor(request, ref.id)) as uow:
        row = sso.config_of(uow)
        issuer = row.issuer if row is not None and row.enabled else None
    if issuer is None:
        return _refused(request, "not_configured", tenant=slug)
    try:
        provider = oidc.discover(issuer, services.settings)
    except oidc.OidcError as exc:
        with db.unit_of_work(ref.id, visitor(request, ref.id)) as uow:
            sso_signin.refuse(uow, services.settings, services.box, exc.reason, address=address)
        return _refused(request, exc.reason, tenant=slug)
    target = _safe_next(request, next_path) or ""
    with db.unit_of_work(ref.id, visitor(request, ref.id)) as uow:
        row = sso.config_of(uow)
        if row is None or not row.enabled or row.issuer != issuer:
            return _refused(request, "not_configured", tenant=slug)
        url, browser = sso_signin.begin(uow, services.settings, services.box, provider, row, target)
    response = RedirectResponse(url, status_code=303)
    _keep_browser(request, response, browser)
    return response


def _signed_in(request: Request, result: sso_signin.Result, *, interstitial: bool) -> Response:
    assert result.secret is not None
    target = (
        "/account" if result.enroll_only else (_safe_next(request, result.next_path) or "/home")
    )
    if interstitial:
        # Back from another site: the Strict session cookie goes with the next
        # same-site request, which this page makes by itself.
        response: Response = _render(request, "sso_continue.html", None, target=target)
    else:
        response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, result.secret, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/", max_age=SESSION_SECONDS,
    )  # fmt: skip
    _forget_browser(request, response)
    return response


def _code_page(
    request: Request, browser: str, *, status: int = 200, error: str | None = None
) -> HTMLResponse:
    return _render(
        request,
        "sso_code.html",
        None,
        status=status,
        error=error,
        csrf=sso_signin.code_csrf(browser),
        form_anchor="otp",
    )


@router.get(f"{SSO_PATH}/callback", response_class=HTMLResponse, dependencies=[Public])
def sso_callback(
    request: Request,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The provider sends the browser back here with a code (or an error)."""
    db, services = request.app.state.db, request.app.state.services
    settings, box = services.settings, services.box
    tenant_id = split_secret(sso_signin.STATE, state)
    if tenant_id is None:
        return _refused(request, "state_unknown")
    address = client_address(request)
    browser = request.cookies.get(SSO_COOKIE, "")[:200]
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        if sso_signin.throttled(uow, settings, address):
            sso_signin.refuse(uow, settings, box, "throttled", address=address)
            return _refused(request, "throttled")
        pending = sso_signin.consume(uow, box, state, browser)
        if isinstance(pending, str):
            sso_signin.refuse(uow, settings, box, pending, address=address)
            return _refused(request, pending)
        if error or not code:
            reason = "idp_error" if error else "no_code"
            sso_signin.refuse(uow, settings, box, reason, address=address)
            return _refused(request, reason)
    try:  # no transaction is held while the provider answers
        provider = oidc.discover(pending.issuer, settings)
        answer = oidc.exchange(
            provider, settings, client_id=pending.client_id,
            client_secret=pending.client_secret, code=code,
            redirect_uri=sso_signin.callback_url(settings), verifier=pending.verifier,
        )  # fmt: skip
        claims = oidc.validate_id_token(
            provider, settings, answer["id_token"], client_id=pending.client_id,
            nonce=pending.nonce,
        )  # fmt: skip
    except oidc.OidcError as exc:
        with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
            sso_signin.refuse(uow, settings, box, exc.reason, address=address)
        return _refused(request, exc.reason)
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        result = sso_signin.complete(
            uow, settings, box, pending, claims, address=address,
            user_agent=request.headers.get("user-agent", ""),
        )  # fmt: skip
    if result.reason is not None:
        return _refused(request, result.reason)
    if result.ask_code:
        return _code_page(request, browser)
    return _signed_in(request, result, interstitial=True)


@router.post(f"{SSO_PATH}/code", response_class=HTMLResponse, dependencies=[Public])
def sso_code(request: Request, otp: FormStr = "", csrf: FormStr = "") -> Response:
    """Invigil's own second factor after the provider's yes (see ``sso_signin``)."""
    db, services = request.app.state.db, request.app.state.services
    browser = request.cookies.get(SSO_COOKIE, "")[:200]
    tenant_id = split_secret(sso_signin.BROWSER, browser)
    if tenant_id is None or not sso_signin.code_csrf_ok(browser, csrf):
        return _refused(request, "state_other_browser")
    with db.unit_of_work(tenant_id, visitor(request, tenant_id)) as uow:
        result = sso_signin.check_code(
            uow, services.settings, services.box, browser, otp.strip()[:8],
            address=client_address(request), user_agent=request.headers.get("user-agent", ""),
        )  # fmt: skip
    if result.reason == "bad_otp":
        return _code_page(request, browser, status=401, error=reason_words("bad_otp"))
    if result.reason is not None:
        return _refused(request, result.reason)
    return _signed_in(request, result, interstitial=False)


# -- the settings page --------------------------------------------------------------------

SAVED = N_("Single sign-on settings saved.")


def _lines(text: str) -> list[str]:
    return [p.strip() for p in text.replace(",", "\n").splitlines() if p.strip()]


def _pairs(text: str) -> list[tuple[str, str]]:
    """``value = role`` per line (the last ``=`` splits: a group may contain one)."""
    pairs = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, sep, role = line.rpartition("=")
        if not sep:
            raise Invalid(
                f"write each mapping as 'claim value = role' ({line.strip()[:100]!r})",
                field="role_mappings",
            )
        pairs.append((value.strip(), role.strip()))
    return pairs


def _admins(ctx: PageContext) -> list[User]:
    """Active staff holding tenant_admin: who may be named break-glass."""
    return ctx.uow.scalars(
        select(User)
        .join(UserRole, (UserRole.tenant_id == User.tenant_id) & (UserRole.user_id == User.id))
        .join(Role, (Role.tenant_id == UserRole.tenant_id) & (Role.id == UserRole.role_id))
        .where(Role.name == "tenant_admin", User.status == "active")
        .order_by(User.email)
    )


def _settings_page(
    request: Request, ctx: PageContext, *, status: int = 200, **values: Any
) -> HTMLResponse:
    current = sso.view(sso.config_of(ctx.uow))
    values.setdefault("chosen", current)
    values.setdefault(
        "mappings_text", "\n".join(f"{m.value} = {m.role}" for m in current.role_mappings)
    )
    return _render(
        request,
        "sso.html",
        ctx,
        status=status,
        has_secret=current.has_client_secret,
        redirect_uri=sso_signin.callback_url(request.app.state.services.settings),
        roles=[r.name for r in ctx.uow.scalars(select(Role).order_by(Role.name))],
        admins=_admins(ctx),
        **values,
    )


@router.get("/admin/sso", response_class=HTMLResponse)
def sso_settings(request: Request, ctx: PageContext = requires_page(P.TENANT_MANAGE)) -> Response:
    return _settings_page(request, ctx)


@router.post("/admin/sso", response_class=HTMLResponse)
def sso_settings_save(
    request: Request,
    csrf: FormStr = "",
    enabled: FormStr = "",
    display_name: FormStr = "",
    issuer: FormStr = "",
    client_id: FormStr = "",
    client_secret: FormStr = "",
    allowed_domains: FormStr = "",
    role_claim: FormStr = "groups",
    role_mappings: FormStr = "",
    jit_enabled: FormStr = "",
    jit_role: FormStr = "",
    sso_required: FormStr = "",
    break_glass: Annotated[list[str] | None, Form()] = None,
    require_mfa: FormStr = "",
    mfa_acr_values: FormStr = "",
    ctx: PageContext = requires_page(P.TENANT_MANAGE),
) -> Response:
    check_csrf(ctx, csrf)
    services = request.app.state.services
    guards: list[uuid.UUID] = []
    for raw in (break_glass or [])[:20]:
        try:
            guards.append(uuid.UUID(raw))
        except ValueError:
            continue
    chosen = sso.View(
        configured=True, enabled=enabled == "on", display_name=display_name[:100],
        issuer=issuer[:2000], client_id=client_id[:500],
        allowed_domains=tuple(_lines(allowed_domains[:20000])), role_claim=role_claim[:100],
        jit_enabled=jit_enabled == "on", jit_role=jit_role[:64] or None,
        sso_required=sso_required == "on", break_glass=tuple(guards),
        require_mfa=require_mfa == "on", mfa_acr_values=tuple(_lines(mfa_acr_values[:5000])),
    )  # fmt: skip
    try:
        with _change(ctx.uow):
            sso.update(
                ctx.uow, services.settings, services.box,
                enabled=chosen.enabled, display_name=display_name[:200], issuer=issuer[:2100],
                client_id=client_id[:600],
                client_secret=client_secret[:1100] if client_secret.strip() else sso.KEEP,
                allowed_domains=list(chosen.allowed_domains), role_claim=chosen.role_claim,
                role_mappings=_pairs(role_mappings[:40000]), jit_enabled=chosen.jit_enabled,
                jit_role=chosen.jit_role, sso_required=chosen.sso_required,
                break_glass=guards, require_mfa=chosen.require_mfa,
                mfa_acr_values=list(chosen.mfa_acr_values),
            )  # fmt: skip
    except (Invalid, Conflict, Refused) as exc:
        field = str(exc.extensions.get("field") or "enabled")
        problems = [{"field": field, "message": exc.detail}]
        return _settings_page(
            request, ctx, status=exc.status, chosen=chosen, problems=problems,
            mappings_text=role_mappings[:40000],
        )  # fmt: skip
    words = i18n.gettext(i18n.locale_of({"request": request}), SAVED)
    return flash.redirect(request, "/admin/sso", words)
