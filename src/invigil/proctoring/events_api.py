"""The candidate's proctoring events: ``POST /take/{token}/api/events``.

Moved here from delivery's player (docs/adr/0019-layers.md): proctoring uses
delivery, never the other way. The route takes the candidate's session
(:mod:`invigil.delivery.candidate`) and nothing else; see
``docs/candidate-api.md``. Batches of running attempts with no silence open
are gathered with other browsers' batches of the same tenant and taken in one
transaction (:func:`heard_events`, docs/adr/0011-gathered-events.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from invigil.db.uow import Actor, UnitOfWork
from invigil.delivery import candidate
from invigil.delivery.candidate import (
    LIVE_ATTEMPT,
    Guest,
    Guesting,
    Taking,
    bound_actor,
    browser_bindings,
    link_hash_of,
)
from invigil.delivery.player import clock_of, json_answer, parse_payload, valid_body
from invigil.proctoring import pipeline

router = APIRouter(include_in_schema=False)

# Batches of proctoring events of several browsers (``n`` numbers them; the
# bindings and the wanted seqs are (n, value) pairs): each chain's head moves
# to its batch's top passing message when it is above the stored one
# (pipeline.Screened.top); returned: what the pipeline and the policy need,
# with the stored hashes of the seqs the batch names (Screened.wanted). A
# batch dated outside its attempt's window (pipeline.outside_window, asked of
# its earliest and latest passing message) is no plain case: the general path
# rejects those messages one by one, the head moving only over stored ones.
_HEARD_EVENTS = text(
    f"""
    UPDATE attempts AS a SET
        last_seen_at = :now,
        events_last_seq = GREATEST(a.events_last_seq, v.etop),
        events_head = CASE WHEN v.etop > a.events_last_seq THEN v.ehead
                           ELSE a.events_head END
    FROM unnest(CAST(:ns AS integer[]), CAST(:links AS bytea[]), CAST(:etops AS bigint[]),
                CAST(:eheads AS text[]), CAST(:efirsts AS timestamptz[]),
                CAST(:elasts AS timestamptz[])) AS v (n, link, etop, ehead, efirst, elast)
    CROSS JOIN LATERAL (SELECT l.tenant_id, l.invitation_id, l.ended_at FROM guest_links AS l
                        WHERE l.token_hash = v.link LIMIT 1) AS l
    JOIN invitations AS i ON i.tenant_id = l.tenant_id AND i.id = l.invitation_id
    WHERE a.binding_hash IN (SELECT b.hash FROM unnest(CAST(:bn AS integer[]),
                                                       CAST(:bh AS bytea[])) AS b (n, hash)
                             WHERE b.n = v.n)
      AND {LIVE_ATTEMPT}
      AND (v.efirst IS NULL
           OR (v.efirst >= a.started_at - CAST(:tolerance AS interval)
               AND v.elast <= LEAST(CAST(:now AS timestamptz),
                                    a.deadline + make_interval(secs => a.grace_seconds))
                              + CAST(:tolerance AS interval)))
    RETURNING a.id, a.invitation_id, a.binding_hash, a.candidate_id, a.deadline,
        a.grace_seconds, a.last_seq, a.events_last_seq, v.n, a.events_head, a.integrity,
        a.exam_id, a.exam_version, CAST(a.policy AS text),
        (SELECT jsonb_object_agg(k.seq, k.hash) FROM (
            SELECT w.seq, (SELECT e.hash FROM proctoring_events AS e
                           WHERE e.tenant_id = a.tenant_id AND e.attempt_id = a.id
                             AND e.seq = w.seq) AS hash
            FROM unnest(CAST(:wn AS integer[]), CAST(:ws AS bigint[])) AS w (n, seq)
            WHERE w.n = v.n) AS k
         WHERE k.hash IS NOT NULL),
        a.started_at"""
)


@dataclass(frozen=True)
class Ask:
    """One browser's batch of proctoring events, before anything is looked up."""

    request: Request
    token: str
    batch: pipeline.Screened


