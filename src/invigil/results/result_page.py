"""The candidate's result page: ``GET /result/{token}`` (public, no sign-in).

It shows the released result of one attempt, as much of it as the exam's
``result_feedback`` allows: the total and pass or fail (``score``), each
category (``categories``), and each question right or wrong with its
points (``questions``) — never the right answers. The page reads and never
writes (a mail scanner that prefetches the link changes nothing). Unknown,
expired, revoked and replaced tokens, a guest link's token and another
tenant's all answer one identical 404 page
(:mod:`invigil.results.result_link`). The page speaks the language the
candidate took the exam in, in the tenant's branding.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from invigil import i18n
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import language
from invigil.delivery.attempts import version_of
from invigil.delivery.landing import brand_context, no_store, see_my_data
from invigil.delivery.models import Attempt, AttemptResult, Invitation
from invigil.results import release, result_link
from invigil.results.models import ResultLink
from invigil.tenants import branding
from invigil.tenants.api import logo_response
from invigil.tenants.models import Tenant
from invigil.web.access import Public
from invigil.web.pages import templates

router = APIRouter(include_in_schema=False)

NEUTRAL_PAGE = "results/result_unavailable.html"


def _neutral(request: Request) -> Response:
    # No tenant is known (or shown): the browser's language among those Invigil speaks.
    request.state.locale = i18n.negotiate(
        enabled=i18n.AVAILABLE, accept_language=request.headers.get("accept-language")
    )
    return no_store(
        templates.TemplateResponse(request, NEUTRAL_PAGE, {"page": None}, status_code=404)
    )


def _open(request: Request, uow: UnitOfWork, token: str) -> ResultLink | None:
    tenant_id = result_link.tenant_of(token)
    return result_link.resolve(uow if tenant_id else None, request.app.state.services.links, token)


def verdict(question: dict[str, Any]) -> str:
    """right | partly | wrong | unanswered | ungraded, from the points alone."""
    if question.get("awarded") is None:
        return "ungraded"
    if not question.get("answered"):
        return "unanswered"
    awarded, top = Decimal(question["awarded"]), Decimal(question["max"])
    if top > 0 and awarded >= top:
        return "right"
    return "partly" if awarded > 0 else "wrong"


def shown(document: dict[str, Any], feedback: str) -> dict[str, Any]:
    """What of the result document the candidate sees at this feedback level."""
    out: dict[str, Any] = {
        "awarded": document["awarded"],
        "max": document["max"],
        "percent": document["percent"],
        "passed": document.get("passed"),
        "pass_mark_percent": document.get("pass_mark_percent"),
        "categories": None,
        "questions": None,
    }
    if feedback in ("categories", "questions"):
        out["categories"] = {
            name: {k: c[k] for k in ("awarded", "max", "percent", "passed")}
            for name, c in sorted(document.get("categories", {}).items())
        }
    if feedback == "questions":
        out["questions"] = [
            {
                "number": q["index"] + 1,
                "category": q["category"],
                "awarded": q.get("awarded"),
                "max": q["max"],
                "verdict": verdict(q),
            }
            for q in document.get("questions", [])
        ]
    return out


def _render(request: Request, uow: UnitOfWork, link: ResultLink, token: str) -> Response:
    attempt = uow.get(Attempt, link.attempt_id)
    invitation = uow.get(Invitation, attempt.invitation_id)
    latest = release.latest_release(uow, attempt.id)
    assert latest is not None  # a link is issued for a release
    result = uow.get(AttemptResult, latest.result_id)
    tenant = uow.get(Tenant, uow.tenant)
    locale = i18n.negotiate(
        enabled=language.enabled_of(uow),
        chosen=attempt.language,
        invitation=invitation.language,
        tenant_default=tenant.default_language,
        accept_language=request.headers.get("accept-language"),
    )
    request.state.locale = locale
    version = version_of(uow, attempt.exam_id, attempt.exam_version)
    title = language.exam_words(uow, version, attempt.language or locale).title
    feedback = release.feedback_of(dict(version.settings))
    base = f"/result/{token}"
    return no_store(
        templates.TemplateResponse(
            request,
            "results/result.html",
            {
                "page": None,
                "title": title,
                "result": shown(result.document, feedback),
                "feedback": feedback,
                "released_at": latest.released_at,
                "changed": latest.revision > 1 and len(release.releases_of(uow, attempt.id)) > 1,
                "expires_at": link.expires_at,
                **brand_context(uow, base),
                "see_my_data": see_my_data(uow),
            },
        )
    )


@router.get("/result/{token}", response_class=HTMLResponse, dependencies=[Public])
def result_page(request: Request, token: str) -> Response:
    db = request.app.state.db
    tenant_id = result_link.tenant_of(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "result-link")) as uow:
        link = _open(request, uow, token)
        if link is None:
            return _neutral(request)
        return _render(request, uow, link, token)


@router.get("/result/{token}/logo", dependencies=[Public])
def logo(request: Request, token: str) -> Response:
    """The tenant's logo for a live result link's page (else the neutral page)."""
    db = request.app.state.db
    tenant_id = result_link.tenant_of(token)
    with db.unit_of_work(tenant_id, Actor("anonymous", "result-link")) as uow:
        if _open(request, uow, token) is None:
            return _neutral(request)
        stored = branding.logo_of(uow)
    if stored is None:
        return _neutral(request)
    response = logo_response(stored)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
