"""Live monitoring: proctors' consoles watching a tenant's attempts in
progress while the candidates' load runs (docs/live-monitoring.md, ADR 0068).

Setup as in *Candidates* (benchmarks/delivery.py), under the strict preset
as in *Proctoring events*: :data:`ATTEMPTS` begun attempts of one tenant
(fewer when setting them up through the services outlasts
:data:`SETUP_BUDGET`; the count measured is reported), and :data:`CONSOLES`
staff users of the built-in role ``proctor_reviewer`` (``proctor:live``),
each with a web session made through the service layer, as sign-in makes it.

The candidates' load is that of the two benchmarks, open loop, for the first
:data:`ACTIVE` candidates (the others are in progress and quiet, as if
reading): a save every 10 s with a heartbeat half-way, and a batch of
proctoring events every 5 s. It runs on one server (``invigil serve``, one
worker) with the same schedule (a) with no console open, (b) with the
consoles open, (c) with the consoles open and, besides, the live signals the
quiet attempts would send if they were as busy as the active ones (NOTIFY
sent for them at the rate heard per active attempt in (a)): the consoles'
side of every attempt at work, the writes' side of :data:`ACTIVE`. The
consoles' client is a process of its own (its CPU is reported apart), a
minimal asyncio HTTP/1.1 reader of ``GET /proctoring/live/stream`` with
``Accept: text/event-stream``; all consoles open at once before (b) and wait
for their ``snapshot`` before the candidates go on.

Latency to the consoles: for every save acknowledged as ``saved``, the time
from the moment the client sent it to the moment each console received a
tile of that attempt whose ``answered`` reached the count the save made
(every save answers a question not answered before). A pair (save, console)
with no such tile by :data:`GRACE` seconds after the load is *missed*.
Clocks: ``time.perf_counter`` is CLOCK_MONOTONIC on Linux, the same clock in
both processes. NOTIFY signals are counted by a listening connection of the
benchmark's own, like the server's.

Run alone: ``python -m benchmarks.live`` (fresh database).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from benchmarks import delivery, events, standalone
from benchmarks.delivery import (
    CONNECTIONS,
    Candidate,
    Pool,
    Scenario,
    _cpu_s,
    _event_loop,
    _family_kb,
    _pct,
    _reset_peak,
    _snapshot,
    _status_kb,
    serve,
    setup,
)
from invigil.db import signals
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.identity import auth
from invigil.identity import service as identity
from invigil.proctoring import pipeline
from invigil.proctoring.live_view import MAX_TILES
from invigil.proctoring.pipeline import genesis
from invigil.settings import Settings
from invigil.web.session import COOKIE

ATTEMPTS = 5_000  # the target: attempts in progress in the tenant the consoles watch
SETUP_BUDGET = 150.0  # seconds of setup; the attempts begun by then are measured
ACTIVE = 500  # candidates sending the realistic load (the others are quiet)
CONSOLES = 50
SAVE_PERIOD = 10.0  # a save every 10 s, a heartbeat half-way (benchmarks/delivery.py)
GRACE = 3.0  # seconds after the load for the last updates to reach the consoles
SNAPSHOT_TIMEOUT = 180.0
SETTLE_MAX = 120.0  # seconds to wait for a quiet server and database before a run
QUIET = 0.10  # of a core, over two seconds
STREAM = "/proctoring/live/stream"

RUNS = (
    Scenario("quiet", "(a) no console", 10, 30, period=SAVE_PERIOD),
    Scenario("watched", f"(b) {CONSOLES} consoles", 10, 30, period=SAVE_PERIOD),
    Scenario(
        "full", f"(c) {CONSOLES} consoles, every attempt's signals", 10, 30, period=SAVE_PERIOD
    ),
)
WATCHED = tuple(r for r in RUNS if r.key != "quiet")
METRICS = {
    "saves_s": ("Saves acknowledged", "/s"),
    "batches_s": ("Event batches acknowledged", "/s"),
    "req_p50_ms": ("Candidates' requests, latency p50 (saves, heartbeats, batches)", "ms"),
    "req_p95_ms": ("Candidates' requests, latency p95", "ms"),
    "req_p99_ms": ("Candidates' requests, latency p99", "ms"),
    "req_max_ms": ("Candidates' requests, latency max", "ms"),
    "save_p99_ms": ("Save latency p99", "ms"),
    "heartbeat_p99_ms": ("Heartbeat latency p99", "ms"),
    "batch_p99_ms": ("Event batch latency p99", "ms"),
    "settle_s": ("Waited before the run for a quiet server and database", "s"),
    "errors": ("Candidates' errors, warm-up included", ""),
    "skipped": ("Candidates' requests skipped or merged (the previous one still out)", ""),
    "signals_s": ("NOTIFY signals heard", "/s"),
    "extra_signals_s": ("of which sent for the quiet attempts", "/s"),
    "server_cpu_pct": ("Server CPU (100 = one core)", "%"),
    "postgres_cpu_pct": ("PostgreSQL CPU", "%"),
    "server_rss_mb": ("Server resident memory at the end", "MB"),
    "server_peak_rss_mb": ("Server peak resident memory (VmHWM)", "MB"),
    "client_cpu_pct": ("Candidates' load generator CPU", "%"),
    "consoles_cpu_pct": ("Consoles' client CPU", "%"),
    "other_cpu_pct": ("Other processes on the machine", "%"),
}
CONSOLE_METRICS = {
    "p50_ms": ("Save to console, p50", "ms"),
    "p95_ms": ("Save to console, p95", "ms"),
    "p99_ms": ("Save to console, p99 (target < 2,000)", "ms"),
    "max_ms": ("Save to console, max", "ms"),
    "pairs": ("(save, console) pairs measured in the window", ""),
    "missed": ("(save, console) pairs missed, warm-up included (target 0)", ""),
    "early": ("Tiles showing a save before it was sent (should be 0)", ""),
    "events_s": ("`attempts` events a console received", "/s"),
    "tiles_s": ("Tiles received, all consoles", "/s"),
    "mb_s": ("Stream bytes received, all consoles", "MB/s"),
}
OPENING = {
    "snapshot_tiles": ("Tiles in a console's first `snapshot`", ""),
    "snapshot_kb": ("Size of a console's first `snapshot`", "KB"),
    "snapshot_p50_s": ("Console opened to its `snapshot`, p50 (all opened at once)", "s"),
    "snapshot_max_s": ("Console opened to its `snapshot`, max", "s"),
    "server_rss_consoles_mb": ("Server resident memory once they had it", "MB"),
    "console_errors": ("Streams that failed or ended", ""),
}
LABELS = {
    f"live_{r.key}_{key}": (f"{label} ({r.title})", unit)
    for r in RUNS
    for key, (label, unit) in METRICS.items()
}
LABELS |= {
    f"live_{r.key}_console_{key}": (f"{label} ({r.title})", unit)
    for r in WATCHED
    for key, (label, unit) in CONSOLE_METRICS.items()
}
LABELS |= {f"live_{key}": value for key, value in OPENING.items()}
LABELS |= {
    "live_attempts": ("Attempts in progress in the watched tenant", ""),
    "live_active": ("Candidates sending the load", ""),
    "live_setup_s": ("Setting up the attempts through the services", "s"),
    "live_silence_s": ("The server noticing the quiet attempts' silence, before the runs", "s"),
    "live_server_idle_rss_mb": ("Server resident memory before the load", "MB"),
    "live_p99_ratio": ("Candidates' p99, (b) / (a)", ""),
    "live_full_p99_ratio": ("Candidates' p99, (c) / (a)", ""),
}


# --- the candidates ---------------------------------------------------------------


@dataclass
class Saves:
    """Every save the candidates had acknowledged as ``saved``:
    (attempt, questions answered once stored, sent at, acknowledged at)."""

    ids: dict[str, uuid.UUID]  # token -> attempt
    answered: dict[str, set[int]] = field(default_factory=dict)  # token -> positions saved
    log: list[tuple[uuid.UUID, int, float, float]] = field(default_factory=list)


class Recording(Pool):
    """The benchmarks' client pool, writing down each acknowledged save."""

    def __init__(self, port: int, size: int, saves: Saves) -> None:
        super().__init__(port, size)
        self.saves = saves

    async def post(self, path: str, body: bytes, cookie: str) -> tuple[int, bytes]:
        if not path.endswith("/api/answers"):
            return await super().post(path, body, cookie)
        sent = time.perf_counter()
        status, reply = await super().post(path, body, cookie)
        with contextlib.suppress(ValueError, KeyError, IndexError):
            if status == 200 and json.loads(reply)["results"][0]["status"] == "saved":
                token = path.split("/")[2]
                done = self.saves.answered.setdefault(token, set())
                done.add(json.loads(body)["items"][0]["index"])
                self.saves.log.append((self.saves.ids[token], len(done), sent, time.perf_counter()))
        return status, reply


