"""The candidate portal's pages (ADR 0059, docs/candidate-portal.md).

Public, no sign-in:

- ``GET/POST /portal/{slug}``: "See my data": the candidate gives their
  e-mail address; the answer is always the same ("if we know this
  address, we sent a link"), rate limited per client address.
- ``GET /my/{token}``: their attempts; ``GET /my/{token}/attempts/{id}``:
  one attempt (the result as released, the events, the flags with their
  evidence, the decisions, the contest forms); ``POST
  /my/{token}/attempts/{id}/contest``: a contest; ``GET
  /my/{token}/evidence/{object}``: one snapshot, screen segment or
  attachment of theirs (audited ``portal.evidence_viewed``).

Every GET but the evidence reads and writes nothing (a mail scanner that
prefetches the link changes nothing). Unknown, expired, revoked and
replaced tokens, another kind of link's token and another tenant's all
answer one identical 404 page; so does an attempt or an object that is not
the candidate's.

Staff: ``GET /candidates/{id}/portal-link`` (the candidate's portal links)
and ``POST /candidates/{id}/portal-link/revoke``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from invigil import audit, i18n
from invigil.db import platform
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import language
from invigil.delivery.landing import brand_context, no_store
from invigil.delivery.models import Candidate
from invigil.errors import Conflict, Gone, Invalid, NotFound
from invigil.evidence import service as evidence_service
from invigil.evidence.api import guarded
from invigil.evidence.kinds import KINDS, TooLarge, UnsupportedMediaType
from invigil.i18n import N_
from invigil.identity.pages.common import FormStr, _change, _parse_id
from invigil.proctoring import contests
from invigil.retention import portal, portal_links
from invigil.retention.models import PortalLink
from invigil.security.permissions import Permission as P
from invigil.tenants import branding
from invigil.tenants.api import logo_response
from invigil.tenants.models import Tenant
from invigil.web import flash
from invigil.web.access import Public
from invigil.web.pages import render, templates
from invigil.web.public_limits import PublicLimited
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)

NEUTRAL_PAGE = "retention/portal_unavailable.html"
ACTOR = "portal-link"
MAX_SLUG = 40
ATTACHMENT_BYTES = KINDS[contests.ATTACHMENT].max_size
EMAIL_MISSING = N_("Enter the e-mail address the organiser wrote to you at.")
# What refused a contest, in words the page translates (the service's own
# message is English, for logs and programs).
CONTEST_REFUSED = {
    "empty": N_("Write your explanation."),
    "long": N_("Your explanation is too long: write at most 4,000 characters."),
    "closed": N_("The time to contest has ended: nothing was sent."),
    "twice": N_("You have already sent an explanation for this. It is written once."),
    "nothing": N_("Nothing was flagged on this attempt: there is nothing to contest."),
    "large": N_("The attachment is too large: it may be at most 5 MB."),
    "type": N_("The attachment must be a JPEG or PNG picture or a PDF document."),
}
NOTICE_SENT = N_("Your explanation was recorded. A reviewer will read it before deciding.")
NO_LIVE_LINK = N_("This candidate has no live portal link: there is nothing to revoke.")
REVOKED = N_("The candidate's portal link was revoked: it no longer opens anything.")


# --- the request form ----------------------------------------------------------


def _tenant_by_slug(request: Request, slug: str) -> uuid.UUID | None:
    slug = slug.strip().lower()[:MAX_SLUG]
    ref = platform.tenant_by_slug(request.app.state.db, slug) if slug else None
    return ref.id if ref is not None else None


def _locale(request: Request, uow: UnitOfWork | None, chosen: str | None = None) -> str:
    enabled = language.enabled_of(uow)
    tenant = uow.get(Tenant, uow.tenant) if uow is not None and uow.tenant_id else None
    locale = i18n.negotiate(
        enabled=enabled if uow is not None and uow.tenant_id else i18n.AVAILABLE,
        chosen=request.query_params.get("lang") or chosen,
        tenant_default=tenant.default_language if tenant is not None else None,
        accept_language=request.headers.get("accept-language"),
    )
    request.state.locale = locale
    return locale


def _request_page(
    request: Request,
    uow: UnitOfWork | None,
    slug: str,
    *,
    sent: bool = False,
    email: str = "",
    problems: list[dict[str, str]] | None = None,
    status: int = 200,
) -> Response:
    _locale(request, uow)
    known = uow is not None and uow.tenant_id is not None
    values: dict[str, Any] = {
        "page": None,
        "slug": slug[:MAX_SLUG],
        "sent": sent,
        "email": email[: portal_links.MAX_EMAIL],
        "problems": problems or [],
        "form_anchor": "f-email",
        "brand": branding.brand_of(uow) if known and uow is not None else None,
        "brand_logo": None,
    }
    response = templates.TemplateResponse(
        request, "retention/portal_request.html", values, status_code=status
    )
    return no_store(response)


@router.get("/portal/{slug}", response_class=HTMLResponse, dependencies=[PublicLimited])
def request_form(request: Request, slug: str) -> Response:
    """The form; an unknown organisation shows the same form, unbranded."""
    tenant_id = _tenant_by_slug(request, slug)
    with request.app.state.db.unit_of_work(tenant_id, Actor("anonymous", ACTOR)) as uow:
        return _request_page(request, uow if tenant_id else None, slug)


@router.post("/portal/{slug}", response_class=HTMLResponse, dependencies=[PublicLimited])
def request_link(request: Request, slug: str, email: FormStr = "") -> Response:
    """Always the same answer once an address is given (no account enumeration)."""
    tenant_id = _tenant_by_slug(request, slug)
    address = email.strip()[: portal_links.MAX_EMAIL]
    with request.app.state.db.unit_of_work(tenant_id, Actor("anonymous", ACTOR)) as uow:
        bound = uow if tenant_id else None
        if not address or "@" not in address:
            problems = [{"field": "email", "message": EMAIL_MISSING}]
            return _request_page(request, bound, slug, email=address, problems=problems, status=422)
        if bound is not None:  # the same work for every address: a job decides
            portal_links.ask(bound, request.app.state.services.box, address)
        return _request_page(request, bound, slug, sent=True)


# --- the portal ----------------------------------------------------------------


def _neutral(request: Request) -> Response:
    # No tenant is known (or shown): the browser's language among those Invigil speaks.
    request.state.locale = i18n.negotiate(
        enabled=i18n.AVAILABLE, accept_language=request.headers.get("accept-language")
    )
    return no_store(
        templates.TemplateResponse(request, NEUTRAL_PAGE, {"page": None}, status_code=404)
    )


def _open(request: Request, uow: UnitOfWork, token: str) -> PortalLink | None:
    tenant_id = portal_links.tenant_of(token)
    return portal_links.resolve(uow if tenant_id else None, request.app.state.services.links, token)


def _base(token: str) -> str:
    return f"/my/{token}"


def _candidate_locale(request: Request, uow: UnitOfWork, candidate: Candidate) -> str:
    return _locale(request, uow, portal_links.mail_language(uow, candidate))


def _common(uow: UnitOfWork, link: PortalLink, token: str) -> dict[str, Any]:
    return {
        "page": None,
        "base": _base(token),
        "expires_at": link.expires_at,
        "action_words": portal.ACTION_WORDS,
        "decision_words": portal.DECISION_WORDS,
        "now": datetime.now(UTC),
        **brand_context(uow, _base(token)),
    }


@router.get("/my/{token}", response_class=HTMLResponse, dependencies=[Public])
def home(request: Request, token: str) -> Response:
    db = request.app.state.db
    with db.unit_of_work(portal_links.tenant_of(token), Actor("anonymous", ACTOR)) as uow:
        link = _open(request, uow, token)
        if link is None:
            return _neutral(request)
        candidate = uow.get(Candidate, link.candidate_id)
        locale = _candidate_locale(request, uow, candidate)
        rows = portal.overview(uow, candidate.id, locale)
        values = {"rows": rows, "candidate_name": candidate.name, **_common(uow, link, token)}
        return no_store(templates.TemplateResponse(request, "retention/portal.html", values))


def _attempt_page(
    request: Request,
    uow: UnitOfWork,
    link: PortalLink,
    token: str,
    attempt_id: uuid.UUID,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    candidate = uow.get(Candidate, link.candidate_id)
    locale = _candidate_locale(request, uow, candidate)
    view = portal.detail(uow, candidate.id, attempt_id, locale)
    words = {e.seq: portal.event_words(e, locale) for e in view.events}
    values.setdefault("form", {})
    values.setdefault("problems", [])
    context = {
        "v": view,
        "event_words": words,
        "sent": request.query_params.get("sent") == "1",
        "max_text": contests.MAX_TEXT,
        **_common(uow, link, token),
        **values,
    }
    return no_store(
        templates.TemplateResponse(
            request, "retention/portal_attempt.html", context, status_code=status
        )
    )


@router.get("/my/{token}/attempts/{attempt_id}", response_class=HTMLResponse, dependencies=[Public])
def attempt_page(request: Request, token: str, attempt_id: str) -> Response:
    db = request.app.state.db
    with db.unit_of_work(portal_links.tenant_of(token), Actor("anonymous", ACTOR)) as uow:
        link = _open(request, uow, token)
        if link is None:
            return _neutral(request)
        try:
            aid = uuid.UUID(attempt_id[:64])
            return _attempt_page(request, uow, link, token, aid)
        except (ValueError, NotFound):
            return _neutral(request)


def _read_attachment(attachment: UploadFile | None) -> bytes | None:
    if attachment is None or not attachment.filename:
        return None
    data = attachment.file.read(ATTACHMENT_BYTES + 1)
    if len(data) > ATTACHMENT_BYTES:
        raise TooLarge("the attachment is too large", reason="large")
    return data or None


def _refusal(exc: Exception) -> tuple[str, str]:
    """(field, message) for a refused contest."""
    if isinstance(exc, TooLarge):
        return "attachment", CONTEST_REFUSED["large"]
    if isinstance(exc, UnsupportedMediaType):
        return "attachment", CONTEST_REFUSED["type"]
    reason = str(getattr(exc, "extensions", {}).get("reason", ""))
    return "text", CONTEST_REFUSED.get(reason, CONTEST_REFUSED["closed"])


@router.post(
    "/my/{token}/attempts/{attempt_id}/contest",
    response_class=HTMLResponse,
    dependencies=[PublicLimited],
)
def contest(
    request: Request,
    token: str,
    attempt_id: str,
    text: FormStr = "",
    target: FormStr = "",
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The candidate's contest on one flag (``target`` = its id) or on the
    outcome (``target`` = ``outcome``)."""
    db, services = request.app.state.db, request.app.state.services
    with db.unit_of_work(portal_links.tenant_of(token), Actor("anonymous", ACTOR)) as uow:
        link = _open(request, uow, token)
        if link is None:
            return _neutral(request)
        try:
            aid = uuid.UUID(attempt_id[:64])
            attempt = portal.attempt_of(uow, link.candidate_id, aid)
            flag_id = None if target == "outcome" else uuid.UUID(target[:64])
        except (ValueError, NotFound):
            return _neutral(request)
        candidate = uow.get(Candidate, link.candidate_id)
        locale = _candidate_locale(request, uow, candidate)
        uow.actor = Actor("candidate", str(candidate.id))
        try:
            with _change(uow):
                data = _read_attachment(attachment)
                row = contests.submit(
                    uow, services.evidence, attempt.id, flag_id=flag_id, text=text,
                    language=locale, attachment=data,
                )  # fmt: skip
        except NotFound:
            return _neutral(request)
        except (Invalid, Conflict, TooLarge, UnsupportedMediaType) as exc:
            field, message = _refusal(exc)
            key = target if flag_id is None else str(flag_id)
            return _attempt_page(
                request, uow, link, token, aid,
                status=getattr(exc, "status", 422),
                form={"target": key, "text": text[: contests.MAX_TEXT * 2]},
                problems=[{"field": field, "message": message}],
                field_ids={field: f"{field}-{key}"},
            )  # fmt: skip
    anchor = f"flag-{row.action_id}" if row.action_id else "outcome"
    return RedirectResponse(
        f"{_base(token)}/attempts/{aid}?sent=1#{anchor}",
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get("/my/{token}/evidence/{object_id}", dependencies=[Public])
def evidence(request: Request, token: str, object_id: str) -> Response:
    """One object of the candidate's, checked through their attempts; audited."""
    db, services = request.app.state.db, request.app.state.services
    with db.unit_of_work(portal_links.tenant_of(token), Actor("anonymous", ACTOR)) as uow:
        link = _open(request, uow, token)
        if link is None:
            return _neutral(request)
        try:
            oid = uuid.UUID(object_id[:64])
            obj, attempt_id = portal.evidence_of(uow, link.candidate_id, oid)
            _, stream = evidence_service.open_object(uow, services.evidence, oid)
        except (ValueError, NotFound, Gone):
            return _neutral(request)
        uow.actor = Actor("candidate", str(link.candidate_id))
        audit.record(
            uow,
            "portal.evidence_viewed",
            obj,
            {"attempt_id": attempt_id, "portal_link_id": link.id, "kind": obj.kind},
        )
        content_type, size = obj.content_type, obj.plaintext_size
    extension = {"image/png": "png", "video/webm": "webm", "application/pdf": "pdf"}.get(
        content_type, "jpg"
    )
    return StreamingResponse(
        guarded(stream),
        media_type=content_type,
        headers={
            "Content-Length": str(size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Content-Disposition": f'inline; filename="{oid}.{extension}"',
        },
    )


@router.get("/my/{token}/logo", dependencies=[Public])
def logo(request: Request, token: str) -> Response:
    """The tenant's logo for a live portal link's pages (else the neutral page)."""
    db = request.app.state.db
    with db.unit_of_work(portal_links.tenant_of(token), Actor("anonymous", ACTOR)) as uow:
        if _open(request, uow, token) is None:
            return _neutral(request)
        stored = branding.logo_of(uow)
    if stored is None:
        return _neutral(request)
    response = logo_response(stored)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# --- staff -----------------------------------------------------------------------


def _staff_page(
    request: Request,
    ctx: PageContext,
    candidate_id: uuid.UUID,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    candidate = ctx.uow.get(Candidate, candidate_id, label="candidate")
    links = portal_links.links_of(ctx.uow, candidate.id)
    now = datetime.now(UTC)
    states = {link.id: portal_links.state_of(link, now) for link in links}
    return render(
        request,
        "retention/staff_portal_links.html",
        {
            "page": ctx,
            "candidate": candidate,
            "links": links,
            "states": states,
            "live": any(s == "live" for s in states.values()),
            "error": error,
            "form_anchor": "revoke",
        },
        status=status,
    )


@router.get("/candidates/{candidate_id}/portal-link", response_class=HTMLResponse)
def portal_links_page(
    request: Request, candidate_id: str, ctx: PageContext = requires_page(P.PRIVACY_REQUEST)
) -> HTMLResponse:
    return _staff_page(request, ctx, _parse_id(candidate_id, "candidate"))


@router.post("/candidates/{candidate_id}/portal-link/revoke", response_class=HTMLResponse)
def revoke(
    request: Request,
    candidate_id: str,
    csrf: FormStr = "",
    ctx: PageContext = requires_page(P.PRIVACY_REQUEST),
) -> Response:
    check_csrf(ctx, csrf)
    cid = _parse_id(candidate_id, "candidate")
    ctx.uow.get(Candidate, cid, label="candidate")  # 404 first, as for a missing id
    try:
        with _change(ctx.uow):
            portal_links.revoke(ctx.uow, cid)
    except Conflict as exc:
        return _staff_page(request, ctx, cid, status=exc.status, error=NO_LIVE_LINK)
    message = i18n.gettext(i18n.locale_of({"request": request}), REVOKED)
    return flash.redirect(request, f"/candidates/{cid}/portal-link", message)
