"""Staff API for releasing results to candidates (ADR 0035).

- ``POST /api/v1/attempts/{attempt_id}/releases``: release the attempt's
  latest result (409 naming it when it still needs grading; the path is a
  plural because ``.../release`` frees a browser binding);
- ``POST /api/v1/exams/{exam_id}/releases``: release the named attempts of
  an exam, or every attempt whose result is final (all or nothing);
- ``GET /api/v1/attempts/{attempt_id}/releases``: the attempt's releases
  and its result link's state;
- ``POST /api/v1/attempts/{attempt_id}/result-link``: ``revoke`` the
  candidate's result link, or ``resend`` a new one (the old one stops).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from invigil.content.models import Exam
from invigil.db.uow import UnitOfWork
from invigil.delivery.attempts import version_of
from invigil.delivery.models import Attempt
from invigil.errors import NotFound
from invigil.results import release, result_link
from invigil.results.models import ResultLink, ResultRelease
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["results"])


class ReleaseOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    result_id: uuid.UUID
    revision: int = Field(description="the result revision released")
    how: Literal["automatic", "manual", "bulk"]
    released_by: uuid.UUID | None = Field(description="the staff member; null when automatic")
    released_at: datetime

    @classmethod
    def of(cls, row: ResultRelease) -> ReleaseOut:
        return cls(
            id=row.id,
            attempt_id=row.attempt_id,
            result_id=row.result_id,
            revision=row.revision,
            how=row.how,
            released_by=row.released_by,
            released_at=row.released_at,
        )


class LinkOut(BaseModel):
    id: uuid.UUID
    state: Literal["live", "expired", "revoked", "replaced"]
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, row: ResultLink) -> LinkOut:
        return cls(
            id=row.id,
            state=result_link.state_of(row),
            created_at=row.created_at,
            expires_at=row.expires_at,
            ended_at=row.ended_at,
        )


class ReleasesOut(BaseModel):
    items: list[ReleaseOut]
    next: str | None = None
    mode: str = Field(description="the exam's results_release setting")
    link: LinkOut | None = Field(description="the newest result link, if one was sent")


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempt_ids: list[uuid.UUID] | None = Field(
        default=None,
        max_length=release.MAX_BULK,
        description="the attempts to release; leave out and set all_final for every final one",
    )
    all_final: bool = Field(
        default=False, description="release every attempt whose result is final"
    )

    @model_validator(mode="after")
    def _one_way(self) -> BulkIn:
        if (self.attempt_ids is not None) == self.all_final:
            raise ValueError("give attempt_ids, or all_final: true (one of them, not both)")
        return self


class BulkOut(BaseModel):
    released: list[ReleaseOut]
    already_released: list[uuid.UUID]


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["revoke", "resend"]


def _attempt(uow: UnitOfWork, attempt_id: uuid.UUID) -> Attempt:
    found = uow.scalar(select(Attempt).where(Attempt.id == attempt_id))
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found


@router.post("/attempts/{attempt_id}/releases", response_model=ReleaseOut)
def release_result(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.RESULT_RELEASE)
) -> ReleaseOut:
    return ReleaseOut.of(release.release_one(uow, attempt_id))


@router.post("/exams/{exam_id}/releases", response_model=BulkOut)
def release_exam(
    exam_id: uuid.UUID, body: BulkIn, uow: UnitOfWork = requires(P.RESULT_RELEASE)
) -> BulkOut:
    uow.get(Exam, exam_id, label="exam")
    done = release.release_many(uow, exam_id, body.attempt_ids)
    return BulkOut(
        released=[ReleaseOut.of(r) for r in done.released], already_released=done.already
    )


@router.get("/attempts/{attempt_id}/releases", response_model=ReleasesOut)
def list_releases(attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.RESULT_VIEW)) -> ReleasesOut:
    attempt = _attempt(uow, attempt_id)
    links = result_link.links_of(uow, attempt.id)
    settings = version_of(uow, attempt.exam_id, attempt.exam_version).settings
    return ReleasesOut(
        items=[ReleaseOut.of(r) for r in release.releases_of(uow, attempt.id)],
        mode=release.mode_of(dict(settings)),
        link=LinkOut.of(links[0]) if links else None,
    )


@router.post("/attempts/{attempt_id}/result-link", response_model=LinkOut)
def result_link_action(
    request: Request,
    attempt_id: uuid.UUID,
    body: LinkIn,
    uow: UnitOfWork = requires(P.RESULT_RELEASE),
) -> LinkOut:
    attempt = _attempt(uow, attempt_id)
    if body.action == "revoke":
        return LinkOut.of(result_link.revoke(uow, attempt.id))
    link, _ = result_link.resend(uow, result_link.Kit.of(request.app.state.services), attempt.id)
    return LinkOut.of(link)