async def _listen(dsn: str, heard: list[float]) -> None:
    """Count the live signals, as the server's listener hears them."""
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(f"LISTEN {signals.CHANNEL}")
        async for _ in conn.notifies():
            heard.append(time.perf_counter())


@dataclass(frozen=True)
class Extra:
    """Signals for the quiet attempts: ``rate`` a second, each naming one."""

    dsn: str
    tenant_id: uuid.UUID
    attempts: list[uuid.UUID]
    rate: float


async def _signal(extra: Extra, end: float, sent: list[float]) -> None:
    """NOTIFY as the quiet attempts' writes would, every 50 ms (one
    statement, each signal its own payload)."""
    rng, tick, due = random.Random(7), 0.05, 0.0
    async with await psycopg.AsyncConnection.connect(extra.dsn, autocommit=True) as conn:
        at = time.perf_counter()
        while at < end:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            due += extra.rate * tick
            n = int(due)
            due -= n
            if n:
                names = [f"{extra.tenant_id} {rng.choice(extra.attempts)}" for _ in range(n)]
                await conn.execute(
                    "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p",
                    (signals.CHANNEL, names),
                )
                sent += [time.perf_counter()] * n
            at += tick


@dataclass
class Loaded:
    candidates: delivery.Run
    batches: events.Run
    heard: list[float]
    extra: list[float]
    before: tuple[float, ...]
    after: tuple[float, ...]
    started: float = 0.0
    ended: float = 0.0


