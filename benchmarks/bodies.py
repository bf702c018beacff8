"""Oversized bodies: what 10 clients sending 200 MB each at once, with no
token, cost the server's memory.

The server is ``invigil serve`` in its own process (as in the candidate
benchmark). Each scenario sends, from 10 connections at once, a 200 MB body
made by a generator, 64 KiB at a time, to one class of route (the JSON API,
a candidate's events behind a guest link that does not exist, a question
import): once chunked (no length: the server can only count) and once with
``Content-Length`` declared up front. A client stops sending when the answer
arrives, as curl does. The figures are the server's resident memory before,
at its peak (VmHWM, reset before each scenario) and after; the limit
(``invigil.limits``) keeps the peak within 20 MB of the idle server.

Run alone: ``python -m benchmarks.bodies`` (fresh database).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from benchmarks import standalone
from benchmarks.delivery import _reset_peak, _status_kb, serve
from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings

CLIENTS = 10
SIZE = 200 * 1000 * 1000
PIECE = 64 * 1024
ROUTES = {
    "json": ("/api/v1/exams", "application/json"),
    "events": ("/take/no-such-link/api/events", "application/json"),
    "import": ("/api/v1/banks/00000000-0000-4000-8000-000000000000/import", "text/csv"),
}


def pieces(size: int) -> Iterator[bytes]:
    """The body, made as it is sent (never held whole by the client either)."""
    piece = b"x" * PIECE
    for _ in range(size // PIECE):
        yield piece
    yield b"x" * (size % PIECE)


async def one(port: int, path: str, media: str, declared: bool) -> tuple[int, int]:
    """Send one body; answer (status, bytes sent). The response is read while
    the body goes out, and sending stops when it has arrived (status 0: the
    connection was reset before an answer could be read)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    framing = f"Content-Length: {SIZE}" if declared else "Transfer-Encoding: chunked"
    head = f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: {media}\r\n{framing}\r\n\r\n"
    writer.write(head.encode())
    sent = 0

    async def body() -> None:
        nonlocal sent
        for piece in pieces(SIZE):
            writer.write(piece if declared else b"%x\r\n%s\r\n" % (len(piece), piece))
            await writer.drain()
            sent += len(piece)
        if not declared:
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    sending = asyncio.create_task(body())
    status_line = b""
    try:
        status_line = await asyncio.wait_for(reader.readline(), 120)
    except OSError:
        pass  # the server closed the connection on a body it will not read (a reset)
    finally:
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending
        writer.transport.abort()  # what is still buffered is not sent
    parts = status_line.split()
    return (int(parts[1]) if len(parts) > 1 else 0), sent


async def scenario(port: int, path: str, media: str, declared: bool) -> list[tuple[int, int]]:
    return list(await asyncio.gather(*(one(port, path, media, declared) for _ in range(CLIENTS))))


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: object
) -> dict[str, float]:
    admin = urls.admin.set(database=urls.owner.database)
    out: dict[str, float] = {}
    with serve(libpq(admin), settings.home) as (port, pid):
        out["bodies_idle_rss_mb"] = _status_kb(pid, "VmRSS") / 1024
        for route, (path, media) in ROUTES.items():
            for how in ("chunked", "declared"):
                _reset_peak(pid)
                before = _status_kb(pid, "VmRSS") / 1024
                answers = asyncio.run(scenario(port, path, media, how == "declared"))
                key = f"bodies_{route}_{how}"
                out[f"{key}_before"] = before
                out[f"{key}_peak"] = _status_kb(pid, "VmHWM") / 1024
                out[f"{key}_after"] = _status_kb(pid, "VmRSS") / 1024
                out[f"{key}_sent"] = sum(s for _, s in answers) / CLIENTS / 1e6
                statuses = [status for status, _ in answers if status]
                out[f"{key}_answered"] = len(statuses)
                out[f"{key}_status"] = max(set(statuses), key=statuses.count, default=0)
    return out


def section(figures: dict[str, float]) -> list[str]:
    """The "Oversized bodies" part of docs/performance.md."""
    idle = figures.get("bodies_idle_rss_mb")
    if idle is None:
        return []
    lines = [
        "",
        "## Oversized bodies",
        "",
        f"{CLIENTS} clients at once each send a 200 MB body with no token to one class of",
        "route (benchmarks/bodies.py), chunked or with `Content-Length` declared up front;",
        "each stops sending when the answer arrives. Server memory (`invigil serve`,",
        f"resident) was {idle:,.0f} MB idle; the target is a peak within +20 MB of what",
        "it held before (answered 0: the connection was reset before the answer).",
        "",
        "| route (limit) | framing | answered | sent per client | before | peak | growth |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    limits = {"json": "1 MiB", "events": "1 MiB", "import": "5 MiB, after the token"}
    for route, (path, _) in ROUTES.items():
        for how in ("chunked", "declared"):
            key = f"bodies_{route}_{how}"
            before, peak = figures[f"{key}_before"], figures[f"{key}_peak"]
            answered = f"{figures[f'{key}_answered']:.0f}/{CLIENTS}"
            lines.append(
                f"| `{path}` ({limits[route]}) | {how} | {answered} "
                f"({figures[f'{key}_status']:.0f}) "
                f"| {figures[f'{key}_sent']:,.1f} MB | {before:,.0f} MB | {peak:,.0f} MB "
                f"| {peak - before:+,.1f} MB |"
            )
    last = max(k for k in figures if k.startswith("bodies_") and k.endswith("_after"))
    lines += [
        "",
        f"After all six: {figures[last]:,.0f} MB ({figures[last] - idle:+,.0f} MB since idle).",
    ]
    return lines


def main() -> None:
    standalone.run("bench", "Bench", figures, section)


if __name__ == "__main__":
    main()
