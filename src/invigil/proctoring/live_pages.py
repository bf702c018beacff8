"""The live console (``proctor:live``): the page, its event stream, the
snapshot thumbnails, and the proctor's steps, for staff signed in on the web.

The stream (``text/event-stream``) sends the whole picture when it opens
(``snapshot``) and then the attempts that changed (``attempts``), each
event with an id a reconnecting browser sends back as ``Last-Event-ID``:
the picture it then gets again includes the attempts that ended meanwhile,
so nothing is missed. Updates come from the process's broker
(:mod:`invigil.proctoring.live_broker`), never from polling. The consoles
of one organisation (and exam) in a process share a :class:`Feed`: one
subscription and one read of the changed tiles for them all, whose event
body is written once, so fifty consoles cost the database what one does.
The viewer's session is checked again every :data:`RECHECK_SECONDS`: a
stream ends when its session does, or when its role no longer allows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
from invigil.logs import get_logger
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
log = get_logger(__name__)

T = TypeVar("T")

# Changes are gathered this long before a stream reads them (one read for a
# burst of signals); well inside the two seconds a console may lag.
GATHER_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
RECHECK_SECONDS = 30.0
# Updates a console may have waiting; one further behind (a slow network)
# has them folded into one: the latest tile of each attempt they carry.
MAX_PENDING = 16
# Clocks of the server and the database may differ a little: a reconnecting
# console's read asks for the attempts that ended since a bit earlier.
ENDED_MARGIN = timedelta(seconds=5)
LISTEN_WAIT_SECONDS = 5.0

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

        found = Broker(libpq(request.app.state.db.urls.listening))
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
    return datetime.fromtimestamp(int(last_event_id) / 1000, UTC) - ENDED_MARGIN


def _watchable(tiles: list[dict[str, Any]], can_see_evidence: bool) -> list[dict[str, Any]]:
    if not can_see_evidence:
        for t in tiles:
            if t["snapshot"] is not None:
                t["snapshot"]["url"] = None
    return tiles


def _masked(tiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of shared tiles without the snapshots' URLs."""
    return [
        {**t, "snapshot": {**t["snapshot"], "url": None}} if t["snapshot"] is not None else t
        for t in tiles
    ]


# --- the consoles' shared feed ----------------------------------------------------


@dataclass(eq=False)
class Update:
    """One read of tiles, sent to every console of a feed: its event is
    encoded once for those who may see evidence and once for the others."""

    name: str  # "attempts"; "snapshot": the whole picture
    tiles: list[dict[str, Any]]
    read_at: datetime  # when the read began
    id: str = field(default_factory=_cursor)
    _encoded: dict[tuple[bool, frozenset[str]], bytes | None] = field(default_factory=dict)

    def event(self, can_see_evidence: bool, hidden: frozenset[str] = frozenset()) -> bytes | None:
        """The event for a console, without the exams ``hidden`` from its
        viewer (exams that name other proctors); None when an ``attempts``
        update holds nothing that console may see."""
        key = (can_see_evidence, hidden)
        if key not in self._encoded:
            tiles = (
                [t for t in self.tiles if t["exam"]["id"] not in hidden] if hidden else self.tiles
            )
            if not tiles and self.name == "attempts":
                self._encoded[key] = None
            else:
                shown = tiles if can_see_evidence else _masked(tiles)
                body = json.dumps({"server_time": self.read_at.isoformat(), "attempts": shown})
                encoded = ServerSentEvent(data=body, event=self.name, id=self.id).encode()
                self._encoded[key] = encoded
        return self._encoded[key]


