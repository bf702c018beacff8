"""Staff pages for evidence bundles (ADR 0041): ask for one from a subject's
page, watch it being built, download it.

- ``POST /bundles`` (form: kind, subject_id): queue a bundle, then its page;
- ``GET /bundles/{id}``: state and progress; the page asks
  ``GET /bundles/{id}/status`` (JSON) every two seconds while the bundle
  is queued or building and reloads itself when it is done (without
  script it offers a refresh link);
- ``POST /bundles/{id}/download``: a signed link for the viewer
  (``bundle.url_issued``), followed at once (303) to the file;
- ``POST /bundles/{id}/retry``: queue a failed bundle again.

Same service and permission (result:view) as the API; what a bundle
carries is the asker's evidence:view, said on the page before and after.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from invigil import i18n
from invigil.audit import bundle_registry
from invigil.audit import bundle_requests as bundles
from invigil.errors import NotFound
from invigil.i18n import N_
from invigil.security.permissions import Permission as P
from invigil.web import flash
from invigil.web.pages import render, templates
from invigil.web.session import PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)
# A subject's page offers the button only when this server builds its kind.
templates.env.globals["bundle_buildable"] = bundle_registry.buildable

STATE_LABELS = {
    "queued": N_("queued"),
    "building": N_("building"),
    "ready": N_("ready"),
    "failed": N_("failed"),
    "expired": N_("expired"),
    "purged": N_("destroyed (data purged)"),
}
KIND_LABELS = {
    "attempt": N_("attempt"),
    "shortlist": N_("shortlist run"),
    "certificate": N_("certificate"),
}
# Where the subject of each kind is shown (a page of the domain that owns it).
SUBJECT_PAGES = {
    "attempt": "/delivery/attempts/{id}",
    "shortlist": "/shortlists/{id}",
    "certificate": "/certification/certificates/{id}",
}
NOTICES = {
    "queued": N_("The bundle is queued. This page shows its progress."),
    "retried": N_("The bundle is queued again."),
}


def _id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"bundle {value} was not found") from None


def _say(request: Request, message: str) -> str:
    return i18n.gettext(i18n.locale_of({"request": request}), message)


@router.post("/bundles", response_class=HTMLResponse)
def ask(
    request: Request,
    csrf: str = Form("", max_length=100),
    kind: str = Form("", max_length=20),
    subject_id: str = Form("", max_length=40),
    ctx: PageContext = requires_page(P.RESULT_VIEW),
) -> Response:
    check_csrf(ctx, csrf)
    try:
        subject = uuid.UUID(subject_id)
    except ValueError:
        raise NotFound(f"{kind or 'subject'} {subject_id} was not found") from None
    row = bundles.request(ctx.uow, kind, subject, with_evidence=ctx.can(P.EVIDENCE_VIEW))
    return flash.redirect(request, f"/bundles/{row.id}", _say(request, NOTICES["queued"]))


@router.get("/bundles/{bundle_id}", response_class=HTMLResponse)
def bundle_page(
    request: Request, bundle_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)
) -> HTMLResponse:
    row = bundles.get(ctx.uow, _id(bundle_id))
    page = SUBJECT_PAGES.get(row.kind)
    values = {
        "page": ctx,
        "b": row,
        "state_labels": STATE_LABELS,
        "kind_labels": KIND_LABELS,
        "subject_page": page.format(id=row.subject_id) if page else None,
        "may_download": not row.with_evidence or ctx.can(P.EVIDENCE_VIEW),
        "others": bundles.of_subject(ctx.uow, row.kind, row.subject_id),
    }
    return render(request, "audit/bundle.html", values)


@router.get("/bundles/{bundle_id}/status")
def bundle_status(bundle_id: str, ctx: PageContext = requires_page(P.RESULT_VIEW)) -> JSONResponse:
    """What the page polls: small, no-store."""
    row = bundles.get(ctx.uow, _id(bundle_id))
    body = {"state": row.state, "done": row.done, "total": row.total}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/bundles/{bundle_id}/download")
def bundle_download(
    request: Request,
    bundle_id: str,
    csrf: str = Form("", max_length=100),
    ctx: PageContext = requires_page(P.RESULT_VIEW),
) -> Response:
    check_csrf(ctx, csrf)
    evidence = request.app.state.services.evidence
    _, signed = bundles.issue_link(ctx.uow, evidence, _id(bundle_id), ctx.permissions)
    return flash.redirect(request, signed.url)


@router.post("/bundles/{bundle_id}/retry")
def bundle_retry(
    request: Request,
    bundle_id: str,
    csrf: str = Form("", max_length=100),
    ctx: PageContext = requires_page(P.RESULT_VIEW),
) -> Response:
    check_csrf(ctx, csrf)
    row = bundles.retry(ctx.uow, _id(bundle_id))
    return flash.redirect(request, f"/bundles/{row.id}", _say(request, NOTICES["retried"]))
