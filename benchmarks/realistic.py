"""Strict-proctored candidates as they really load a server, swept up to the
target of 5,000 on one two-core machine.

Each candidate does, open loop (on schedule whether or not the server keeps
up, so queueing shows in the latency), through the HTTP API the player uses:
a save every :data:`SAVE_PERIOD` seconds with a heartbeat half-way
(benchmarks/delivery.py), a batch of proctoring events every
``events.PERIOD`` seconds (benchmarks/events.py), and a webcam snapshot
every :data:`SNAPSHOT_PERIOD` seconds: a 640x480 JPEG of one face, 31, 38
or 56 KB (quality 70, 80, 90), with the browser's face count and a
reference. Screen segments are left out: a strict policy that records the
screen adds one chunked upload of about 1-3 MB a minute per candidate
(docs/proctoring.md), which this machine's disk and the object store
would take rather than the API.

One server (``invigil serve``, one worker process) and one job worker
(``invigil worker``: the server's re-check of each snapshot's faces runs
there) on the same machine as the load generator and PostgreSQL. The
levels run from the smallest, each on the same attempts (the first N) after
a pause for a quiet server; a level whose p99 passes 100 ms or that has any
error is reported, and the sweep goes on.

Figures per request kind: acknowledged per second, latency p50/p95/p99/max
(from the moment the client's turn came: a request waiting for one of the
client's :data:`CONNECTIONS` connections waits in the figure too), errors;
CPU of the server, PostgreSQL, the job worker and the load generator per
candidate; the server's memory; snapshots waiting for their re-check at the
end. Afterwards every acknowledged save is checked as stored.

Run alone: ``python -m benchmarks.realistic`` (fresh database).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from benchmarks import delivery, events, standalone
from benchmarks.delivery import (
    Candidate,
    Pool,
    _cpu_s,
    _event_loop,
    _family,
    _family_kb,
    _pct,
    _reset_peak,
    _snapshot,
    serve,
    setup,
)
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.proctoring.pipeline import genesis
from invigil.settings import Settings

LEVELS = tuple(
    int(n) for n in os.environ.get("INVIGIL_BENCH_LEVELS", "1000,2000,3000,5000").split(",")
)
SETUP_BUDGET = 240.0  # seconds of setup; the attempts begun by then are the largest level
SAVE_PERIOD = 10.0
SNAPSHOT_PERIOD = 30.0
CONNECTIONS = 400  # the load generator's keep-alive connections
WARM, SECONDS = 10.0, 30.0
TARGET_P99_MS = 100.0
TARGET = 5_000  # candidates on the two cores
KINDS = ("save", "heartbeat", "events", "snapshot")
QUALITIES = (70, 80, 90)


def jpegs() -> list[bytes]:
    """The snapshots the candidates send (the face photo the tests use)."""
    from tests.proctoring import snapshots

    return [snapshots.to_jpeg(snapshots.one_face_image(), q) for q in QUALITIES]


@dataclass
class Sent:
    """(kind, ok, turn came at, seconds) of every request."""

    samples: list[tuple[str, bool, float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def _snapshots(
    pool: Pool, c: Candidate, pictures: list[bytes], end: float, sent: Sent
) -> None:
    rng = random.Random(c.token + "snap")
    at = time.perf_counter() + rng.uniform(0, SNAPSHOT_PERIOD)
    while at < end:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        began, ok = time.perf_counter(), False
        query = (
            f"taken_at={datetime.now(UTC).isoformat().replace('+00:00', 'Z')}"
            f"&faces=1&reason=periodic&ref={uuid.uuid4()}"
        )
        try:
            status, reply = await pool.post(
                f"/take/{c.token}/api/evidence/snapshot?{query}",
                rng.choice(pictures),
                c.cookie,
                content_type="image/jpeg",
            )
            ok = status == 201
            if not ok:
                sent.errors.append(f"snapshot: {status} {reply[:160]!r}")
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            sent.errors.append(f"snapshot: {type(exc).__name__} {exc}")
        sent.samples.append(("snapshot", ok, began, time.perf_counter() - began))
        at += SNAPSHOT_PERIOD


@dataclass
class Level:
    candidates: delivery.Run
    batches: events.Run
    snapshots: Sent
    before: tuple[float, ...] = ()
    after: tuple[float, ...] = ()


async def _load(
    port: int,
    people: list[Candidate],
    streams: list[events.Stream],
    pictures: list[bytes],
    probe: object,
) -> Level:
    level = Level(delivery.Run(), events.Run(), Sent())
    pool = Pool(port, CONNECTIONS)
    end = time.perf_counter() + WARM + SECONDS
    tasks = [
        asyncio.create_task(delivery._open_loop(pool, c, SAVE_PERIOD, end, level.candidates))
        for c in people
    ]
    tasks += [asyncio.create_task(events._open_loop(pool, s, end, level.batches)) for s in streams]
    tasks += [
        asyncio.create_task(_snapshots(pool, c, pictures, end, level.snapshots)) for c in people
    ]
    await asyncio.sleep(WARM)
    level.before = probe()  # type: ignore[operator]
    await asyncio.sleep(max(0.0, end - time.perf_counter()))
    level.after = probe()  # type: ignore[operator]
    await asyncio.gather(*tasks)
    pool.close()
    return level


def _kinds(level: Level) -> dict[str, list[tuple[bool, float]]]:
    """(ok, ms) of each request kind whose turn came in the measured window."""
    start, stop = level.before[0], level.after[0]
    out: dict[str, list[tuple[bool, float]]] = {k: [] for k in KINDS}
    for save, ok, at, secs in level.candidates.samples:
        if start <= at < stop:
            out["save" if save else "heartbeat"].append((ok, secs * 1000))
    for ok, at, secs, _, _ in level.batches.samples:
        if start <= at < stop:
            out["events"].append((ok, secs * 1000))
    for kind, ok, at, secs in level.snapshots.samples:
        if start <= at < stop:
            out[kind].append((ok, secs * 1000))
    return out


def _recheck_backlog(dsn: str) -> float:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'recheck'"
            " AND status IN ('todo', 'doing')"
        ).fetchone()
    return float(row[0]) if row else 0.0


def _summary(level: Level, n: int, pid: int, worker: int, dsn: str) -> dict[str, float]:
    wall = level.after[0] - level.before[0]
    out: dict[str, float] = {}
    worst = 0.0
    for kind, rows in _kinds(level).items():
        ms = [m for _, m in rows]
        out[f"{kind}_s"] = sum(1 for ok, _ in rows if ok) / wall
        out[f"{kind}_p50_ms"] = _pct(ms, 50)
        out[f"{kind}_p95_ms"] = _pct(ms, 95)
        out[f"{kind}_p99_ms"] = _pct(ms, 99)
        out[f"{kind}_max_ms"] = max(ms, default=0.0)
        worst = max(worst, out[f"{kind}_p99_ms"])
    errors = len(level.candidates.errors) + len(level.batches.errors) + len(level.snapshots.errors)
    server, pg, client, busy, jobs = (level.after[i] - level.before[i] for i in range(1, 6))
    out |= {
        "worst_p99_ms": worst,
        "errors": float(errors),
        "skipped": float(level.candidates.skipped + level.batches.skipped),
        "server_cpu_pct": 100 * server / wall,
        "postgres_cpu_pct": 100 * pg / wall,
        "worker_cpu_pct": 100 * jobs / wall,
        "client_cpu_pct": 100 * client / wall,
        "other_cpu_pct": 100 * max(0.0, busy - server - pg - client - jobs) / wall,
        "server_cpu_ms_per_candidate_s": 1000 * server / wall / n,
        "postgres_cpu_ms_per_candidate_s": 1000 * pg / wall / n,
        "server_peak_rss_mb": _family_kb(pid, "VmHWM") / 1024,
        "recheck_backlog": _recheck_backlog(dsn),
    }
    return out


@contextlib.contextmanager
def job_worker(database_url: str, home: Path) -> Iterator[int]:
    env = {**os.environ, "DATABASE_URL": database_url, "INVIGIL_HOME": str(home)}
    env |= {"INVIGIL_LOG_LEVEL": "WARNING", "INVIGIL_LOG_FORMAT": "json"}
    with open(home / "bench-worker.log", "w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "invigil", "worker", "--concurrency", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        yield child.pid
    finally:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(10)


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    began = time.perf_counter()
    people = setup(db, settings, tenant_id, max(LEVELS), preset="strict", budget=SETUP_BUDGET)
    out = {"real_attempts": float(len(people)), "real_setup_s": time.perf_counter() - began}
    streams = [
        events.Stream(c, random.Random(c.token), genesis(c.attempt_id), last_at=time.time())
        for c in people
    ]
    pictures = jpegs()
    out["real_snapshot_kb"] = sum(len(p) for p in pictures) / len(pictures) / 1024
    superuser = libpq(urls.admin.set(database=urls.owner.database))
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    pgdata = settings.home / "pgdata"
    with (
        serve(superuser, settings.home) as (port, pid),
        job_worker(superuser, settings.home) as worker,
    ):
        for n in LEVELS:
            if n > len(people):
                break
            time.sleep(5.0)  # what the last level left to do

            def probe() -> tuple[float, ...]:
                return (*_snapshot(pid, pgdata), _cpu_s(_family(worker)))

            _reset_peak(pid)
            with asyncio.Runner(loop_factory=_event_loop()) as runner:
                level = runner.run(_load(port, people[:n], streams[:n], pictures, probe))
            found = _summary(level, n, pid, worker, superuser)
            out |= {f"real_{n}_{k}": v for k, v in found.items()}
            for error in sorted(
                set(level.candidates.errors + level.batches.errors + level.snapshots.errors)
            )[:5]:
                print(f"realistic {n}: {error}", file=sys.stderr)
    checked = delivery.check(db, tenant_id, people)
    out["real_lost"] = checked["candidates_lost"]
    held = [
        n
        for n in LEVELS
        if f"real_{n}_worst_p99_ms" in out
        and out[f"real_{n}_worst_p99_ms"] < TARGET_P99_MS
        and out[f"real_{n}_errors"] == 0
    ]
    out["real_largest_held"] = float(max(held, default=0))
    return out


METRICS = {
    "save_s": ("Saves acknowledged", "/s"),
    "save_p99_ms": ("Save p99", "ms"),
    "heartbeat_s": ("Heartbeats acknowledged", "/s"),
    "heartbeat_p99_ms": ("Heartbeat p99", "ms"),
    "events_s": ("Event batches acknowledged", "/s"),
    "events_p99_ms": ("Event batch p99", "ms"),
    "snapshot_s": ("Snapshots acknowledged", "/s"),
    "snapshot_p99_ms": ("Snapshot p99", "ms"),
    "worst_p99_ms": ("Worst p99 of the four (target < 100)", "ms"),
    "errors": ("Errors (target 0)", ""),
    "skipped": ("Requests merged (the previous one still out)", ""),
    "server_cpu_pct": ("Server CPU (100 = one core)", "%"),
    "postgres_cpu_pct": ("PostgreSQL CPU", "%"),
    "worker_cpu_pct": ("Job worker CPU (snapshot re-checks)", "%"),
    "client_cpu_pct": ("Load generator CPU", "%"),
    "other_cpu_pct": ("Other processes", "%"),
    "server_cpu_ms_per_candidate_s": ("Server CPU per candidate", "ms/s"),
    "postgres_cpu_ms_per_candidate_s": ("PostgreSQL CPU per candidate", "ms/s"),
    "server_peak_rss_mb": ("Server peak memory", "MB"),
    "recheck_backlog": ("Snapshot re-checks waiting at the end", ""),
}
LABELS = {
    f"real_{n}_{k}": (f"{label} ({n:,} candidates)", unit)
    for n in LEVELS
    for k, (label, unit) in METRICS.items()
}
LABELS |= {
    "real_attempts": ("Strict-proctored attempts set up", ""),
    "real_setup_s": ("Setting them up through the services", "s"),
    "real_snapshot_kb": ("Mean snapshot size", "KB"),
    "real_lost": ("Acknowledged saves not stored (target 0)", ""),
    "real_largest_held": ("Largest level with every p99 < 100 ms and 0 errors", "candidates"),
}


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def section(figures: dict[str, float]) -> list[str]:
    """The "Realistic load" part of docs/performance.md."""
    levels = [n for n in LEVELS if f"real_{n}_worst_p99_ms" in figures]
    if not levels:
        return []
    per = 2 / SAVE_PERIOD + 1 / events.PERIOD + 1 / SNAPSHOT_PERIOD
    lines = [
        "",
        "## Realistic load: strict-proctored candidates",
        "",
        "Each candidate, open loop through the player's HTTP API: a save every "
        f"{SAVE_PERIOD:g} s with a heartbeat",
        f"half-way, an event batch every {events.PERIOD:g} s, a webcam snapshot every "
        f"{SNAPSHOT_PERIOD:g} s (640x480 JPEG of one face,",
        f"{figures['real_snapshot_kb']:,.0f} KB on average): {per:.2f} requests/s. "
        "Screen segments are left out (a strict policy",
        "recording the screen adds a 1-3 MB chunked upload a minute per candidate). One "
        "server (`invigil serve`,",
        "one worker process), one job worker (the snapshots' face re-check), the load "
        "generator and PostgreSQL",
        f"share the two cores. Each level: {WARM:g} s warm-up, then {SECONDS:g} s measured. "
        "Latency counts from the moment",
        f"a request's turn came (waiting for one of the client's {CONNECTIONS} connections "
        "included).",
        "",
        "| figure | " + " | ".join(f"{n:,}" for n in levels) + " |",
        "|---|" + "---:|" * len(levels),
    ]
    for key, (label, unit) in METRICS.items():
        cells = [_shown(figures.get(f"real_{n}_{key}"), unit) for n in levels]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    held = figures["real_largest_held"]
    lines += [
        "",
        f"- Largest level with every kind's p99 under {TARGET_P99_MS:g} ms and no error: "
        + (f"**{held:,.0f} candidates**" if held else "**none of them**")
        + f"; the target is {TARGET:,}: "
        + ("**met**." if held >= TARGET else "**missed**."),
        f"- Acknowledged saves not stored afterwards: {figures['real_lost']:,.0f} (target 0).",
    ]
    if figures["real_attempts"] < max(LEVELS):
        lines.append(
            f"- Only {figures['real_attempts']:,.0f} attempts were set up within "
            f"{SETUP_BUDGET:g} s: the larger levels were not measured."
        )
    return lines


def main() -> None:
    standalone.run("bench-real", "Bench realistic", figures, section)


if __name__ == "__main__":
    main()
