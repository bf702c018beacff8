"""Live monitoring for programs (``proctor:live``): the tiles of the
attempts in progress, the interventions of an attempt, and the same steps
the console takes (docs/live-monitoring.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.errors import NotFound
from invigil.proctoring import live, live_view
from invigil.proctoring.models import LiveIntervention
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["live monitoring"])


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=live.MAX_MESSAGE)


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=live.MAX_REASON)


class TimeIn(ReasonIn):
    minutes: int = Field(ge=1, le=live.MAX_MINUTES)


class NothingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InterventionOut(BaseModel):
    id: uuid.UUID
    attempt_id: uuid.UUID
    kind: str
    actor: str
    text: str
    seconds: int | None
    refers_to: uuid.UUID | None
    object_id: uuid.UUID | None
    created_at: datetime


class SteppedOut(BaseModel):
    intervention: InterventionOut
    attempt: dict[str, Any] | None


def _out(row: LiveIntervention) -> InterventionOut:
    return InterventionOut(
        id=row.id,
        attempt_id=row.attempt_id,
        kind=row.kind,
        actor=row.actor,
        text=row.text,
        seconds=row.seconds,
        refers_to=row.refers_to,
        object_id=row.object_id,
        created_at=row.created_at,
    )


def _stepped(uow: UnitOfWork, row: LiveIntervention) -> SteppedOut:
    uow.flush()
    tiles = live_view.tiles(uow, attempt_ids=[row.attempt_id])
    return SteppedOut(intervention=_out(row), attempt=tiles[0] if tiles else None)


@router.get("/live/attempts")
def attempts_in_progress(
    exam_id: Annotated[uuid.UUID | None, Query()] = None,
    uow: UnitOfWork = requires(P.PROCTOR_LIVE),
) -> dict[str, Any]:
    """Every attempt in progress (of one exam), as the live console shows it."""
    return {
        "items": live_view.tiles(uow, exam_id=exam_id),
        "next": None,
        "server_time": datetime.now(UTC).isoformat(),
    }


@router.get("/attempts/{attempt_id}/live/interventions")
def interventions(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> dict[str, Any]:
    """What proctors did live to the attempt and what its candidate answered."""
    from invigil.delivery.models import Attempt

    attempt = uow.session.get(Attempt, (uow.tenant, attempt_id))
    if attempt is None or not live.may_watch(uow, attempt.exam_id):
        raise NotFound(f"attempt {attempt_id} was not found")
    return {"items": [_out(x) for x in live.of_attempt(uow, attempt_id)], "next": None}


@router.post("/attempts/{attempt_id}/live/messages", status_code=201)
def message(
    attempt_id: uuid.UUID, body: MessageIn, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> SteppedOut:
    return _stepped(uow, live.send_message(uow, attempt_id, body.text))


@router.post("/attempts/{attempt_id}/live/time", status_code=201)
def add_time(
    attempt_id: uuid.UUID, body: TimeIn, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> SteppedOut:
    return _stepped(uow, live.add_time(uow, attempt_id, body.minutes, body.reason))


@router.post("/attempts/{attempt_id}/live/pause", status_code=201)
def pause(
    attempt_id: uuid.UUID, body: ReasonIn, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> SteppedOut:
    return _stepped(uow, live.pause(uow, attempt_id, body.reason))


@router.post("/attempts/{attempt_id}/live/resume", status_code=201)
def resume(
    attempt_id: uuid.UUID, body: NothingIn, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> SteppedOut:
    return _stepped(uow, live.resume(uow, attempt_id))


@router.post("/attempts/{attempt_id}/live/end", status_code=201)
def end(
    attempt_id: uuid.UUID, body: ReasonIn, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> SteppedOut:
    return _stepped(uow, live.end(uow, attempt_id, body.reason))


@router.post("/attempts/{attempt_id}/live/room-check", status_code=201)
def room_check(
    attempt_id: uuid.UUID, body: ReasonIn, uow: UnitOfWork = requires(P.PROCTOR_LIVE)
) -> SteppedOut:
    return _stepped(uow, live.request_room_check(uow, attempt_id, body.reason))


class ProctorsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_ids: list[uuid.UUID] = Field(max_length=live.MAX_PROCTORS)


def _proctors(uow: UnitOfWork, exam_id: uuid.UUID) -> dict[str, Any]:
    from invigil.identity.models import User

    ids = live.proctors_of(uow, exam_id)
    users = {u.id: u for u in uow.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return {
        "items": [{"id": str(i), "email": users[i].email} for i in ids if i in users],
        "next": None,
        "everyone": not ids,
    }


def _exam(uow: UnitOfWork, exam_id: uuid.UUID) -> None:
    from invigil.content.models import Exam

    if uow.scalar(select(Exam.id).where(Exam.id == exam_id)) is None:
        raise NotFound(f"exam {exam_id} was not found")


@router.get("/exams/{exam_id}/live-proctors")
def exam_proctors(exam_id: uuid.UUID, uow: UnitOfWork = requires(P.EXAM_VIEW)) -> dict[str, Any]:
    """Who may watch the exam live: the proctors it names, or (``everyone``)
    every user holding proctor:live when it names nobody."""
    _exam(uow, exam_id)
    return _proctors(uow, exam_id)


@router.put("/exams/{exam_id}/live-proctors")
def set_exam_proctors(
    exam_id: uuid.UUID, body: ProctorsIn, uow: UnitOfWork = requires(P.EXAM_PUBLISH)
) -> dict[str, Any]:
    """Name who may watch the exam live (an empty list: everyone holding
    proctor:live). Administrators may watch every exam."""
    live.set_proctors(uow, exam_id, body.user_ids)
    return _proctors(uow, exam_id)