async def _load(
    port: int,
    dsn: str,
    people: list[Candidate],
    streams: list[events.Stream],
    sc: Scenario,
    probe: Callable[[], tuple[float, ...]],
    saves: Saves,
    extra: Extra | None,
) -> Loaded:
    done = Loaded(delivery.Run(), events.Run(), [], [], (), (), time.perf_counter())
    pool = Recording(port, CONNECTIONS, saves)
    listener = asyncio.create_task(_listen(dsn, done.heard))
    end = time.perf_counter() + sc.warm + sc.seconds
    tasks = [
        asyncio.create_task(delivery._open_loop(pool, c, sc.period, end, done.candidates))
        for c in people
    ]
    tasks += [asyncio.create_task(events._open_loop(pool, s, end, done.batches)) for s in streams]
    if extra is not None:
        tasks.append(asyncio.create_task(_signal(extra, end, done.extra)))
    await asyncio.sleep(sc.warm)
    done.before = probe()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    done.after = probe()
    await asyncio.gather(*tasks)
    done.ended = time.perf_counter()
    pool.close()
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    return done


def _summary(done: Loaded, pid: int) -> dict[str, float]:
    before, after = done.before, done.after
    start, stop = before[0], after[0]
    wall = stop - start
    ours = [x for x in done.candidates.samples if start <= x[2] < stop]
    batches = [x for x in done.batches.samples if start <= x[1] < stop]
    saves = [x[3] * 1000 for x in ours if x[0]]  # failures too
    beats = [x[3] * 1000 for x in ours if not x[0]]
    sent = [x[2] * 1000 for x in batches]
    every = saves + beats + sent
    server, pg, client, busy, consoles = (after[i] - before[i] for i in range(1, 6))
    return {
        "saves_s": sum(1 for x in ours if x[0] and x[1]) / wall,
        "batches_s": sum(1 for x in batches if x[0]) / wall,
        "req_p50_ms": _pct(every, 50),
        "req_p95_ms": _pct(every, 95),
        "req_p99_ms": _pct(every, 99),
        "req_max_ms": max(every, default=0.0),
        "save_p99_ms": _pct(saves, 99),
        "heartbeat_p99_ms": _pct(beats, 99),
        "batch_p99_ms": _pct(sent, 99),
        "errors": float(len(done.candidates.errors) + len(done.batches.errors)),
        "skipped": float(done.candidates.skipped + done.batches.skipped),
        "signals_s": sum(1 for t in done.heard if start <= t < stop) / wall,
        "extra_signals_s": sum(1 for t in done.extra if start <= t < stop) / wall,
        "server_cpu_pct": 100 * server / wall,
        "postgres_cpu_pct": 100 * pg / wall,
        "server_rss_mb": _family_kb(pid, "VmRSS") / 1024,
        "server_peak_rss_mb": _family_kb(pid, "VmHWM") / 1024,
        "client_cpu_pct": 100 * client / wall,
        "consoles_cpu_pct": 100 * consoles / wall,
        "other_cpu_pct": 100 * max(0.0, busy - server - pg - client - consoles) / wall,
    }


