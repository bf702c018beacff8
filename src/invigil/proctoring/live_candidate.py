"""The candidate's side of live proctoring (``candidate:attempt``): what the
proctor asked (``api/live``), reading a message, and a stream that says
when to ask again.

The stream carries no content: an event names the attempt's ``live_seq``,
and the player then reads ``api/live`` through the usual authenticated
route. When the stream cannot be kept open (a proxy that buffers), the
``live_seq`` in every heartbeat and save answer tells the player the same,
a heartbeat later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from invigil import admission
from invigil.db.uow import Actor
from invigil.delivery.candidate import Guest, Guesting, Taking, taking
from invigil.delivery.models import Attempt
from invigil.errors import Invalid
from invigil.proctoring import live
from invigil.proctoring.live_pages import (
    KEEPALIVE_SECONDS,
    LISTEN_WAIT_SECONDS,
    broker,
    follows,
)

router = APIRouter(include_in_schema=False)


def _json(body: dict[str, object], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


@router.get("/take/{token}/api/live")
async def get_live(g: Guest = Guesting) -> JSONResponse:
    return await g.run(lambda t: _json(live.candidate_view(t.uow, t.attempt)))


@router.post("/take/{token}/api/live/messages/{message_id}/ack")
async def acknowledge(message_id: str, g: Guest = Guesting) -> JSONResponse:
    def work(t: Taking) -> JSONResponse:
        try:
            mid = uuid.UUID(message_id)
        except ValueError:
            raise Invalid("message_id is not a message's id", field="message_id") from None
        ack = live.acknowledge(t.uow, t.attempt, mid)
        return _json({"id": str(mid), "acknowledged_at": ack.created_at.isoformat()})

    return await g.run(work)


@router.get("/take/{token}/api/live/stream")
async def stream(request: Request, g: Guest = Guesting) -> EventSourceResponse:
    def who() -> tuple[uuid.UUID, uuid.UUID, int, str]:
        with taking(request, g.token) as t:
            a = t.attempt
            return t.uow.tenant, a.id, a.live_seq, a.status

    tenant_id, attempt_id, seq, status = await run_in_threadpool(who)
    sub = broker(request).subscribe(tenant_id, attempt_id)
    admission.leave(request.scope)  # a stream holds no connection while it waits

    def now_seq() -> tuple[int, str]:
        db = request.app.state.db
        with db.unit_of_work(tenant_id, Actor("candidate", "live-stream")) as uow:
            row = uow.session.execute(
                select(Attempt.live_seq, Attempt.status).where(Attempt.id == attempt_id)
            ).one()
            return int(row[0]), str(row[1])

    def event(live_seq: int, state: str) -> ServerSentEvent:
        return ServerSentEvent(
            data=json.dumps({"live_seq": live_seq, "status": state}), event="live"
        )

    once = not follows(request)

    async def events() -> AsyncIterator[ServerSentEvent]:
        nonlocal seq, status
        try:
            if not once:
                # A step is heard only once this process listens: read the
                # counter again after that, so one made meanwhile is not missed.
                b = broker(request)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(b.listening.wait(), LISTEN_WAIT_SECONDS)
                seq, status = await run_in_threadpool(now_seq)
            yield event(seq, status)
            while status == "in_progress" and not once:
                if not await sub.wait(KEEPALIVE_SECONDS):
                    continue
                sub.take()
                fresh, status = await run_in_threadpool(now_seq)
                if fresh != seq or status != "in_progress":
                    seq = fresh
                    yield event(seq, status)
        finally:
            broker(request).unsubscribe(sub)

    return EventSourceResponse(
        events(),
        ping=int(KEEPALIVE_SECONDS),
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
