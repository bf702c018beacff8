"""The candidate's landing page: ``GET /take/{token}``, and the two forms on
it: "Start exam" (``POST /take/{token}/start``) and "I do not agree"
(``POST /take/{token}/decline``).

The GET reads and never writes — no audit entry, no "opened" flag, no job —
so mail scanners that prefetch links consume nothing. Starting is a POST
that records the consent and binds the attempt to this browser.

See ``invigil.delivery.links`` for why unknown, revoked and replaced links
answer one identical page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from invigil import i18n
from invigil.content import consent, exam_text
from invigil.content.consent import Disclosure, Kept
from invigil.content.models import ExamVersion
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import attempts, keeping, language, links, results, voids
from invigil.delivery.links import LinkState, Resolved
from invigil.delivery.models import Attempt, AttemptResult, Invitation
from invigil.errors import DomainError, NotFound
from invigil.i18n import N_
from invigil.proctoring.policy import Policy
from invigil.tenants import branding
from invigil.tenants.api import logo_response
from invigil.tenants.models import Tenant
from invigil.web.access import Public
from invigil.web.pages import templates

router = APIRouter(include_in_schema=False)


NAVIGATION = {
    "free": N_("You can move between questions freely and come back to any of them."),
    "linear": N_("Questions come one after another: you cannot go back to an earlier question."),
}
RELEASE = {
    "immediately": N_("You see your result as soon as you submit."),
    "after_grading": N_("Your result is released once it is graded."),
    "after_review": N_("Your result is released after a review."),
    "manual": N_("The organiser releases your result to you."),
}
LANGUAGE_NOT_OFFERED = N_("This language is not offered for this exam; choose one from the list.")
CONSENT_MISSING = N_(
    "Tick \u201cI agree\u201d to consent before you start, or choose \u201cI do not agree\u201d."
)
CONSENT_CHANGED = N_(
    "The consent text changed since this page was opened (for example, its language was "
    "switched): read it again, then start."
)

# Why "Start exam" was refused, in words the page translates (the service's
# own message is English, for logs and programs).
START_REFUSED = {
    "consent-changed": CONSENT_CHANGED,
    "no-attempts-left": N_(
        "You have used every attempt this exam allows; your last one is submitted."
    ),
}
START_FAILED = N_("The exam could not be started. Reload the page and try again.")

NEUTRAL_PAGE = "delivery/take_unavailable.html"
NEUTRAL_DETAIL = (
    "this exam link does not work: it may have been replaced by a newer one, withdrawn, "
    "or copied incompletely; use the link in your most recent invitation email"
)


def no_store(response: Response) -> Response:
    """The token is in the URL: never cache the page, never send it on as a referrer."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["X-Frame-Options"] = "DENY"
    return response


def disclosure_of(
    version: ExamVersion, policy: Policy | None = None, kept: Kept | None = None
) -> Disclosure:
    """What ``policy`` captures, told in the words of ``version``'s preset;
    ``policy`` defaults to the version's effective policy (what an attempt
    of it freezes at start); ``kept``: the retention periods told."""
    return consent.disclosure_of(version.settings, policy, kept)


def retention_version(uow: UnitOfWork, attempt: Attempt | None) -> int | None:
    """The retention policy version the candidate is told: the one frozen
    with the attempt not yet submitted (a consent already given), else the
    one in force now (what a new attempt freezes)."""
    if attempt is not None and attempt.status != "submitted":
        return attempt.retention_version
    return keeping.version_in_force(uow)


def kept_of(uow: UnitOfWork, version: ExamVersion, retention: int | None) -> Kept | None:
    """The periods of retention policy ``retention`` for ``version``'s preset."""
    return keeping.kept(uow, retention, consent.preset_of(version.settings))


@dataclass(frozen=True)
class Shown:
    """The consent text a candidate is shown: its language and exact words."""

    language: str
    text: str

    @property
    def sha256(self) -> str:
        return attempts.text_sha256(self.text)


def consent_texts(version: ExamVersion) -> dict[str, str]:
    """``version``'s consent text by language: as frozen at publish, one per
    language the tenant enabled then. A version published before consent
    was frozen per language has its English text, generated as it always was."""
    if version.consent_texts:
        return dict(version.consent_texts)
    return {i18n.DEFAULT: consent.text(version.consent_text, version.settings, i18n.DEFAULT)}