def _settle(pid: int, pgdata: Path) -> float:
    """Wait until the server and PostgreSQL are quiet (what a setup or the
    previous run left to do, autovacuum among it, is done): the seconds
    waited, at most :data:`SETTLE_MAX`."""
    began = time.perf_counter()
    while time.perf_counter() - began < SETTLE_MAX:
        before = _snapshot(pid, pgdata)
        time.sleep(2.0)
        after = _snapshot(pid, pgdata)
        wall = after[0] - before[0]
        if (after[1] - before[1]) / wall < QUIET and (after[2] - before[2]) / wall < QUIET:
            break
    return time.perf_counter() - began


# --- the consoles (a process of their own) -----------------------------------------


@dataclass
class Watch:
    """What one console received."""

    opened: float = 0.0
    snapshot_at: float = 0.0
    snapshot_tiles: int = 0
    snapshot_bytes: int = 0
    error: str = ""
    received: list[tuple[float, int, int]] = field(default_factory=list)  # at, tiles, bytes
    answered: dict[str, int] = field(default_factory=dict)  # attempt -> highest seen
    # (attempt, answered, received at): each time a tile showed more answered
    seen: list[tuple[str, int, float]] = field(default_factory=list)


async def _console(port: int, cookie: str, w: Watch, ready: asyncio.Event) -> None:
    """Follow the console's stream: HTTP/1.1, chunked, Server-Sent Events."""
    w.opened = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            f"GET {STREAM} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        if not head.startswith("http/1.1 200"):
            raise ValueError(head.split("\r\n", 1)[0])
        chunked = "transfer-encoding: chunked" in head
        pending = bytearray()
        while True:
            if chunked:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                data = (await reader.readexactly(size + 2))[:-2] if size else b""
            else:
                data = await reader.read(1 << 16)
            if not data:
                raise ValueError("the stream ended")
            now = time.perf_counter()
            pending += data.replace(b"\r\n", b"\n")
            while (cut := pending.find(b"\n\n")) >= 0:
                block = bytes(pending[:cut])
                del pending[: cut + 2]
                _event(block, now, w, ready)
    finally:
        writer.close()


