"""Evidence bundles over the API, and the signed download (ADR 0041).

- ``POST /api/v1/bundles`` ``{"kind", "subject_id"}``: queue a bundle (202);
  with the caller's evidence:view it carries decrypted evidence, else
  hashes only;
- ``GET /api/v1/bundles/{id}``: its state and progress;
- ``POST /api/v1/bundles/{id}/retry``: queue a failed one again;
- ``GET /api/v1/bundles/{id}/download``: a signed URL, bound to the bundle,
  the caller and GET, valid at most five minutes;
- ``GET /bundles/{id}/file?...``: the bundle itself, for the viewer the
  signed URL names and only with that viewer's session (the route is
  ``Public`` because the signed URL is its credential; it authenticates
  the viewer itself, as the evidence read does). Every download is audited.

Each route needs result:view; a bundle of a subject the caller may not see,
or of another tenant, answers 404 like a missing one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from invigil.audit import bundle_jobs as _jobs  # noqa: F401 - registers the tasks
from invigil.audit import bundle_requests as bundles
from invigil.audit.models import BundleRequest
from invigil.db.uow import UnitOfWork
from invigil.errors import PROBLEM_MEDIA_TYPE, DomainError
from invigil.evidence.api import guarded, viewer_unit_of_work, wants_problem
from invigil.security.permissions import Permission as P
from invigil.web.access import Public, requires

router = APIRouter(tags=["bundles"])

State = Literal["queued", "building", "ready", "failed", "expired", "purged"]


class BundleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["attempt", "shortlist", "certificate"]
    subject_id: uuid.UUID


class BundleOut(BaseModel):
    id: uuid.UUID
    kind: str
    subject_id: uuid.UUID
    requested_by: uuid.UUID
    with_evidence: bool = Field(description="decrypted evidence inside; false: hashes only")
    state: State
    done: int = Field(description="units built so far (the builder's: members or bytes)")
    total: int | None = Field(description="units in all, once known")
    error: str | None = Field(description="why it failed (then POST .../retry)")
    size: int | None
    sha256: str | None = Field(description="of the ZIP, as anchored in the audit log")
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None

    @classmethod
    def of(cls, row: BundleRequest) -> BundleOut:
        return cls.model_validate(row, from_attributes=True)


class DownloadOut(BaseModel):
    url: str
    method: str
    expires_at: datetime
    size: int
    sha256: str


def _permissions(uow: UnitOfWork) -> frozenset[str]:
    return frozenset(uow.claims.permissions)


@router.post("/api/v1/bundles", status_code=202, response_model=BundleOut)
def create(body: BundleIn, uow: UnitOfWork = requires(P.RESULT_VIEW)) -> BundleOut:
    with_evidence = P.EVIDENCE_VIEW.value in _permissions(uow)
    row = bundles.request(uow, body.kind, body.subject_id, with_evidence=with_evidence)
    return BundleOut.of(row)


@router.get("/api/v1/bundles/{bundle_id}", response_model=BundleOut)
def status(bundle_id: uuid.UUID, uow: UnitOfWork = requires(P.RESULT_VIEW)) -> BundleOut:
    return BundleOut.of(bundles.get(uow, bundle_id))


@router.post("/api/v1/bundles/{bundle_id}/retry", status_code=202, response_model=BundleOut)
def retry(bundle_id: uuid.UUID, uow: UnitOfWork = requires(P.RESULT_VIEW)) -> BundleOut:
    return BundleOut.of(bundles.retry(uow, bundle_id))


@router.get("/api/v1/bundles/{bundle_id}/download", response_model=DownloadOut)
def download(
    bundle_id: uuid.UUID, request: Request, uow: UnitOfWork = requires(P.RESULT_VIEW)
) -> DownloadOut:
    evidence = request.app.state.services.evidence
    row, signed = bundles.issue_link(uow, evidence, bundle_id, _permissions(uow))
    assert row.size is not None and row.sha256 is not None
    return DownloadOut(
        url=signed.url,
        method=signed.method,
        expires_at=datetime.fromtimestamp(signed.expires, UTC),
        size=row.size,
        sha256=row.sha256,
    )


@router.get(
    "/bundles/{bundle_id}/file",
    dependencies=[Public],
    responses={
        401: {"description": "The link works only with the signed-in session of its viewer."},
        403: {"description": "The link is incomplete, altered, expired or another viewer's."},
    },
)
def read(bundle_id: uuid.UUID, request: Request) -> Response:
    """The bundle, for the viewer the signed URL names."""
    try:
        return _read(bundle_id, request)
    except DomainError as exc:
        if not wants_problem(request):
            raise  # a browser gets the error page
        return JSONResponse(
            exc.problem(request.url.path),
            status_code=exc.status,
            media_type=PROBLEM_MEDIA_TYPE,
            headers=exc.headers(),
        )


def _read(bundle_id: uuid.UUID, request: Request) -> Response:
    evidence = request.app.state.services.evidence
    q = request.query_params
    viewer = evidence.signer.verify(
        bundle_id,
        viewer=q.get("viewer"),
        method=q.get("method"),
        expires=q.get("expires"),
        sig=q.get("sig"),
        request_method=request.method,
        scope="bundle",
    )
    with viewer_unit_of_work(request, viewer, P.RESULT_VIEW) as (uow, permissions):
        row, stream = bundles.open_download(uow, evidence, bundle_id, permissions)
        size, kind, subject = row.size, row.kind, row.subject_id
    return StreamingResponse(
        guarded(stream),
        media_type="application/zip",
        headers={
            "Content-Length": str(size),
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Content-Disposition": f'attachment; filename="bundle-{kind}-{subject}.zip"',
        },
    )
