"""Staff read evidence through short-lived signed URLs.

``POST /api/v1/evidence/{object_id}/url`` (evidence:view) issues a URL bound
to the object, the caller and GET. ``GET /evidence/{object_id}?...`` streams
the decrypted object when the signature is valid, unexpired, and the request
carries a session (bearer token or web cookie) of that same viewer who still
holds evidence:view. The read route is declared ``Public`` because the
signed URL is its credential; it authenticates the viewer itself. Both
issuing and reading are audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from invigil import audit
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import PROBLEM_MEDIA_TYPE, DomainError, Forbidden, Unauthorized
from invigil.evidence import service
from invigil.evidence.keys import open_data_key
from invigil.security import sessions
from invigil.security.permissions import Permission as P
from invigil.security.tokens import split_secret
from invigil.web.access import Public, bearer_token, requires
from invigil.web.session import COOKIE

router = APIRouter()

_EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "video/webm": "webm",
    "application/pdf": "pdf",
}


class SignedUrlOut(BaseModel):
    url: str
    method: str
    expires_at: datetime
    object_id: uuid.UUID
    content_type: str
    size: int


@router.post("/api/v1/evidence/{object_id}/url", tags=["evidence"], response_model=SignedUrlOut)
def issue_url(
    object_id: uuid.UUID, request: Request, uow: UnitOfWork = requires(P.EVIDENCE_VIEW)
) -> SignedUrlOut:
    """A URL to read one object, valid five minutes, for the caller only."""
    evidence = request.app.state.services.evidence
    obj = service.get_object(uow, object_id)
    open_data_key(uow, evidence.master, obj.data_key_id)  # an erased object answers 410 now
    viewer = uuid.UUID(uow.actor.id)
    signed = evidence.signer.issue(obj.id, viewer)
    expires_at = datetime.fromtimestamp(signed.expires, UTC)
    audit.record(
        uow,
        "evidence.url_issued",
        obj,
        {"viewer": viewer, "method": signed.method, "expires_at": expires_at},
    )
    return SignedUrlOut(
        url=signed.url,
        method=signed.method,
        expires_at=expires_at,
        object_id=obj.id,
        content_type=obj.content_type,
        size=obj.plaintext_size,
    )


def wants_problem(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "authorization" in request.headers or "json" in accept


@router.get(
    "/evidence/{object_id}",
    tags=["evidence"],
    dependencies=[Public],
    responses={
        401: {"description": "The link works only with the signed-in session of its viewer."},
        403: {"description": "The link is incomplete, altered, expired or another viewer's."},
    },
)
def read(object_id: uuid.UUID, request: Request) -> Response:
    """The decrypted object, for the viewer the signed URL names."""
    try:
        return _read(object_id, request)
    except DomainError as exc:
        if not wants_problem(request):
            raise  # a browser gets the error page
        return JSONResponse(
            exc.problem(request.url.path),
            status_code=exc.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=exc.headers(),
        )


def _read(object_id: uuid.UUID, request: Request) -> Response:
    services = request.app.state.services
    q = request.query_params
    viewer = services.evidence.signer.verify(
        object_id,
        viewer=q.get("viewer"),
        method=q.get("method"),
        expires=q.get("expires"),
        sig=q.get("sig"),
        request_method=request.method,
    )
    with _viewer_unit_of_work(request, viewer) as uow:
        obj, stream = service.open_object(uow, services.evidence, object_id)
        audit.record(
            uow,
            "evidence.read",
            obj,
            {"viewer": viewer, "size": obj.plaintext_size, "sha256": obj.plaintext_sha256},
        )
        content_type, size = obj.content_type, obj.plaintext_size
    extension = _EXTENSIONS.get(content_type, "bin")
    return StreamingResponse(
        guarded(stream),
        media_type=content_type,
        headers={
            "Content-Length": str(size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Disposition": f'inline; filename="{object_id}.{extension}"',
        },
    )


def guarded(stream: Iterator[bytes]) -> Iterator[bytes]:
    """Closing the stream early (client gone) releases the store's handle."""
    try:
        yield from stream
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


@contextmanager
def _viewer_unit_of_work(request: Request, viewer: uuid.UUID) -> Iterator[UnitOfWork]:
    with viewer_unit_of_work(request, viewer, P.EVIDENCE_VIEW) as (uow, _):
        yield uow


@contextmanager
def viewer_unit_of_work(
    request: Request, viewer: uuid.UUID, permission: P
) -> Iterator[tuple[UnitOfWork, frozenset[str]]]:
    """A unit of work for the caller's session (bearer token, else web cookie)
    and its permissions, refusing anyone but ``viewer`` or a viewer who lost
    ``permission``: how a signed link's reader is authenticated."""
    db, services = request.app.state.db, request.app.state.services
    refused = Forbidden(f"your role does not allow this ({permission.value} is needed)")
    if "authorization" in request.headers:
        claims = services.tokens.verify(bearer_token(request))
        _check_viewer(claims.user_id, viewer)
        with db.unit_of_work(claims.tenant_id, Actor("user", str(claims.user_id))) as uow:
            if not sessions.active(uow, claims.session_id, claims.user_id):
                raise Unauthorized("this session has ended; sign in again")
            if permission.value not in claims.permissions:
                raise refused
            yield uow, frozenset(claims.permissions)
        return
    secret = request.cookies.get(COOKIE, "")
    tenant_id = split_secret("ws", secret)
    if tenant_id is None:
        raise Unauthorized("sign in first: a signed link works only with the session of its viewer")
    with db.unit_of_work(tenant_id, Actor("anonymous", "web")) as uow:
        found = sessions.web_viewer(uow, services.settings, secret)
        if found is None:
            raise Unauthorized("your session has ended; sign in again")
        _check_viewer(found.user_id, viewer)
        uow.actor = Actor("user", str(found.user_id))
        if found.mfa_enroll_only or permission.value not in found.permissions:
            raise refused
        yield uow, frozenset(found.permissions)


def _check_viewer(user_id: uuid.UUID, viewer: uuid.UUID) -> None:
    if user_id != viewer:
        raise Forbidden("this link was issued to another viewer")
