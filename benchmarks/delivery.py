"""The candidate scenario: 1,000 candidates of one tenant saving answers.

Open loop: each candidate saves one answer every 10 s and sends a heartbeat
half-way between two saves, from a random phase, so the load is steady from
the first second. Closed loop: a few candidates send the same mix back to
back, which gives the server's capacity (the headroom above the open loop).

The real app runs in its own process, as operators run it (``invigil serve``:
one uvicorn worker, JSON logs; the last scenario starts a server of two
workers, ``--workers 2``), on the benchmark's database. The load comes
from this process: a minimal HTTP/1.1 keep-alive client on asyncio (about
0.03 ms of CPU a request, against 0.8 ms for httpx) over a pool of
connections, as a reverse proxy would hold. It still shares the machine's
cores with the server and PostgreSQL, so the CPU of each, and of everything
else on the machine, is reported.

Setup goes through the services in-process (invite, then what ``POST
/take/{token}/start`` and ``/api/begin`` do); only the load is HTTP. A save
carries one item with the next ``seq`` and a response of the right shape for
the question at that position (essays resend their whole text, as the player
does). At the end ``attempt_answers`` must hold, for every question, a ``seq``
at least the acknowledged one and at most the last one sent.

Run alone: ``python -m benchmarks.delivery`` (fresh database).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from benchmarks import standalone
from invigil.content import exams, questions
from invigil.content.demo import seed_content
from invigil.content.schemas import ExamIn
from invigil.db.engine import Database
from invigil.db.uow import Actor
from invigil.db.urls import DatabaseUrls, libpq
from invigil.delivery import attempts, invitations
from invigil.delivery.invitations import InviteRequest, Kit
from invigil.delivery.landing import consent_of
from invigil.settings import Settings

CANDIDATES = 1_000
BATCH = 50  # candidates set up per transaction
CONNECTIONS = 100  # the client's keep-alive pool
TIMEOUT = 35.0  # above the server's 30 s wait for a database connection
WORDS = ("the", "index", "makes", "each", "lookup", "cheap", "but", "every", "write",
         "pays", "so", "we", "measure", "both", "sides", "first")  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    warm: float
    seconds: float
    period: float = 0.0  # open loop: seconds between two saves of a candidate
    workers: int = 0  # closed loop: requests in flight, back to back
    processes: int = 1  # the server's uvicorn worker processes (invigil serve --workers)


# Capacity first: it stays below the server's 15 database connections, and a
# server that fails under the open loop would spoil whatever ran after it.
# The last scenario runs on a server of its own, with two worker processes.
SCENARIOS = (
    Scenario("max", "Capacity: 8 in flight, back to back", 5, 20, workers=8),
    Scenario("p10", f"{CANDIDATES:,} candidates, a save every 10 s", 15, 60, period=10),
    Scenario(
        "p10w2",
        f"{CANDIDATES:,} candidates, a save every 10 s, 2 workers",
        15,
        60,
        period=10,
        processes=2,
    ),
)
METRICS = {
    "saves_s": ("Saves acknowledged", "/s"),
    "heartbeats_s": ("Heartbeats acknowledged", "/s"),
    "save_p50_ms": ("Save latency p50", "ms"),
    "save_p95_ms": ("Save latency p95", "ms"),
    "save_p99_ms": ("Save latency p99 (target < 50 at 1,000 candidates)", "ms"),
    "save_max_ms": ("Save latency max", "ms"),
    "heartbeat_p50_ms": ("Heartbeat latency p50", "ms"),
    "heartbeat_p99_ms": ("Heartbeat latency p99", "ms"),
    "errors": ("Errors, warm-up included (non-200, not saved, transport)", ""),
    "skipped": ("Requests skipped: the candidate's previous one still running", ""),
    "server_peak_rss_mb": ("Server peak resident memory (VmHWM, all its processes)", "MB"),
    "server_cpu_ms_per_req": ("Server CPU per answered request (all its processes)", "ms"),
    "server_cpu_pct": ("Server CPU, all its processes (100 = one core)", "%"),
    "postgres_cpu_pct": ("PostgreSQL CPU, all its processes", "%"),
    "client_cpu_pct": ("Load generator CPU", "%"),
    "other_cpu_pct": ("Other processes on the machine", "%"),
}
LABELS = {
    f"candidates_{s.key}_{key}": (f"{label} ({s.title})", unit)
    for s in SCENARIOS
    for key, (label, unit) in METRICS.items()
}
LABELS["candidates_server_idle_rss_mb"] = ("Server resident memory before the load", "MB")
LABELS["candidates_lost"] = ("Acknowledged saves missing from the database", "")
LABELS["candidates_phantom"] = ("Stored answers no client sent", "")


@dataclass
class Candidate:
    token: str
    cookie: str
    attempt_id: uuid.UUID
    paper: list[tuple[str, int]]  # (question type, options) per position
    seq: int = 0
    sent: dict[int, int] = field(default_factory=dict)  # position -> last seq sent
    acked: dict[int, int] = field(default_factory=dict)  # position -> last seq saved
    position: int = 0


@dataclass
class Run:
    # (a save?, answered as it should be?, start, seconds)
    samples: list[tuple[bool, bool, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: int = 0  # open loop: requests not sent, the previous one still running


def answer(kind: str, n: int, rng: random.Random) -> Any:
    """A response of the right shape for the question (docs/candidate-api.md)."""
    if kind == "single_choice":
        return rng.randrange(n)
    if kind == "multiple_choice":
        return sorted(rng.sample(range(n), rng.randint(1, n)))
    if kind == "true_false":
        return rng.random() < 0.5
    if kind == "numeric":
        return round(rng.uniform(0, 1000), 2)
    if kind == "short_text":
        return " ".join(rng.choices(WORDS, k=3))
    if kind == "essay":
        return " ".join(rng.choices(WORDS, k=rng.randint(150, 400)))
    if kind == "ordering":
        return rng.sample(range(n), n)
    if kind == "matching":
        return [rng.randrange(n) for _ in range(n)]
    raise ValueError(kind)


def setup(
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    n: int,
    preset: str = "standard",
    budget: float | None = None,
) -> list[Candidate]:
    """An exam of the demo bank's 32 questions (every type) and ``n`` begun
    attempts under the proctoring ``preset``, each past the system check;
    fewer when ``budget`` seconds have passed (checked after each batch)."""
    began = time.perf_counter()
    kit = Kit.from_settings(settings)
    bank = seed_content(db, tenant_id).bank_id
    with db.unit_of_work(tenant_id, Actor.operator("bench")) as uow:
        rows, _ = questions.search(uow, questions.Search(bank_id=bank), limit=500)
        spec = {
            "slug": "bench-candidates",
            "title": "Benchmark: every question type",
            "settings": {"time_limit_minutes": 240, "proctoring_preset": preset},
            "sections": [{"kind": "fixed", "question_ids": [str(r.question.id) for r in rows]}],
        }
        exams.publish_exam(uow, exams.create_exam(uow, ExamIn.model_validate(spec)).id)
    out: list[Candidate] = []
    browser = attempts.Browser(address="127.0.0.1", user_agent="invigil-bench")
    for first in range(0, n, BATCH):
        if budget is not None and time.perf_counter() - began > budget:
            break
        with db.unit_of_work(tenant_id, Actor.operator("bench")) as uow:
            for i in range(first, min(n, first + BATCH)):
                req = InviteRequest(f"Candidate {i}", f"c{i}@bench.test", "bench-candidates")
                made = invitations.invite(uow, kit, replace(req, send_mail=False))
                inv = made.invitation
                version = attempts.version_of(uow, inv.exam_id, inv.exam_version)
                shown = consent_of(version, "en")
                started = attempts.start(
                    uow,
                    kit.key,
                    inv,
                    version,
                    consent_text=shown.text,
                    consent_language=shown.language,
                    shown_sha256=shown.sha256,
                    shown_language=shown.language,
                    browser=browser,
                )
                # The system check's face check passed (the presets watch faces).
                started.attempt.face_seen_at = datetime.now(UTC)
                attempts.begin(uow, started.attempt, version, inv)
                paper = [(s["type"], len(s["option_order"])) for s in started.attempt.paper]
                cookie = f"{attempts.cookie_name(inv.id)}={started.secret}"
                token = made.link.split("/take/", 1)[1]
                out.append(Candidate(token, cookie, started.attempt.id, paper))
    return out


# --- a minimal HTTP/1.1 client ------------------------------------------------


class Pool:
    """Keep-alive connections to one loopback server; closes idle ones before
    the server does (uvicorn: 5 s), so a request never meets a closed socket."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.free: asyncio.Queue[tuple[Any, Any, float] | None] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(None)

    async def post(
        self, path: str, body: bytes, cookie: str, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """One request; the timeout covers waiting for a connection too."""
        async with asyncio.timeout(TIMEOUT):
            conn = await self.free.get()
            writer = None
            try:
                if conn is None or time.monotonic() - conn[2] > 4:
                    if conn is not None:
                        conn[1].close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                else:
                    reader, writer, _ = conn
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n"
                    f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                status, payload, keep = await _response(reader)
            except BaseException:
                if writer is not None:
                    writer.close()
                self.free.put_nowait(None)
                raise
        if keep:
            self.free.put_nowait((reader, writer, time.monotonic()))
        else:
            writer.close()
            self.free.put_nowait(None)
        return status, payload

    def close(self) -> None:
        while not self.free.empty():
            conn = self.free.get_nowait()
            if conn is not None:
                conn[1].close()


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    payload = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1]), payload, headers.get("connection") != "close"