def consent_of(version: ExamVersion, locale: str, kept: Kept | None = None) -> Shown:
    """The consent text for a candidate reading ``locale``; a language the
    tenant enabled after publishing has none frozen, and gets the English
    text (else the first frozen one), marked with its language. ``kept``:
    the retention periods it states (None: as frozen at publish)."""
    texts = consent_texts(version)
    for code in (locale, i18n.DEFAULT, *sorted(texts)):
        if code in texts:
            words = texts[code] if kept is None else consent.restate(texts[code], code, kept)
            return Shown(code, words)
    raise AssertionError("a frozen consent has at least one language")  # pragma: no cover


def consent_text(version: ExamVersion, locale: str = i18n.DEFAULT, kept: Kept | None = None) -> str:
    """The exact text a candidate reading ``locale`` agrees to (recorded with its hash)."""
    return consent_of(version, locale, kept).text


def shown_to(
    uow: UnitOfWork, version: ExamVersion, locale: str, attempt: Attempt | None = None
) -> tuple[Shown, int | None]:
    """The consent text a candidate reading ``locale`` is shown, with the
    retention policy version whose periods it states (see
    :func:`retention_version`)."""
    retention = retention_version(uow, attempt)
    return consent_of(version, locale, kept_of(uow, version, retention)), retention


def _facts(
    uow: UnitOfWork,
    version: ExamVersion,
    invitation: Invitation,
    locale: str,
    words: exam_text.Words,
    attempt: Attempt | None,
) -> dict[str, Any]:
    settings = version.settings
    minutes = settings.get("time_limit_minutes")
    extra = invitation.extra_time_percent
    total = None
    if minutes:
        total = minutes + (minutes * extra + 99) // 100
    retention = retention_version(uow, attempt)
    kept = kept_of(uow, version, retention)
    shown = consent_of(version, locale, kept)
    return {
        "title": words.title,
        "description": words.description,
        "minutes": minutes,
        "total_minutes": total,
        "extra": extra,
        "navigation": NAVIGATION.get(str(settings.get("navigation", "free")), ""),
        "attempts": settings.get("attempts_allowed", 1),
        "release": RELEASE.get(str(settings.get("results_release", "after_review")), ""),
        "disclosure": disclosure_of(version, kept=kept),
        "opens_at": invitation.opens_at,
        "closes_at": invitation.closes_at,
        "consent_text": shown.text,
        "consent_sha256": shown.sha256,
        "consent_language": shown.language,
    }


def brand_context(uow: UnitOfWork, base: str) -> dict[str, Any]:
    """What a candidate's page shows of the tenant (base.html reads it)."""
    brand = branding.brand_of(uow)
    logo = f"{base}/logo?v={brand.logo_sha256[:16]}" if brand.logo_sha256 else None
    return {"brand": brand, "brand_logo": logo}


def see_my_data(uow: UnitOfWork) -> str | None:
    """The tenant's "See my data" page: where a candidate asks for a link to
    their portal (:mod:`invigil.retention.portal_pages`; only its address here)."""
    tenant = uow.session.get(Tenant, uow.tenant)
    return f"/portal/{tenant.slug}" if tenant is not None else None


@dataclass(frozen=True)
class History:
    """What the candidate has done with this invitation so far."""

    used: int  # attempts started (each counts against the allowance)
    allowed: int
    best: AttemptResult | None  # the best released earlier result, if results are shown

    @property
    def left(self) -> int:
        return max(self.allowed - self.used, 0)


def history_of(uow: UnitOfWork, invitation: Invitation, version: ExamVersion) -> History:
    allowed = int(version.settings.get("attempts_allowed", 1) or 1)
    used = attempts.counted(uow, invitation.id)  # a voided attempt is not used up
    best: AttemptResult | None = None
    if version.settings.get("results_release") == "immediately":
        submitted = uow.scalars(
            select(Attempt.id).where(
                Attempt.invitation_id == invitation.id,
                Attempt.status == "submitted",
                voids.not_voided(),
            )
        )
        for attempt_id in submitted:
            found = results.latest_result(uow, attempt_id)
            if found is not None and (best is None or found.awarded > best.awarded):
                best = found
    return History(used, allowed, best)


def _open(uow: UnitOfWork | None, request: Request, token: str) -> Resolved:
    return links.resolve(uow, request.app.state.services.links, token)


def _tenant(token: str) -> Any:
    return links.tenant_of(token)


