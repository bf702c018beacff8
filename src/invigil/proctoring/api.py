"""Staff API on proctoring: an attempt's events (as episodes) and the actions
the policy took; the published JSON schema of custom policies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from invigil.db.uow import UnitOfWork
from invigil.delivery.models import Attempt
from invigil.errors import NotFound
from invigil.pagination import Page
from invigil.proctoring import policy as pol
from invigil.proctoring.models import ProctoringAction, ProctoringEvent
from invigil.security.permissions import Permission as P
from invigil.web.access import requires

router = APIRouter(prefix="/api/v1", tags=["proctoring"])


class EventOut(BaseModel):
    id: str
    seq: int
    kind: str
    severity: str
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None
    details: dict[str, Any]
    end_seq: int | None
    received_at: datetime
    linked: bool
    source: str


class ActionOut(BaseModel):
    id: uuid.UUID
    created_at: datetime
    rule_id: str
    kind: str
    severity: str
    action: str
    episode_seq: int
    events: list[int]
    message: str


def _attempt(uow: UnitOfWork, attempt_id: uuid.UUID) -> Attempt:
    found = uow.scalar(select(Attempt).where(Attempt.id == attempt_id))
    if found is None:
        raise NotFound(f"attempt {attempt_id} was not found")
    return found


def event_list(uow: UnitOfWork, attempt: Attempt) -> list[EventOut]:
    """Episodes; each has the highest severity of the actions it caused
    (``info`` when no rule fired for it)."""
    taken = uow.session.execute(
        select(ProctoringAction.episode_seq, ProctoringAction.severity).where(
            ProctoringAction.attempt_id == attempt.id
        )
    )
    rank = {name: i for i, name in enumerate(pol.SEVERITIES)}
    worst: dict[int, str] = {}
    for seq, severity in taken:
        if rank[severity] > rank[worst.get(seq, "info")]:
            worst[seq] = severity
    rows = uow.scalars(
        select(ProctoringEvent)
        .where(ProctoringEvent.attempt_id == attempt.id)
        .order_by(ProctoringEvent.at, ProctoringEvent.seq)
    )
    ends = {r.ends: r for r in rows if r.phase == "end" and r.ends is not None}
    out = []
    for r in rows:
        if r.phase == "end":
            continue
        end = ends.get(r.seq) if r.phase == "start" else r
        ended = end.at if end is not None else None
        out.append(
            EventOut(
                id=f"{attempt.id}:{r.seq}",
                seq=r.seq,
                kind=r.kind,
                severity=worst.get(r.seq, "info"),
                started_at=r.at,
                ended_at=ended,
                duration_seconds=(ended - r.at).total_seconds() if ended else None,
                details={**r.details, **(end.details if end is not None and end is not r else {})},
                end_seq=end.seq if end is not None and end is not r else None,
                received_at=r.received_at,
                linked=r.linked,
                source="client" if r.seq > 0 else "server",
            )
        )
    return out


@router.get("/attempts/{attempt_id}/events", response_model=Page[EventOut])
def list_events(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.ATTEMPT_VIEW)
) -> Page[EventOut]:
    """Proctoring events as episodes (a start with its end, or an instant),
    in the order they happened, each with the highest severity among the
    actions the policy took for it (``info`` if none). Server-recorded events
    (client.silent) have negative seqs."""
    attempt = _attempt(uow, attempt_id)
    return Page[EventOut](items=event_list(uow, attempt), next=None)


@router.get("/attempts/{attempt_id}/actions", response_model=Page[ActionOut])
def list_actions(
    attempt_id: uuid.UUID, uow: UnitOfWork = requires(P.ATTEMPT_VIEW)
) -> Page[ActionOut]:
    """What the policy did, with the rule and the events each action names."""
    attempt = _attempt(uow, attempt_id)
    rows = uow.scalars(
        select(ProctoringAction)
        .where(ProctoringAction.attempt_id == attempt.id)
        .order_by(ProctoringAction.created_at, ProctoringAction.id)
    )
    return Page[ActionOut](
        items=[
            ActionOut(
                id=a.id,
                created_at=a.created_at,
                rule_id=a.rule_id,
                kind=a.kind,
                severity=a.severity,
                action=a.action,
                episode_seq=a.episode_seq,
                events=list(a.related),
                message=a.message,
            )
            for a in rows
        ],
        next=None,
    )


@router.get("/proctoring/policy-schema")
def policy_schema(uow: UnitOfWork = requires(P.EXAM_VIEW)) -> dict[str, Any]:
    """The JSON schema a custom ``proctoring_policy`` of an exam must follow."""
    return pol.schema()


@router.get("/proctoring/presets")
def presets(uow: UnitOfWork = requires(P.EXAM_VIEW)) -> dict[str, Any]:
    """The built-in policies, as exams freeze them into attempts."""
    return {name: p.model_dump(mode="json") for name, p in pol.PRESETS.items()}
