"""The public side of the credentials: no sign-in, read by wallets and verifiers.

- ``GET /credentials/{certificate_id}``: the certificate's Open Badges 3.0
  credential as a VC-JWT (``application/jwt``); ``?format=json`` (or an
  ``Accept`` that asks for JSON and not a JWT) gives the credential JSON as
  a download. A holder erased (ADR 0064): 410, pointing at the
  verification page, which still gives the status.
- ``GET /issuers/{tenant_id}``: the issuer ``Profile``;
  ``/issuers/{tenant_id}/jwks.json`` every key it signs or signed with;
  ``/issuers/{tenant_id}/keys/{key_id}`` one key (the JWT's ``kid``);
  ``/issuers/{tenant_id}/logo`` its logo (the profile's image).
- ``GET /status/{tenant_id}/{purpose}/{list}``: a signed Bitstring Status
  List credential, at most 30 s old.

A certificate's tenant is found through the one reviewed cross-tenant lookup
(``db.platform.certificate_tenant``); an issuer is known only once it has
issued a certificate. Every unknown id — a random one, another tenant's, a
list past the last — answers the same 404 problem. The handlers stay thin:
the rate limit for public routes wraps them at the app (docs/adr/0043).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from invigil.certification import credentials, issuer_keys, status_lists
from invigil.certification.models import Certificate, IssuerKey
from invigil.db import platform
from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery.models import Candidate
from invigil.errors import PROBLEM_MEDIA_TYPE, NotFound, problem
from invigil.tenants import branding
from invigil.tenants.api import logo_response
from invigil.web.public_limits import PublicLimited

router = APIRouter(include_in_schema=False)

ACTOR = Actor("anonymous", "credentials")
MISSING = "no such credential, issuer or list"
# Lists a tenant can have: status_index is a 32-bit integer.
MAX_LIST = (2**31 - 1) // status_lists.SIZE
OPEN = {
    # Wallets and verifiers in browsers fetch these: readable from any origin,
    # and never a document.
    "Access-Control-Allow-Origin": "*",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def missing(request: Request) -> Response:
    """The one answer for anything unknown (never says which part): a
    problem for programs; a person's browser (asking for HTML) gets the
    app's error page, as on every other address outside the API."""
    if "text/html" in request.headers.get("accept", ""):
        raise NotFound(MISSING)
    body = problem(404, "not-found", MISSING, request.url.path)
    headers = {**OPEN, "Cache-Control": "no-store"}
    return JSONResponse(body, status_code=404, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


ERASED = (
    "the holder of this credential has been erased: it is no longer served; "
    "its status stays in the issuer's status list and on the verification page"
)


def erased(request: Request, certificate_id: uuid.UUID) -> Response:
    """410 for the credential of an erased holder (it would name them by a
    hash of an address that is no longer theirs); copies already handed out
    still verify against the issuer's keys and status list."""
    body = problem(410, "gone", ERASED, request.url.path, verify=f"/verify/{certificate_id}")
    headers = {**OPEN, "Cache-Control": "no-store"}
    return JSONResponse(body, status_code=410, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _json(document: Any, *, max_age: int, media_type: str = "application/json",
          filename: str | None = None) -> Response:  # fmt: skip
    headers = {**OPEN, "Cache-Control": f"public, max-age={max_age}"}
    if filename is not None:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(orjson.dumps(document, option=orjson.OPT_INDENT_2), media_type=media_type,
                    headers=headers)  # fmt: skip


def _wants_json(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "json"
    accept = request.headers.get("accept", "").lower()
    return "json" in accept and "jwt" not in accept


def _known_issuer(uow: UnitOfWork) -> bool:
    """A tenant is an issuer once it has a certificate (under RLS: an
    unknown tenant id sees none)."""
    return status_lists.exists(uow, 0)


@router.get("/credentials/{certificate_id}", dependencies=[PublicLimited])
def credential(
    request: Request,
    certificate_id: uuid.UUID,
    format: Annotated[Literal["jwt", "json"] | None, Query()] = None,
) -> Response:
    services = request.app.state.services
    tenant_id = platform.certificate_tenant(request.app.state.db, certificate_id)
    if tenant_id is None:
        return missing(request)
    now = datetime.now(UTC)
    with request.app.state.db.unit_of_work(tenant_id, ACTOR) as uow:
        cert = uow.session.get(Certificate, (tenant_id, certificate_id))
        if cert is None:
            return missing(request)
        holder = uow.session.get(Candidate, (tenant_id, cert.holder_id))
        if holder is None or holder.erased_at is not None:
            return erased(request, certificate_id)
        if _wants_json(request, format):
            document = credentials.credential(uow, services.box, services.settings, cert)
            return _json(document, max_age=300, media_type="application/ld+json",
                         filename=f"{cert.number}.credential.json")  # fmt: skip
        token = credentials.signed(uow, services.box, services.settings, cert, now=now)
    return Response(token, media_type=credentials.MEDIA_TYPE,
                    headers={**OPEN, "Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/issuers/{tenant_id}", dependencies=[PublicLimited])
def issuer(request: Request, tenant_id: uuid.UUID) -> Response:
    services = request.app.state.services
    with request.app.state.db.unit_of_work(tenant_id, ACTOR) as uow:
        if not _known_issuer(uow):
            return missing(request)
        document = {
            "@context": [credentials.VC_CONTEXT, credentials.OB_CONTEXT],
            **credentials.profile(uow, services.settings),
        }
    return _json(document, max_age=300, media_type="application/ld+json")


@router.get("/issuers/{tenant_id}/jwks.json", dependencies=[PublicLimited])
def jwks(request: Request, tenant_id: uuid.UUID) -> Response:
    services = request.app.state.services
    with request.app.state.db.unit_of_work(tenant_id, ACTOR) as uow:
        if not _known_issuer(uow):
            return missing(request)
        issuer_keys.current(uow, services.box, now=datetime.now(UTC))
        document = issuer_keys.jwks(uow, credentials.base_of(services.settings))
    return _json(document, max_age=300, media_type="application/jwk-set+json")


@router.get("/issuers/{tenant_id}/keys/{key_id}", dependencies=[PublicLimited])
def key(request: Request, tenant_id: uuid.UUID, key_id: uuid.UUID) -> Response:
    services = request.app.state.services
    with request.app.state.db.unit_of_work(tenant_id, ACTOR) as uow:
        row = uow.session.scalars(
            select(IssuerKey).where(IssuerKey.id == key_id, IssuerKey.withdrawn_at.is_(None))
        ).first()
        if row is None:
            return missing(request)
        document = issuer_keys.public_jwk(credentials.base_of(services.settings), row)
    return _json(document, max_age=300, media_type="application/jwk+json")


@router.get("/issuers/{tenant_id}/logo", dependencies=[PublicLimited])
def logo(request: Request, tenant_id: uuid.UUID) -> Response:
    with request.app.state.db.unit_of_work(tenant_id, ACTOR) as uow:
        stored = branding.logo_of(uow) if _known_issuer(uow) else None
    if stored is None:
        return missing(request)
    response = logo_response(stored)
    response.headers.update(OPEN)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@router.get("/status/{tenant_id}/{purpose}/{number}", dependencies=[PublicLimited])
def status_list(
    request: Request,
    tenant_id: uuid.UUID,
    purpose: Literal["revocation", "suspension"],
    number: Annotated[int, Path(ge=0, le=MAX_LIST)],
) -> Response:
    services = request.app.state.services
    now = datetime.now(UTC)
    key = (credentials.base_of(services.settings), tenant_id, purpose, number)
    found = status_lists.CACHE.get(key, now)
    if found is None:
        with request.app.state.db.unit_of_work(tenant_id, ACTOR) as uow:
            if not status_lists.exists(uow, number):
                return missing(request)
            token = status_lists.signed_list(
                uow, services.box, services.settings, purpose, number, now=now
            )
        found = status_lists.CACHE.put(key, token, now)
    left = max(0, int((status_lists.TTL - found.age(now)).total_seconds()))
    return Response(found.token, media_type=credentials.MEDIA_TYPE,
                    headers={**OPEN, "Cache-Control": f"public, max-age={left}"})  # fmt: skip