def _neutral(request: Request) -> Response:
    # No tenant is known (or shown): the browser's language among those Invigil speaks.
    request.state.locale = i18n.negotiate(
        enabled=i18n.AVAILABLE, accept_language=request.headers.get("accept-language")
    )
    return no_store(
        templates.TemplateResponse(request, NEUTRAL_PAGE, {"page": None}, status_code=404)
    )


def attempt_state(request: Request, attempt: Attempt | None, allowed: int, used: int) -> str:
    """none | mine | elsewhere | released | submitted | used_up (for the page);
    ``used``: the attempts that count (voided ones do not)."""
    if attempt is None:
        return "none"
    if attempt.status == "submitted":
        return "used_up" if used >= allowed else "submitted"
    cookie = request.cookies.get(attempts.cookie_name(attempt.invitation_id))
    if attempt.binding_hash is None:
        return "released"
    key = request.app.state.services.links
    return "mine" if attempts.is_bound_to(key, attempt, cookie) else "elsewhere"


def _render(
    request: Request,
    uow: UnitOfWork,
    found: Resolved,
    *,
    error: str | None = None,
    language_error: str | None = None,
    status: int | None = None,
) -> Response:
    """The landing page. ``error`` and ``language_error`` are shown in the
    candidate's language when the catalog has them (a service's message may not)."""
    invitation = found.invitation
    assert invitation is not None
    chosen = language.choose(request, uow, invitation)
    if error:
        error = i18n.gettext(chosen.locale, error)
    if language_error:
        language_error = i18n.gettext(chosen.locale, language_error)
    version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
    words = language.exam_words(uow, version, chosen.locale)
    current = attempts.latest(uow, invitation.id)
    facts = _facts(uow, version, invitation, chosen.locale, words, current)
    used = attempts.counted(uow, invitation.id) if current is not None else 0
    mine = attempt_state(request, current, int(facts["attempts"]), used)
    code = {LinkState.VALID: 200, LinkState.NOT_YET_OPEN: 200, LinkState.EXPIRED: 410}
    if status is None:
        status = 409 if mine == "elsewhere" else code[found.state]
    base = f"/take/{request.path_params['token']}"
    # An attempt already running stays reachable after the window closes.
    running = current is not None and current.status == "in_progress"
    return no_store(
        templates.TemplateResponse(
            request,
            "delivery/take.html",
            {
                "page": None,
                "state": found.state.value,
                "attempt": mine,
                "running": running,
                "base": base,
                "error": error,
                "language_error": language_error,
                "history": history_of(uow, invitation, version),
                "languages": chosen.languages,
                **facts,
                **brand_context(uow, base),
                "see_my_data": see_my_data(uow),
            },
            status_code=status,
        )
    )


