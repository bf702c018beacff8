"""The candidate's language on the guest-link pages.

:func:`choose` asks :func:`invigil.i18n.negotiate` (the one place the order
is decided: the candidate's own choice for this link, the invitation's
language, the tenant's default, the browser's ``Accept-Language``) and puts
the answer on the request, where the templates read it.

The candidate's choice from the switcher is a cookie scoped to the link's
path (``/take/<token>``): it is remembered for that link only, and every
request checks it again against the tenant's languages, so a forged or
stale value just falls back.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request, Response

from invigil import i18n
from invigil.content import exam_text
from invigil.content.models import ExamVersion
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Invitation
from invigil.tenants import service as tenants
from invigil.tenants.models import Tenant

COOKIE = "invigil_lang"
COOKIE_DAYS = 30


@dataclass(frozen=True)
class Chosen:
    locale: str
    languages: tuple[str, ...]  # what the switcher offers (the tenant's, that Invigil speaks)


def enabled_of(uow: UnitOfWork | None) -> tuple[str, ...]:
    if uow is None or not uow.tenant_id:
        return (i18n.DEFAULT,)
    return tenants.languages_of(uow)[0]


def choose(request: Request, uow: UnitOfWork | None, invitation: Invitation | None) -> Chosen:
    """Decide the page's language and set ``request.state.locale`` (only
    for pages whose template is translated: ``<html lang>`` follows it)."""
    chosen = negotiated(request, uow, invitation)
    request.state.locale = chosen.locale
    return chosen


def negotiated(request: Request, uow: UnitOfWork | None, invitation: Invitation | None) -> Chosen:
    """The candidate's language, without changing the request."""
    tenant = uow.get(Tenant, uow.tenant_id) if uow is not None and uow.tenant_id else None
    languages = enabled_of(uow)
    locale = i18n.negotiate(
        enabled=languages,
        chosen=request.cookies.get(COOKIE),
        invitation=invitation.language if invitation is not None else None,
        tenant_default=tenant.default_language if tenant is not None else None,
        accept_language=request.headers.get("accept-language"),
    )
    return Chosen(locale, languages)


def of_invitation(uow: UnitOfWork, invitation: Invitation | None) -> str:
    """The language of what is sent for an invitation (its mail): the
    invitation's, else the tenant's default, among the tenant's languages."""
    tenant = uow.get(Tenant, uow.tenant_id) if uow.tenant_id else None
    return i18n.negotiate(
        enabled=enabled_of(uow),
        invitation=invitation.language if invitation is not None else None,
        tenant_default=tenant.default_language if tenant is not None else None,
    )


def exam_words(uow: UnitOfWork, version: ExamVersion, locale: str | None) -> exam_text.Words:
    """The exam's title, description and section titles for a candidate
    reading ``locale``: translated when the version froze them in it, else
    as written (in the language frozen with them, else the tenant's default)."""
    return exam_text.words(version, locale, of_invitation(uow, None))


def remember(request: Request, response: Response, token: str, code: str) -> None:
    """Keep the switcher's choice for this link (its path) only."""
    issuer = str(request.app.state.settings.issuer)
    response.set_cookie(
        COOKIE,
        code,
        path=f"/take/{token}",
        httponly=True,
        samesite="lax",
        secure=issuer.startswith("https://"),
        max_age=COOKIE_DAYS * 24 * 3600,
    )