@dataclass(eq=False)
class Member:
    """One console's place in a feed: the updates it has not sent yet."""

    pending: list[Update] = field(default_factory=list)
    broken: bool = False  # the feed failed: end the stream (the browser reconnects)
    last_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, update: Update) -> None:
        self.pending.append(update)
        if len(self.pending) > MAX_PENDING:
            self.pending = fold(self.pending)
        self.wake.set()

    def take(self) -> list[Update]:
        """What to send now: the waiting updates, folded into one when there
        are several (the console was slow to read)."""
        pending, self.pending = self.pending, []
        self.wake.clear()
        return fold(pending) if len(pending) > 1 else pending

    async def wait(self, timeout: float) -> bool:
        """Wait for an update (True) or ``timeout`` seconds (False)."""
        if self.pending or self.broken:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout)
        return bool(self.pending or self.broken)


def fold(updates: list[Update]) -> list[Update]:
    """Updates as one console would end up seeing them, sent as fewer: the
    tiles are state, not events, so a later tile of an attempt replaces an
    earlier one and nothing is lost. A whole picture starts again: what came
    before it is in it. No database read; the memory a slow console holds is
    at most one tile per attempt."""
    start = max((i for i, u in enumerate(updates) if u.name == "snapshot"), default=0)
    kept = updates[start:]
    if len(kept) == 1:
        return kept
    latest: dict[str, dict[str, Any]] = {}
    for update in kept:
        for tile in update.tiles:
            latest.pop(tile["id"], None)  # re-inserted last: the order changes arrived in
            latest[tile["id"]] = tile
    last = kept[-1]
    return [Update(kept[0].name, list(latest.values()), last.read_at, last.id)]


class Feed:
    """The consoles of one organisation (and exam) in this process: one
    subscription; the changes it hears are gathered for
    :data:`GATHER_SECONDS`, read once and handed to every member."""

    def __init__(
        self,
        feeds: dict[tuple[uuid.UUID, uuid.UUID | None], Feed],
        key: tuple[uuid.UUID, uuid.UUID | None],
        broker: Broker,
        read: Callable[..., list[dict[str, Any]]],
    ) -> None:
        self._feeds, self._key, self._broker, self._read = feeds, key, broker, read
        self.members: set[Member] = set()
        self._pictures: dict[datetime | None, asyncio.Future[Update]] = {}
        self._painting: set[datetime | None] = set()  # pictures being read
        self._reading: set[asyncio.Task[None]] = set()  # their tasks, held
        self.sub = broker.subscribe(key[0])
        self.loop = asyncio.get_running_loop()
        self.task = self.loop.create_task(self._run(), name="invigil-live-feed")

    def picture(self, since: datetime | None) -> asyncio.Future[Update]:
        """The whole picture, with the attempts that ended since ``since``,
        from a read that begins after this call. One such read at a time:
        the consoles that ask while it runs (opened together, or back after
        a restart) share the next one."""
        waiting = self._pictures.get(since)
        if waiting is None:
            waiting = self._pictures[since] = self.loop.create_future()
            if since not in self._painting:
                self._painting.add(since)
                task = self.loop.create_task(self._paint(since))
                self._reading.add(task)
                task.add_done_callback(self._reading.discard)
        return waiting

    async def _paint(self, since: datetime | None) -> None:
        try:
            # A change is heard only once the process listens: read after that
            # (a new process's first console), or after a while if the database
            # is away (the listener tells every feed to read again once back).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._broker.listening.wait(), LISTEN_WAIT_SECONDS)
            while (waiting := self._pictures.pop(since, None)) is not None:
                read_at = datetime.now(UTC)  # who asks from now on waits for the next read
                try:
                    tiles = await run_in_threadpool(self._read, ended_since=since)
                except Exception as exc:
                    waiting.set_exception(exc)
                    continue
                waiting.set_result(Update("snapshot", tiles, read_at))
        finally:
            self._painting.discard(since)

    def leave(self, member: Member) -> None:
        self.members.discard(member)
        if not self.members:
            self.task.cancel()
            self._close()

    def _close(self) -> None:
        self._broker.unsubscribe(self.sub)
        if self._feeds.get(self._key) is self:
            del self._feeds[self._key]

    def _publish(self, update: Update) -> None:
        for member in self.members:
            member.push(update)

    async def _run(self) -> None:
        try:
            while self.members:
                if not await self.sub.wait(KEEPALIVE_SECONDS):
                    continue
                await anyio.sleep(GATHER_SECONDS)
                changed, resync = self.sub.take()
                read_at = datetime.now(UTC)
                if resync:
                    tiles = await run_in_threadpool(self._read, ended_since=read_at)
                    self._publish(Update("snapshot", tiles, read_at))
                elif changed:
                    tiles = await run_in_threadpool(self._read, attempt_ids=sorted(changed))
                    if tiles:
                        self._publish(Update("attempts", tiles, read_at))
        except Exception as exc:  # the database went away: the browsers reconnect
            log.warning("live.feed_failed", error=str(exc))
            for member in self.members:
                member.broken = True
                member.wake.set()
        finally:
            self._close()