@router.get("/take/{token}", response_class=HTMLResponse, dependencies=[Public])
def landing(request: Request, token: str) -> Response:
    db = request.app.state.db
    tenant_id = _tenant(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = _open(uow if tenant_id else None, request, token)
        if found.neutral or found.invitation is None:
            return _neutral(request)
        return _render(request, uow, found)


def _browser(request: Request, invitation: Invitation) -> attempts.Browser:
    return attempts.Browser(
        cookie=request.cookies.get(attempts.cookie_name(invitation.id)),
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


def set_binding(request: Request, response: Response, invitation: Invitation, secret: str) -> None:
    issuer = str(request.app.state.settings.issuer)
    response.set_cookie(
        attempts.cookie_name(invitation.id),
        secret,
        path="/take",
        httponly=True,
        samesite="strict",
        secure=issuer.startswith("https://"),
        max_age=14 * 24 * 3600,
    )


@router.post("/take/{token}/start", dependencies=[Public])
def start(
    request: Request,
    token: str,
    consent: str = Form(""),
    consent_sha256: str = Form(""),
    consent_language: str = Form(""),
) -> Response:
    db, services = request.app.state.db, request.app.state.services
    tenant_id = _tenant(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = _open(uow if tenant_id else None, request, token)
        if found.neutral or found.invitation is None:
            return _neutral(request)
        invitation = found.invitation
        current = attempts.latest(uow, invitation.id)
        resuming = current is not None and current.status == "in_progress"
        if found.state != LinkState.VALID and not resuming:
            return _render(request, uow, found)
        version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
        fresh = current is None or current.status == "submitted"
        if fresh and consent != "yes":
            return _render(
                request,
                uow,
                found,
                error=CONSENT_MISSING,
                status=400,
            )
        # The text in the language the page is in now (what it would show):
        # the page sent back the language and hash of what it did show.
        locale = language.negotiated(request, uow, invitation).locale
        shown, retention = shown_to(uow, version, locale, current)
        uow.actor = Actor("candidate", str(invitation.candidate_id))
        try:
            started = attempts.start(
                uow,
                services.links,
                invitation,
                version,
                consent_text=shown.text,
                consent_language=shown.language,
                shown_sha256=consent_sha256 if fresh else shown.sha256,
                shown_language=(i18n.normalise(consent_language[:35]) or "")
                if fresh
                else shown.language,
                browser=_browser(request, invitation),
                retention_version=retention,
            )
        except attempts.Elsewhere:
            return _render(request, uow, found, status=409)
        except DomainError as exc:
            error = START_REFUSED.get(exc.slug, START_FAILED)
            return _render(request, uow, found, error=error, status=409)
    response = RedirectResponse(f"/take/{token}/exam", status_code=303)
    if started.secret is not None:
        set_binding(request, response, invitation, started.secret)
    return no_store(response)


@router.post("/take/{token}/decline", response_class=HTMLResponse, dependencies=[Public])
def decline(request: Request, token: str, consent_language: str = Form("")) -> Response:
    db = request.app.state.db
    tenant_id = _tenant(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = _open(uow if tenant_id else None, request, token)
        if found.neutral or found.invitation is None:
            return _neutral(request)
        invitation = found.invitation
        current = attempts.latest(uow, invitation.id)
        if found.state != LinkState.VALID or (current and current.status != "submitted"):
            return _render(request, uow, found)  # nothing to decline here
        version = attempts.version_of(uow, invitation.exam_id, invitation.exam_version)
        uow.actor = Actor("candidate", str(invitation.candidate_id))
        browser = _browser(request, invitation)
        chosen = language.choose(request, uow, invitation)
        # What the page showed (its language, when the version has a text in
        # it), else what it shows now: a decline is recorded, never refused.
        posted = i18n.normalise(consent_language[:35]) or chosen.locale
        declined, _retention = shown_to(
            uow, version, posted if posted in consent_texts(version) else chosen.locale
        )
        attempts.record_decline(uow, invitation, version, declined.text, declined.language, browser)
        title = language.exam_words(uow, version, chosen.locale).title
        shown = brand_context(uow, f"/take/{token}")
    return no_store(
        templates.TemplateResponse(
            request,
            "delivery/declined.html",
            {"page": None, "title": title, "base": f"/take/{token}", **shown},
        )
    )


@router.post("/take/{token}/language", dependencies=[Public])
def choose_language(
    request: Request, token: str, language_code: str = Form("", alias="language")
) -> Response:
    """The language switcher: remembered for this link, if the tenant offers it."""
    db = request.app.state.db
    tenant_id = _tenant(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = _open(uow if tenant_id else None, request, token)
        if found.neutral or found.invitation is None:
            return _neutral(request)
        code = i18n.normalise(language_code[:35])
        if code is None or code not in language.enabled_of(uow):
            return _render(request, uow, found, language_error=LANGUAGE_NOT_OFFERED, status=422)
    response = RedirectResponse(f"/take/{token}", status_code=303)
    language.remember(request, response, token, code)
    return no_store(response)


@router.get("/take/{token}/logo", dependencies=[Public])
def logo(request: Request, token: str) -> Response:
    """The tenant's logo for the pages of a link that is not dead (a dead or
    unknown link answers the neutral page, as every candidate route does)."""
    db = request.app.state.db
    tenant_id = _tenant(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
        found = _open(uow if tenant_id else None, request, token)
        if found.neutral or found.invitation is None:
            return _neutral(request)
        stored = branding.logo_of(uow)
    if stored is None:
        return _neutral(request)
    response = logo_response(stored)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


class NeutralLink(NotFound):
    """A dead or unknown link: the same answer, whichever it is."""

    page = NEUTRAL_PAGE


def neutral_error() -> NotFound:
    return NeutralLink(NEUTRAL_DETAIL)


class BackToLanding(DomainError):
    """A candidate page opened without this browser's binding: the landing
    page explains (not started yet, in progress elsewhere, released)."""

    status = 303
    slug = "see-landing"

    def __init__(self, token: str) -> None:
        super().__init__("continue from the exam's page")
        self.token = token

    def headers(self) -> dict[str, str]:
        return {"Location": f"/take/{self.token}"}
