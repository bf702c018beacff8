"""The live console (``proctor:live``): the page, its event stream, the
snapshot thumbnails, and the proctor's steps, for staff signed in on the web.

The stream (``text/event-stream``) sends the whole picture when it opens
(``snapshot``) and then the attempts that changed (``attempts``), each
event with an id a reconnecting browser sends back as ``Last-Event-ID``:
the picture it then gets again includes the attempts that ended meanwhile,
so nothing is missed. Updates come from the process's broker
(:mod:`invigil.proctoring.live_broker`), never from polling. The viewer's
session is checked again every :data:`RECHECK_SECONDS`: a stream ends when
its session does, or when its role no longer allows it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from invigil import admission, i18n
from invigil.db.uow import Actor, UnitOfWork
from invigil.errors import Forbidden, Invalid, NotFound
from invigil.evidence import api as evidence_api
from invigil.i18n import N_
from invigil.identity.pages.common import _parse_id
from invigil.proctoring import live, live_view
from invigil.proctoring.live_broker import Broker
from invigil.proctoring.models import Snapshot
from invigil.security import sessions
from invigil.security.permissions import Permission as P
from invigil.security.tokens import split_secret
from invigil.web import flash
from invigil.web.pages import render
from invigil.web.session import COOKIE, PageContext, check_csrf, requires_page

router = APIRouter(include_in_schema=False)

T = TypeVar("T")

# Changes are gathered this long before a stream reads them (one read for a
# burst of signals); well inside the two seconds a console may lag.
GATHER_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
RECHECK_SECONDS = 30.0

# Fields are optional at the edge (bounded): the service names a missing one
# (422) after it has found the attempt, so another tenant's id is a 404 first.
Csrf = Annotated[str, Form(max_length=64)]
Reason = Annotated[str, Form(max_length=live.MAX_REASON * 2)]
Minutes = Annotated[str, Form(max_length=8)]
Text = Annotated[str, Form(max_length=live.MAX_MESSAGE * 2)]


def broker(request: Request) -> Broker:
    """This process's broker, made when first needed."""
    found: Broker | None = getattr(request.app.state, "live_broker", None)
    if found is None:
        from invigil.db.urls import libpq

        found = Broker(libpq(request.app.state.db.urls.app))
        request.app.state.live_broker = found
    return found


def _exam(value: str | None) -> uuid.UUID | None:
    if value is None or value == "":
        return None
    return _parse_id(value, "exam")