def _event(block: bytes, now: float, w: Watch, ready: asyncio.Event) -> None:
    name, data = "message", b""
    for line in block.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data += line[5:].strip()
    if name == "end":
        raise ValueError("the server ended the stream")
    if name not in ("snapshot", "attempts"):
        return  # keep-alive comments
    tiles = json.loads(data)["attempts"]
    first = not w.snapshot_at
    if first:
        w.snapshot_at, w.snapshot_tiles, w.snapshot_bytes = now, len(tiles), len(data)
    else:
        w.received.append((now, len(tiles), len(data)))
    for t in tiles:
        attempt, answered = t["id"], t["answered"]
        if answered > w.answered.get(attempt, -1):
            w.answered[attempt] = answered
            if not first:
                w.seen.append((attempt, answered, now))
    if first and all(x.snapshot_at for x in _WATCHES):
        ready.set()


_WATCHES: list[Watch] = []


def consoles_main() -> None:
    """The consoles' process (``python -c``): reads the port and the cookies
    as one JSON line, opens every stream at once, writes ``ready`` when every
    console has its snapshot, follows until a line on its input, then writes
    what each console saw (one JSON line)."""
    order = json.loads(sys.stdin.readline())
    port, cookies = order["port"], order["cookies"]

    async def run() -> None:
        _WATCHES[:] = [Watch() for _ in cookies]
        ready, stop = asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)

        async def follow(cookie: str, w: Watch) -> None:
            try:
                await _console(port, cookie, w, ready)
            except (OSError, ValueError, KeyError, asyncio.IncompleteReadError) as exc:
                w.error = f"{type(exc).__name__}: {exc}"[:200]
                if not w.snapshot_at:
                    w.snapshot_at = -1.0  # never: do not wait for it
                    if all(x.snapshot_at for x in _WATCHES):
                        ready.set()

        tasks = [asyncio.create_task(follow(c, w)) for c, w in zip(cookies, _WATCHES, strict=True)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), SNAPSHOT_TIMEOUT)
        print(f"ready {int(ready.is_set())}", flush=True)
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        print("seen " + json.dumps([vars(w) for w in _WATCHES]), flush=True)

    with asyncio.Runner(loop_factory=_event_loop()) as runner:
        runner.run(run())