def heard_events(
    uow: UnitOfWork, asks: Sequence[Ask], *, now: datetime
) -> list[tuple[pipeline.Running, Actor] | None]:
    """:func:`invigil.delivery.candidate.heard` for batches of proctoring
    events of browsers of the unit of work's tenant, in one statement:
    authenticate, lock and touch each running attempt with no silence open,
    move its chain's head for its batch and read the stored hashes the batch
    needs. For each ask, what the pipeline needs (instead of the paper) and
    the candidate acting; None where it is not the plain case (its attempt
    unchanged)."""
    params: dict[str, list[Any]] = {k: [] for k in ("ns", "links", "etops", "eheads", "efirsts",
                                                     "elasts", "bn", "bh", "wn", "ws")}  # fmt: skip
    bindings = []
    for n, ask in enumerate(asks):
        mine = browser_bindings(ask.request)
        bindings.append(mine)
        if not mine:
            continue
        top = ask.batch.top
        params["ns"].append(n)
        params["links"].append(link_hash_of(ask.request, ask.token))
        params["etops"].append(top.seq if top else 0)
        params["eheads"].append(top.hash if top else None)
        first, last = ask.batch.span
        params["efirsts"].append(first)
        params["elasts"].append(last)
        params["bn"] += [n] * len(mine)
        params["bh"] += list(mine.values())
        params["wn"] += [n] * len(ask.batch.wanted)
        params["ws"] += ask.batch.wanted
    out: list[tuple[pipeline.Running, Actor] | None] = [None] * len(asks)
    if not params["ns"]:
        return out
    window = {"now": now, "tolerance": pipeline.CLOCK_TOLERANCE}
    for row in uow.session.execute(_HEARD_EVENTS, params | window):
        n = row[8]
        actor = bound_actor(asks[n].request, bindings[n], row)
        running = pipeline.Running(
            tenant_id=uow.tenant,
            id=row[0],
            deadline=row[4],
            last_seq=row[6],
            events_last_seq=row[7],
            events_head=row[9],
            integrity=row[10],
            exam_id=row[11],
            exam_version=row[12],
            policy=row[13],
            known={int(seq): hashed for seq, hashed in (row[14] or {}).items()},
            last_seen_at=now,
            started_at=row[15],
            grace_seconds=row[5],
        )
        out[n] = (running, actor)
    return out


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1, le=pipeline.MAX_SEQ)
    body: str = Field(max_length=pipeline.MAX_BODY)
    prev: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: Annotated[list[EventIn], Field(max_length=pipeline.MAX_BATCH)] = []


def _messages(body: EventsIn) -> list[pipeline.Message]:
    return [pipeline.Message(e.seq, e.body, e.prev, e.hash) for e in body.events]


def _told(attempt: Any, taken: pipeline.Taken) -> JSONResponse:
    return json_answer(
        {
            "results": [o.json() for o in taken.results],
            "head": attempt.events_head,
            "warnings": taken.warnings,
            **clock_of(
                attempt.deadline,
                attempt.status,
                attempt.last_seq,
                paused_at=getattr(attempt, "paused_at", None),
            ),
            "last_seq": attempt.events_last_seq,
        }
    )


@dataclass(frozen=True)
class _Events:
    request: Request
    token: str
    payload: Any


def _events_together(tenant_id: uuid.UUID, asks: list[_Events]) -> list[JSONResponse | None]:
    """Several browsers' batches of one tenant in one transaction: those that
    are the plain case (a valid body, a running attempt with no silence open,
    see :func:`heard_events`) are taken together; the others are
    answered None, having changed nothing, and take the general way."""
    todo: list[tuple[int, pipeline.Screened]] = []
    for n, ask in enumerate(asks):
        body = valid_body(EventsIn, ask.payload)
        if body is not None:
            todo.append((n, pipeline.screen(_messages(body))))
    out: list[JSONResponse | None] = [None] * len(asks)
    if not todo:
        return out
    now, db = datetime.now(UTC), asks[0].request.app.state.db
    try:
        with db.unit_of_work(tenant_id, Actor("anonymous", "guest-link")) as uow:
            heard = heard_events(
                uow, [Ask(asks[n].request, asks[n].token, b) for n, b in todo], now=now
            )
            found = [(n, b, h) for (n, b), h in zip(todo, heard, strict=True) if h is not None]
            batches = [
                pipeline.Batch(running, b, running.known or {}, actor)
                for _, b, (running, actor) in found
            ]
            taken = pipeline.ingest_many(uow, batches, now)
            for (n, _, (running, _)), t in zip(found, taken, strict=True):
                out[n] = _told(running, t)
    except (candidate.Stray, pipeline.Raced):
        if len(asks) > 1:
            raise  # each is written again alone
        return [None]  # the general way answers it (a 401; or it locks before it reads)
    return out


@router.post("/take/{token}/api/events")
async def post_events(g: Guest = Guesting, payload: Any = Body(None)) -> JSONResponse:
    """Proctoring events from the browser (docs/proctoring.md). Batches of
    running attempts with no silence open are taken with other browsers'
    (:func:`_events_together`); anything else the general way (which answers
    refusals)."""
    together = await g.gathered(_events_together, _Events(g.request, g.token, payload))
    if together is not None:
        return together

    def work(t: Taking) -> JSONResponse:
        pipeline.require_open(t.attempt)  # a closed attempt's answer, before the body's
        batch = pipeline.screen(_messages(parse_payload(EventsIn, payload)))
        return _told(t.attempt, pipeline.ingest(t.uow, t.attempt, batch))

    return await g.run(work, lock=True)