def _cursor() -> str:
    return str(time.time_ns() // 1_000_000)


def _since(last_event_id: str | None) -> datetime | None:
    """When the event a reconnecting browser last had was sent."""
    if not last_event_id or not last_event_id.isdigit() or len(last_event_id) > 16:
        return None
    return datetime.fromtimestamp(int(last_event_id) / 1000, UTC)


def _watchable(tiles: list[dict[str, Any]], can_see_evidence: bool) -> list[dict[str, Any]]:
    if not can_see_evidence:
        for t in tiles:
            if t["snapshot"] is not None:
                t["snapshot"]["url"] = None
    return tiles


@router.get("/proctoring/live", response_class=HTMLResponse)
def console(
    request: Request,
    exam: Annotated[str | None, Query(max_length=64)] = None,
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> Response:
    exam_id = _exam(exam)
    running = _exams_running(ctx.uow)
    chosen = None
    if exam_id is not None:
        chosen = next((e for e in running if e["id"] == str(exam_id)), None)
        if chosen is None:
            chosen = _exam_named(ctx.uow, exam_id)
    stream_url = "/proctoring/live/stream" + (f"?exam={exam_id}" if exam_id else "")
    return render(
        request,
        "proctoring/live.html",
        {
            "page": ctx,
            "exam": chosen,
            "exams": running,
            "stream_url": stream_url,
            "csrf": ctx.csrf,
            "can_see_evidence": ctx.can(P.EVIDENCE_VIEW),
            "error": None,
        },
    )


def _exams_running(uow: UnitOfWork) -> list[dict[str, str]]:
    from sqlalchemy import text

    viewer = live.watcher(uow)
    watchable = live.WATCHABLE.format(tenant="e.tenant_id", exam="e.id")
    rows = uow.session.execute(
        text(
            "SELECT e.id, e.title FROM exams e WHERE EXISTS (SELECT 1 FROM attempts a "
            "WHERE a.tenant_id = e.tenant_id AND a.exam_id = e.id "
            f"AND a.status = 'in_progress') AND {watchable} ORDER BY e.title, e.id"
        ),
        {"viewer": str(viewer) if viewer else None},
    )
    return [{"id": str(i), "title": t} for i, t in rows]


def _exam_named(uow: UnitOfWork, exam_id: uuid.UUID) -> dict[str, str]:
    from invigil.content.models import Exam

    found = uow.scalar(select(Exam).where(Exam.id == exam_id))
    if found is None or not live.may_watch(uow, exam_id):
        raise NotFound(f"exam {exam_id} was not found")
    return {"id": str(found.id), "title": found.title}


@router.get("/proctoring/live/stream")
async def stream(
    request: Request,
    exam: Annotated[str | None, Query(max_length=64)] = None,
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> EventSourceResponse:
    exam_id = _exam(exam)
    if exam_id is not None:
        await run_in_threadpool(_require_exam, request, ctx, exam_id)
    since = _since(request.headers.get("last-event-id"))
    tenant_id, user_id = ctx.uow.tenant, ctx.user_id
    evidence = ctx.can(P.EVIDENCE_VIEW)
    secret = request.cookies.get(COOKIE, "")
    sub = broker(request).subscribe(tenant_id)
    admission.leave(request.scope)  # a stream holds no connection while it waits

    def read(**kw: Any) -> list[dict[str, Any]]:
        db = request.app.state.db
        with db.unit_of_work(tenant_id, Actor("user", str(user_id))) as uow:
            return _watchable(live_view.tiles(uow, exam_id=exam_id, **kw), evidence)

    def event(name: str, tiles: list[dict[str, Any]]) -> ServerSentEvent:
        body = {"server_time": datetime.now(UTC).isoformat(), "attempts": tiles}
        return ServerSentEvent(data=json.dumps(body), event=name, id=_cursor())

    once = not follows(request)

    async def events() -> AsyncIterator[ServerSentEvent]:
        try:
            yield event("snapshot", await run_in_threadpool(read, ended_since=since))
            if once:
                return
            checked = time.monotonic()
            while True:
                if time.monotonic() - checked > RECHECK_SECONDS:
                    if not await run_in_threadpool(_still_allowed, request, secret):
                        yield ServerSentEvent(data="{}", event="end")
                        return
                    checked = time.monotonic()
                if not await sub.wait(KEEPALIVE_SECONDS):
                    continue  # sse-starlette sends the keep-alive comments
                await anyio.sleep(GATHER_SECONDS)
                changed, resync = sub.take()
                if resync:
                    cut = datetime.now(UTC)
                    yield event("snapshot", await run_in_threadpool(read, ended_since=cut))
                elif changed:
                    tiles = await run_in_threadpool(read, attempt_ids=sorted(changed))
                    if tiles:
                        yield event("attempts", tiles)
        finally:
            broker(request).unsubscribe(sub)

    return EventSourceResponse(
        events(),
        ping=int(KEEPALIVE_SECONDS),
        headers={
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
            "Referrer-Policy": "no-referrer",
        },
    )


def follows(request: Request) -> bool:
    """Whether the client asked to follow the stream (an EventSource always
    does); any other client gets the current picture once, and the answer ends."""
    return "text/event-stream" in request.headers.get("accept", "")


def _require_exam(request: Request, ctx: PageContext, exam_id: uuid.UUID) -> None:
    db = request.app.state.db
    with db.unit_of_work(ctx.uow.tenant, Actor("user", str(ctx.user_id))) as uow:
        _exam_named(uow, exam_id)


def _still_allowed(request: Request, secret: str) -> bool:
    """The stream's session is live and its role still allows the console."""
    tenant_id = split_secret("ws", secret)
    if tenant_id is None:
        return False
    db, settings = request.app.state.db, request.app.state.settings
    with db.unit_of_work(tenant_id, Actor("anonymous", "web")) as uow:
        viewer = sessions.web_viewer(uow, settings, secret)
        return (
            viewer is not None
            and not viewer.mfa_enroll_only
            and P.PROCTOR_LIVE.value in viewer.permissions
        )


@router.get("/proctoring/live/snapshots/{snapshot_id}")
def snapshot(
    request: Request, snapshot_id: str, ctx: PageContext = requires_page(P.PROCTOR_LIVE)
) -> Response:
    """A fresh signed URL (audited) for an attempt's snapshot; seeing a
    candidate's picture also needs ``evidence:view``."""
    sid = _parse_id(snapshot_id, "snapshot")
    found = ctx.uow.scalar(select(Snapshot).where(Snapshot.id == sid))
    if found is None:
        raise NotFound(f"snapshot {sid} was not found")
    if not ctx.can(P.EVIDENCE_VIEW):
        raise Forbidden("seeing a candidate's pictures needs evidence:view")
    signed = evidence_api.issue_url(found.object_id, request, ctx.uow)
    return RedirectResponse(
        signed.url,
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


# --- stepping in ----------------------------------------------------------------


def _stepped(
    ctx: PageContext, attempt_id: str, csrf: str, step: Callable[[uuid.UUID], object]
) -> JSONResponse:
    check_csrf(ctx, csrf)
    aid = _parse_id(attempt_id, "attempt")
    step(aid)
    ctx.uow.flush()
    tiles = _watchable(live_view.tiles(ctx.uow, attempt_ids=[aid]), ctx.can(P.EVIDENCE_VIEW))
    return JSONResponse(
        {"attempt": tiles[0] if tiles else None}, headers={"Cache-Control": "no-store"}
    )


@router.post("/proctoring/live/attempts/{attempt_id}/messages")
def message(
    attempt_id: str,
    csrf: Csrf,
    text: Text = "",
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> JSONResponse:
    return _stepped(ctx, attempt_id, csrf, lambda a: live.send_message(ctx.uow, a, text))


@router.post("/proctoring/live/attempts/{attempt_id}/time")
def add_time(
    attempt_id: str,
    csrf: Csrf,
    minutes: Minutes = "",
    reason: Reason = "",
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> JSONResponse:
    whole: object = int(minutes) if minutes.strip().isdigit() else minutes
    return _stepped(ctx, attempt_id, csrf, lambda a: live.add_time(ctx.uow, a, whole, reason))


@router.post("/proctoring/live/attempts/{attempt_id}/pause")
def pause(
    attempt_id: str,
    csrf: Csrf,
    reason: Reason = "",
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> JSONResponse:
    return _stepped(ctx, attempt_id, csrf, lambda a: live.pause(ctx.uow, a, reason))


@router.post("/proctoring/live/attempts/{attempt_id}/resume")
def resume(
    attempt_id: str, csrf: Csrf, ctx: PageContext = requires_page(P.PROCTOR_LIVE)
) -> JSONResponse:
    return _stepped(ctx, attempt_id, csrf, lambda a: live.resume(ctx.uow, a))


@router.post("/proctoring/live/attempts/{attempt_id}/end")
def end(
    attempt_id: str,
    csrf: Csrf,
    reason: Reason = "",
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> JSONResponse:
    return _stepped(ctx, attempt_id, csrf, lambda a: live.end(ctx.uow, a, reason))


@router.post("/proctoring/live/attempts/{attempt_id}/room-check")
def room_check(
    attempt_id: str,
    csrf: Csrf,
    reason: Reason = "",
    ctx: PageContext = requires_page(P.PROCTOR_LIVE),
) -> JSONResponse:
    return _stepped(ctx, attempt_id, csrf, lambda a: live.request_room_check(ctx.uow, a, reason))


# --- who may watch an exam -------------------------------------------------------


def _candidates_for_watching(uow: UnitOfWork) -> list[Any]:
    """The organisation's active users who hold proctor:live, by e-mail."""
    from invigil.identity import grants
    from invigil.identity.models import User

    users = uow.scalars(select(User).where(User.status == "active").order_by(User.email))
    return [u for u in users if P.PROCTOR_LIVE.value in grants.user_permissions(uow, u.id)]


SAVED = N_("Saved who may watch this exam live.")
NOT_VALID = N_("A chosen proctor is not valid; reload the page.")


def _proctors_page(
    request: Request,
    ctx: PageContext,
    exam_id: uuid.UUID,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    from invigil.content.models import Exam

    exam = ctx.uow.scalar(select(Exam).where(Exam.id == exam_id))
    if exam is None:
        raise NotFound(f"exam {exam_id} was not found")
    named = set(live.proctors_of(ctx.uow, exam_id))
    return render(
        request,
        "proctoring/live_proctors.html",
        {
            "page": ctx,
            "exam": exam,
            "users": _candidates_for_watching(ctx.uow),
            "named": named,
            "error": error,
        },
        status=status,
    )


@router.get("/proctoring/live/exams/{exam_id}/proctors", response_class=HTMLResponse)
def proctors_page(
    request: Request, exam_id: str, ctx: PageContext = requires_page(P.EXAM_PUBLISH)
) -> Response:
    return _proctors_page(request, ctx, _parse_id(exam_id, "exam"))


@router.post("/proctoring/live/exams/{exam_id}/proctors", response_class=HTMLResponse)
def set_proctors(
    request: Request,
    exam_id: str,
    csrf: Csrf,
    user_ids: Annotated[list[str] | None, Form(max_length=live.MAX_PROCTORS)] = None,
    ctx: PageContext = requires_page(P.EXAM_PUBLISH),
) -> Response:
    check_csrf(ctx, csrf)
    eid = _parse_id(exam_id, "exam")
    chosen = []
    for value in user_ids or []:
        try:
            chosen.append(uuid.UUID(value))
        except ValueError:
            return _proctors_page(request, ctx, eid, status=422, error=str(NOT_VALID))
    try:
        live.set_proctors(ctx.uow, eid, chosen)
    except Invalid as refused:
        return _proctors_page(request, ctx, eid, status=422, error=refused.detail)
    words = i18n.gettext(i18n.locale_of({"request": request}), SAVED)
    return flash.redirect(request, f"/proctoring/live/exams/{eid}/proctors", words)