def join(request: Request, tenant_id: uuid.UUID, exam_id: uuid.UUID | None) -> tuple[Feed, Member]:
    """A place in this process's feed of the organisation (and exam)."""
    feeds: dict[tuple[uuid.UUID, uuid.UUID | None], Feed] | None = getattr(
        request.app.state, "live_feeds", None
    )
    if feeds is None:
        feeds = request.app.state.live_feeds = {}
    key = (tenant_id, exam_id)
    feed = feeds.get(key)
    if feed is None or feed.task.done() or feed.loop is not asyncio.get_running_loop():
        db = request.app.state.db

        def read(**kw: Any) -> list[dict[str, Any]]:
            with db.unit_of_work(tenant_id, Actor.system("live.console")) as uow:
                return live_view.tiles(uow, exam_id=exam_id, **kw)

        feed = feeds[key] = Feed(feeds, key, broker(request), read)
    member = Member()
    feed.members.add(member)
    return feed, member


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
    once = not follows(request)
    admission.leave(request.scope)  # a stream holds no connection while it waits

    def hidden_now() -> frozenset[str]:
        db = request.app.state.db
        with db.unit_of_work(tenant_id, Actor("user", str(user_id))) as uow:
            return frozenset(str(e) for e in live.hidden_exams(uow))

    def read(**kw: Any) -> list[dict[str, Any]]:
        db = request.app.state.db
        with db.unit_of_work(tenant_id, Actor("user", str(user_id))) as uow:
            return _watchable(live_view.tiles(uow, exam_id=exam_id, **kw), evidence)

    def event(name: str, tiles: list[dict[str, Any]]) -> ServerSentEvent:
        body = {"server_time": datetime.now(UTC).isoformat(), "attempts": tiles}
        return ServerSentEvent(data=json.dumps(body), event=name, id=_cursor())

    async def events() -> AsyncIterator[ServerSentEvent | bytes]:
        place = None
        try:
            if once:
                yield event("snapshot", await run_in_threadpool(read, ended_since=since))
                return
            # The feed reads every attempt of the organisation (and exam):
            # what this viewer may not watch is left out of what it sends.
            hidden = await run_in_threadpool(hidden_now)
            # Joined before the picture is read: no change after it is missed.
            feed, member = place = join(request, tenant_id, exam_id)
            picture = await asyncio.shield(feed.picture(since))
            yield picture.event(evidence, hidden) or b""
            member.last_at = picture.read_at
            checked = time.monotonic()
            while True:
                if time.monotonic() - checked > RECHECK_SECONDS:
                    if not await run_in_threadpool(_still_allowed, request, secret):
                        yield ServerSentEvent(data="{}", event="end")
                        return
                    hidden = await run_in_threadpool(hidden_now)
                    checked = time.monotonic()
                if not await member.wait(KEEPALIVE_SECONDS):
                    continue  # sse-starlette sends the keep-alive comments
                if member.broken:
                    return
                for update in member.take():
                    # An update read before the picture sent is older than it:
                    # what it carries is in the picture.
                    if update.read_at >= member.last_at:
                        sent = update.event(evidence, hidden)
                        if sent is not None:
                            yield sent
                        member.last_at = update.read_at
        finally:
            if place is not None:
                place[0].leave(place[1])

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