# --- the server and what it costs ---------------------------------------------


@contextmanager
def serve(database_url: str, home: Path, workers: int = 1) -> Iterator[tuple[int, int]]:
    """``invigil serve``: by default one uvicorn worker in the server's own
    process, with the logging it configures (JSON); with ``workers`` > 1, the
    worker processes are that process's children (see :func:`_family`; the
    warm-up covers the later ones starting). Yields (port, pid)."""
    import httpx

    from benchmarks.baseline import _free_port

    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "INVIGIL_HOME": str(home)}
    env |= {"INVIGIL_LOG_LEVEL": "WARNING", "INVIGIL_LOG_FORMAT": "json"}
    command = ["-c", "from invigil.cli import main; main()", "serve", "--no-demo"]
    command += ["--workers", str(workers)]
    with open(home / "bench-server.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, *command, "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield port, server.pid
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # requests still stuck inside
            server.kill()
            server.wait(10)


def _family(pid: int) -> list[int]:
    """A server's processes: ``pid`` and its live children (uvicorn's workers)."""
    out = [pid]
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(_stat(entry.name)[1]) == pid:
                out.append(int(entry.name))
        except OSError:
            continue
    return out


def _status_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _family_kb(pid: int, name: str) -> int:
    """A status figure summed over the server's processes (for VmHWM: the sum
    of each process's peak, at most the peak of the whole)."""
    return sum(_status_kb(p, name) for p in _family(pid))


def _reset_peak(pid: int) -> None:
    """Start VmHWM again from the current RSS (Linux: clear_refs 5), in every
    process of the server."""
    for p in _family(pid):
        with contextlib.suppress(OSError):  # then the peak counts from the process start
            Path(f"/proc/{p}/clear_refs").write_text("5")


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _cpu_s(pids: list[int], waited: bool = False) -> float:
    """User + system CPU seconds of these processes (those alive), with ``waited``
    also that of their children that have exited."""
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += sum(int(v) for v in fields[11 : 15 if waited else 13])
    return total / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_s(pgdata: Path) -> float:
    """The CPU of the server in ``pgdata``: the postmaster, its live backends and
    the ones gone (pool overflow connections come and go). 0 for an outside server."""
    pidfile = pgdata / "postmaster.pid"
    if not pidfile.exists():
        return 0.0
    master = int(pidfile.read_text().split()[0])
    live = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(_stat(entry.name)[1]) == master:
                live.append(int(entry.name))
        except OSError:
            continue
    return _cpu_s([master], waited=True) + _cpu_s(live)


def _machine_busy_s() -> float:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # - idle, iowait


def _snapshot(server: int, pgdata: Path) -> tuple[float, ...]:
    return (
        time.perf_counter(),
        _cpu_s(_family(server)),
        _postgres_cpu_s(pgdata),
        time.process_time(),
        _machine_busy_s(),
    )


# --- the load -----------------------------------------------------------------


async def _send(pool: Pool, c: Candidate, save: bool, rng: random.Random, run: Run) -> None:
    start, errors = time.perf_counter(), len(run.errors)
    try:
        if save:
            c.seq += 1
            c.position = c.seq % len(c.paper)
            kind, n = c.paper[c.position]
            item = {
                "index": c.position,
                "response": answer(kind, n, rng),
                "flagged": rng.random() < 0.05,
                "seq": c.seq,
                "time_ms": 1000 * c.seq,
                "client_time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                "offline": False,
            }
            c.sent[c.position] = c.seq
            body = json.dumps({"items": [item]}).encode()
            status, reply = await pool.post(f"/take/{c.token}/api/answers", body, c.cookie)
            outcome = json.loads(reply)["results"][0]["status"] if status == 200 else status
            if outcome == "saved":
                c.acked[c.position] = c.seq
            else:
                run.errors.append(f"save: {outcome} {reply[:160]!r}")
        else:
            body = json.dumps({"position": c.position}).encode()
            status, reply = await pool.post(f"/take/{c.token}/api/heartbeat", body, c.cookie)
            if status != 200:
                run.errors.append(f"heartbeat: {status} {reply[:160]!r}")
    except (OSError, TimeoutError, asyncio.IncompleteReadError, KeyError, ValueError) as exc:
        run.errors.append(f"{'save' if save else 'heartbeat'}: {type(exc).__name__} {exc}")
    ok = len(run.errors) == errors
    run.samples.append((save, ok, start, time.perf_counter() - start))


async def _open_loop(pool: Pool, c: Candidate, period: float, end: float, run: Run) -> None:
    """A save, then a heartbeat half a period later, and so on. A request whose
    time came while the previous one was still out is skipped, not sent late
    (the player sends the newest state with its next request)."""
    rng = random.Random(c.token)
    step = period / 2
    at, save = time.perf_counter() + rng.uniform(0, period), True
    while at < end:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        await _send(pool, c, save, rng, run)
        save, at = not save, at + step
        while at < min(end, time.perf_counter()):
            run.skipped += 1
            save, at = not save, at + step


async def _closed_loop(pool: Pool, mine: list[Candidate], end: float, run: Run) -> None:
    rng = random.Random(len(run.samples))
    i = 0
    while time.perf_counter() < end:
        c = mine[(i // 2) % len(mine)]
        await _send(pool, c, i % 2 == 0, rng, run)
        i += 1


async def _load(
    port: int, people: list[Candidate], s: Scenario, probe: Callable[[], tuple[float, ...]]
) -> tuple[Run, tuple[float, ...], tuple[float, ...]]:
    run, pool = Run(), Pool(port, CONNECTIONS)
    end = time.perf_counter() + s.warm + s.seconds
    if s.workers:
        groups = [people[k :: s.workers] for k in range(s.workers)]
        tasks = [asyncio.create_task(_closed_loop(pool, g, end, run)) for g in groups]
    else:
        tasks = [asyncio.create_task(_open_loop(pool, c, s.period, end, run)) for c in people]
    await asyncio.sleep(s.warm)
    before = probe()
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    after = probe()
    await asyncio.gather(*tasks)
    pool.close()
    return run, before, after


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else 0.0


def _summary(
    run: Run, before: tuple[float, ...], after: tuple[float, ...], pid: int
) -> dict[str, float]:
    wall = after[0] - before[0]
    window = [x for x in run.samples if before[0] <= x[2] < after[0]]
    saves = [x[3] * 1000 for x in window if x[0]]  # failures too: a timeout is 35 s
    beats = [x[3] * 1000 for x in window if not x[0]]
    answered = sum(1 for x in window if x[1])
    server, pg, client, busy = (after[i] - before[i] for i in range(1, 5))
    return {
        "saves_s": sum(1 for x in window if x[0] and x[1]) / wall,
        "heartbeats_s": sum(1 for x in window if not x[0] and x[1]) / wall,
        "save_p50_ms": _pct(saves, 50),
        "save_p95_ms": _pct(saves, 95),
        "save_p99_ms": _pct(saves, 99),
        "save_max_ms": max(saves, default=0.0),
        "heartbeat_p50_ms": _pct(beats, 50),
        "heartbeat_p99_ms": _pct(beats, 99),
        "errors": float(len(run.errors)),
        "skipped": float(run.skipped),
        "server_peak_rss_mb": _family_kb(pid, "VmHWM") / 1024,
        "server_cpu_ms_per_req": 1000 * server / max(1, answered),
        "server_cpu_pct": 100 * server / wall,
        "postgres_cpu_pct": 100 * pg / wall,
        "client_cpu_pct": 100 * client / wall,
        "other_cpu_pct": 100 * max(0.0, busy - server - pg - client) / wall,
    }


def check(db: Database, tenant_id: uuid.UUID, people: list[Candidate]) -> dict[str, float]:
    """Every acknowledged save is stored (or a later one sent for the same
    question is), and nothing is stored that no client sent."""
    with db.unit_of_work(tenant_id) as uow:
        rows = uow.session.execute(text("SELECT attempt_id, slot, seq FROM attempt_answers"))
        stored = {(r[0], r[1]): r[2] for r in rows}
    lost = phantom = 0
    for c in people:
        for position, seq in c.acked.items():
            lost += stored.get((c.attempt_id, position), 0) < seq
        for position, seq in c.sent.items():
            phantom += stored.get((c.attempt_id, position), 0) > seq
    sent = {(c.attempt_id, p) for c in people for p in c.sent}
    phantom += sum(1 for key in stored if key not in sent)
    return {"candidates_lost": float(lost), "candidates_phantom": float(phantom)}


def _event_loop() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    people = setup(db, settings, tenant_id, CANDIDATES)
    admin = urls.admin.set(database=urls.owner.database)
    with psycopg.connect(libpq(admin.difference_update_query(["options"])), autocommit=True) as c:
        # Start from the steady state of a running exam, not from a bulk load.
        c.execute("VACUUM (ANALYZE) candidates, invitations, guest_links, attempts")
        with contextlib.suppress(psycopg.Error):  # needs a superuser or pg_checkpoint
            c.execute("CHECKPOINT")
    out: dict[str, float] = {}
    for processes in sorted({s.processes for s in SCENARIOS}):
        with serve(libpq(admin), settings.home, processes) as (port, pid):
            if processes == 1:
                out["candidates_server_idle_rss_mb"] = _status_kb(pid, "VmRSS") / 1024
            for s in (s for s in SCENARIOS if s.processes == processes):
                _reset_peak(pid)
                with asyncio.Runner(loop_factory=_event_loop()) as runner:
                    probe = functools.partial(_snapshot, pid, settings.home / "pgdata")
                    run, before, after = runner.run(_load(port, people, s, probe))
                summary = _summary(run, before, after, pid)
                out |= {f"candidates_{s.key}_{k}": v for k, v in summary.items()}
                for error in sorted(set(run.errors))[:5]:
                    print(f"candidates {s.key}: {error}", file=sys.stderr)
    return out | check(db, tenant_id, people)


def section(figures: dict[str, float]) -> list[str]:
    """The "Candidates" part of docs/performance.md: one column per scenario."""
    if "candidates_server_idle_rss_mb" not in figures:
        return []
    windows = "; ".join(f"{s.warm:g} s + {s.seconds:g} s" for s in SCENARIOS)
    lines = [
        "",
        "## Candidates",
        "",
        f"{CANDIDATES:,} begun attempts in one tenant, on one exam of 32 questions of every",
        "type. A save is one item: the next `seq` and a response of the right shape for that",
        "question (essays resend 150-400 words). A heartbeat follows half-way to the next",
        "save. The server is `invigil serve` in its own process(es): one uvicorn worker, or",
        "two where the column says so (`--workers 2`, a server started for that run alone);",
        "the load comes from a minimal asyncio HTTP/1.1 client over "
        f"{CONNECTIONS} keep-alive connections",
        "on the same cores. Latency is measured by the client and includes waiting for a free",
        "connection; a request gets "
        f"{TIMEOUT:g} s. Rates, latency and CPU cover the window after a",
        f"warm-up ({windows}); 100% CPU is one core.",
        "",
        "| figure | " + " | ".join(s.title for s in SCENARIOS) + " |",
        "|---|" + "---:|" * len(SCENARIOS),
    ]
    for key, (label, unit) in METRICS.items():
        cells = []
        for s in SCENARIOS:
            value = figures.get(f"candidates_{s.key}_{key}")
            shown = "-" if value is None else f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
            cells.append(f"{shown} {unit}".strip())
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    open_loops = [s for s in SCENARIOS if s.period]
    closed = next(s for s in SCENARIOS if s.workers)
    offered = 2 * CANDIDATES / open_loops[0].period
    capacity = sum(
        figures.get(f"candidates_{closed.key}_{k}", 0.0) for k in ("saves_s", "heartbeats_s")
    )
    p99s = " and ".join(
        f"{figures.get(f'candidates_{s.key}_save_p99_ms', 0.0):,.0f} ms "
        f"({figures.get(f'candidates_{s.key}_errors', 0.0):,.0f} errors) with "
        + ("one worker" if s.processes == 1 else f"{s.processes} workers")
        for s in open_loops
    )
    lost, phantom = figures.get("candidates_lost", -1), figures.get("candidates_phantom", -1)
    lines += [
        "",
        f"The open loop offers {offered:,.0f} requests/s; back to back the server answered "
        f"{capacity:,.0f}/s. At {CANDIDATES:,} candidates the save p99 was {p99s} "
        "(target: under 50 ms). The server held "
        f"{figures['candidates_server_idle_rss_mb']:,.0f} MB before the load.",
        "",
        "After all runs every acknowledged save was in `attempt_answers` (or a later one "
        "for the same question) and nothing else was."
        if lost == 0 and phantom == 0
        else f"After all runs {lost:,.0f} acknowledged saves were missing from "
        f"`attempt_answers` and {phantom:,.0f} stored answers had never been sent.",
    ]
    return lines


def main() -> None:
    standalone.run("bench-candidates", "Bench", figures, section)


if __name__ == "__main__":
    main()