@contextlib.contextmanager
def consoles(port: int, cookies: list[str]) -> Iterator[tuple[int, Callable[[], list[Watch]]]]:
    """Start the consoles' process and wait for every snapshot; yields its
    pid and a function that stops the consoles and returns what they saw."""
    child = subprocess.Popen(
        [sys.executable, "-c", "from benchmarks.live import consoles_main; consoles_main()"],
        cwd=Path(__file__).resolve().parent.parent,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    stdin, stdout = child.stdin, child.stdout

    def said(word: str) -> str:
        for line in stdout:  # ends when the process does
            if line.startswith(word + " "):
                return line[len(word) + 1 :]
        raise RuntimeError("the consoles' process ended early")

    def seen() -> list[Watch]:
        stdin.write("stop\n")
        stdin.flush()
        return [Watch(**w) for w in json.loads(said("seen"))]

    try:
        stdin.write(json.dumps({"port": port, "cookies": cookies}) + "\n")
        stdin.flush()
        if said("ready").strip() != "1":
            print("live: not every console had its snapshot in time", file=sys.stderr)
        yield child.pid, seen
    finally:
        with contextlib.suppress(OSError):
            stdin.close()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def _opening(watches: list[Watch]) -> dict[str, float]:
    live = [w for w in watches if w.snapshot_at > 0]
    opened = [w.snapshot_at - w.opened for w in live]
    return {
        "snapshot_tiles": float(max((w.snapshot_tiles for w in live), default=0)),
        "snapshot_kb": max((w.snapshot_bytes for w in live), default=0) / 1024,
        "snapshot_p50_s": _pct(opened, 50),
        "snapshot_max_s": max(opened, default=0.0),
        "console_errors": float(sum(1 for w in watches if w.error)),
    }


def _reached(
    watches: list[Watch], saves: Saves, run: tuple[float, float], window: tuple[float, float]
) -> dict[str, float]:
    """Each save sent during ``run`` against each console: when a tile first
    showed its count (latency for those sent in ``window``), or never."""
    shown: list[dict[str, tuple[list[int], list[float]]]] = []
    for w in watches:
        per: dict[str, tuple[list[int], list[float]]] = {}
        for attempt, answered, at in w.seen:
            counts, times = per.setdefault(attempt, ([], []))
            counts.append(answered)  # increasing: only a higher count is written down
            times.append(at)
        shown.append(per)
    latencies: list[float] = []
    missed = early = 0
    for attempt, answered, sent, _ in saves.log:
        if not run[0] <= sent < run[1]:
            continue
        for per in shown:
            counts, times = per.get(str(attempt), ([], []))
            k = bisect.bisect_left(counts, answered)
            if k == len(counts):
                missed += 1
                continue
            early += times[k] < sent
            if window[0] <= sent < window[1]:
                latencies.append(max(0.0, times[k] - sent) * 1000)
    start, stop = window
    got = [x for w in watches for x in w.received if start <= x[0] < stop]
    return {
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "max_ms": max(latencies, default=0.0),
        "pairs": float(len(latencies)),
        "missed": float(missed),
        "early": float(early),
        "events_s": len(got) / max(1, len(watches)) / (stop - start),
        "tiles_s": sum(x[1] for x in got) / (stop - start),
        "mb_s": sum(x[2] for x in got) / (stop - start) / 1e6,
    }


# --- the run -----------------------------------------------------------------------


def staff(db: Database, settings: Settings, tenant_id: uuid.UUID, n: int) -> list[str]:
    """``n`` proctors, each signed in on the web: their session cookies."""
    cookies = []
    with db.unit_of_work(tenant_id) as uow:
        for i in range(n):
            user = identity.create_user(
                uow, email=f"proctor{i}@bench.test", roles=["proctor_reviewer"]
            )
            _, secret = auth.open_session(
                uow,
                settings,
                user,
                kind="web",
                address="127.0.0.1",
                user_agent="invigil-bench",
                enroll_only=False,
            )
            cookies.append(f"{COOKIE}={secret}")
    return cookies


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    began = time.perf_counter()
    people = setup(db, settings, tenant_id, ATTEMPTS, preset="strict", budget=SETUP_BUDGET)
    out = {
        "live_attempts": float(len(people)),
        "live_setup_s": time.perf_counter() - began,
        "live_active": float(min(ACTIVE, len(people))),
    }
    cookies = staff(db, settings, tenant_id, CONSOLES)
    active, quiet = people[:ACTIVE], [c.attempt_id for c in people[ACTIVE:]]
    streams = [
        events.Stream(c, random.Random(c.token), genesis(c.attempt_id), last_at=time.time())
        for c in active
    ]
    saves = Saves({c.token: c.attempt_id for c in active})
    superuser = libpq(urls.admin.set(database=urls.owner.database))
    with psycopg.connect(superuser, autocommit=True) as conn:
        # Start from the steady state of a running exam, not from a bulk load
        # (every table analysed: the other benchmarks' tables are large).
        conn.execute("VACUUM candidates, invitations, guest_links, attempts, users, auth_sessions")
        conn.execute("ANALYZE")
        with contextlib.suppress(psycopg.Error):
            conn.execute("CHECKPOINT")
    # The quiet attempts' browsers are silent: the server notices that once
    # (an event and a policy evaluation each) and then leaves them alone. It
    # is done before the runs, not by the closing job's first pass inside one.
    began = time.perf_counter()
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute(
            "UPDATE attempts SET last_seen_at = now() - interval '1 hour' WHERE id = ANY(%s)",
            (quiet,),
        )
    while pipeline.notice_silence(db):
        pass
    out["live_silence_s"] = time.perf_counter() - began
    pgdata = settings.home / "pgdata"
    runs: dict[str, Loaded] = {}
    with serve(superuser, settings.home) as (port, pid), contextlib.ExitStack() as stack:
        out["live_server_idle_rss_mb"] = _status_kb(pid, "VmRSS") / 1024
        watching: list[int] = []
        seen: Callable[[], list[Watch]] | None = None
        for sc in RUNS:
            extra = None
            if sc.key != "quiet" and seen is None:
                child, seen = stack.enter_context(consoles(port, cookies))
                watching.append(child)
                out["live_server_rss_consoles_mb"] = _family_kb(pid, "VmRSS") / 1024
            if sc.key == "full" and quiet:
                per = out["live_quiet_signals_s"] / max(1, len(active))
                extra = Extra(superuser, tenant_id, quiet, per * len(quiet))

            def probe() -> tuple[float, ...]:
                return (*_snapshot(pid, pgdata), _cpu_s(watching))

            out[f"live_{sc.key}_settle_s"] = _settle(pid, pgdata)
            _reset_peak(pid)
            with asyncio.Runner(loop_factory=_event_loop()) as runner:
                done = runner.run(_load(port, superuser, active, streams, sc, probe, saves, extra))
            runs[sc.key] = done
            out |= {f"live_{sc.key}_{k}": v for k, v in _summary(done, pid).items()}
            for error in sorted(set(done.candidates.errors + done.batches.errors))[:5]:
                print(f"live {sc.key}: {error}", file=sys.stderr)
        if seen is not None:
            time.sleep(GRACE)
            watches = seen()
            for error in sorted({w.error for w in watches if w.error})[:5]:
                print(f"live console: {error}", file=sys.stderr)
            out |= {f"live_{k}": v for k, v in _opening(watches).items()}
            for sc in WATCHED:
                done = runs[sc.key]
                window = (done.before[0], done.after[0])
                found = _reached(watches, saves, (done.started, done.ended), window)
                out |= {f"live_{sc.key}_console_{k}": v for k, v in found.items()}
    base = out["live_quiet_req_p99_ms"]
    out["live_p99_ratio"] = out["live_watched_req_p99_ms"] / base if base else 0.0
    out["live_full_p99_ratio"] = out["live_full_req_p99_ms"] / base if base else 0.0
    return out


# --- docs/performance.md -----------------------------------------------------------


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def section(figures: dict[str, float]) -> list[str]:
    """The "Live monitoring" part of docs/performance.md."""
    if "live_p99_ratio" not in figures:
        return []
    n, active = figures["live_attempts"], figures["live_active"]
    windows = "; ".join(f"{r.warm:g} s + {r.seconds:g} s" for r in RUNS)
    offered = ATTEMPTS * (2 / SAVE_PERIOD + 1 / events.PERIOD)
    lines = [
        "",
        "## Live monitoring",
        "",
        f"{CONSOLES} proctors' consoles (`GET {STREAM}`, `Accept: text/event-stream`, each "
        "the web session of a",
        f"`proctor_reviewer`) watch one tenant of **{n:,.0f} attempts in progress** (target "
        f"{ATTEMPTS:,}; setting them",
        f"up through the services took {figures['live_setup_s']:,.0f} s, and stops after "
        f"{SETUP_BUDGET:g} s on a slower machine). A console shows",
        f"at most {MAX_TILES:,} tiles at once, and is sent the changed tiles of every attempt. "
        "The candidates'",
        "load, open loop as in *Candidates* and *Proctoring events* (strict preset), comes from "
        f"the first {active:,.0f}:",
        f"a save every {SAVE_PERIOD:g} s with a heartbeat half-way, an event batch every "
        f"{events.PERIOD:g} s; the other attempts",
        "are quiet: the load of all "
        f"{ATTEMPTS:,} ({offered:,.0f} requests/s) is several times what one two-core machine",
        "serves. Their browsers are silent, which the server noticed before the runs "
        f"({figures.get('live_silence_s', 0.0):,.0f} s: an event",
        "and a policy evaluation each), as it would have a minute into the exam.",
        "One server (`invigil serve`, one worker), the same schedule three times: (a) no console;",
        "(b) every console open (opened at once before it, each waiting for its `snapshot`); "
        "(c) the same,",
        "plus NOTIFY sent for the quiet attempts at the rate heard per active attempt in (a), "
        "so the fan-out",
        f"reads and sends the changes of all {n:,.0f} while {active:,.0f} write. The consoles' "
        "client is a process of",
        f"its own. Windows after a warm-up: {windows}; 100% CPU is one core.",
        "",
        "| figure | " + " | ".join(r.title for r in RUNS) + " |",
        "|---|" + "---:|" * len(RUNS),
    ]
    for key, (label, unit) in METRICS.items():
        cells = [_shown(figures.get(f"live_{r.key}_{key}"), unit) for r in RUNS]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Each acknowledged save against each console: from the moment the candidate's client "
        "sent it to the",
        "moment the console received a tile of that attempt showing the `answered` count the "
        "save made",
        f"(missed: never, up to {GRACE:g} s after the last run).",
        "",
        "| console figure | " + " | ".join(r.title for r in WATCHED) + " |",
        "|---|" + "---:|" * len(WATCHED),
    ]
    for key, (label, unit) in CONSOLE_METRICS.items():
        cells = [_shown(figures.get(f"live_{r.key}_console_{key}"), unit) for r in WATCHED]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| opening the consoles | figure |", "|---|---:|"]
    for key, (label, unit) in OPENING.items():
        lines.append(f"| {label} | {_shown(figures.get(f'live_{key}'), unit)} |")
    p99 = {r.key: figures.get(f"live_{r.key}_console_p99_ms", 0.0) for r in WATCHED}
    missed = sum(figures.get(f"live_{r.key}_console_missed", 0.0) for r in WATCHED)
    req = {r.key: figures[f"live_{r.key}_req_p99_ms"] for r in RUNS}
    cpu = {r.key: figures[f"live_{r.key}_server_cpu_pct"] for r in RUNS}
    pg = {r.key: figures[f"live_{r.key}_postgres_cpu_pct"] for r in RUNS}
    peak = {r.key: figures[f"live_{r.key}_server_peak_rss_mb"] for r in RUNS}
    ratio, full = figures["live_p99_ratio"], figures["live_full_p99_ratio"]
    lines += [
        "",
        f"- Changes reached the consoles with a p99 of {p99['watched'] / 1000:,.2f} s in (b) "
        f"and {p99['full'] / 1000:,.2f} s in (c) (target < 2 s):",
        f"  {_verdict(max(p99.values()) < 2000)}; {missed:,.0f} (save, console) pairs were "
        "missed (target 0).",
        f"- The candidates' p99 was {req['quiet']:,.0f} ms in (a), {req['watched']:,.0f} ms in "
        f"(b) ({ratio:.2f} times; target: at most",
        f"  1.10 times): {_verdict(ratio <= 1.10)}; {req['full']:,.0f} ms in (c) "
        f"({full:.2f} times).",
        f"- The fan-out's cost: server CPU {cpu['quiet']:,.0f}% in (a), {cpu['watched']:,.0f}% "
        f"in (b), {cpu['full']:,.0f}% in (c); PostgreSQL",
        f"  {pg['quiet']:,.0f}%, {pg['watched']:,.0f}%, {pg['full']:,.0f}%; the server's peak "
        f"resident memory {peak['quiet']:,.0f} MB, {peak['watched']:,.0f} MB,",
        f"  {peak['full']:,.0f} MB ({figures.get('live_server_rss_consoles_mb', 0.0):,.0f} MB "
        "once every console had its snapshot).",
    ]
    if n < ATTEMPTS:
        lines.append(
            f"- Only {n:,.0f} of the {ATTEMPTS:,} attempts were set up within the "
            f"{SETUP_BUDGET:g} s budget: the target count was **not measured**."
        )
    return lines


def main() -> None:
    standalone.run("bench-live", "Bench live", figures, section)


if __name__ == "__main__":
    main()
