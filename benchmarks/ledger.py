"""The ledger under 16 concurrent clients (targets: >= 3,000 transfers/s,
p99 < 20 ms), beside a raw two-row INSERT transaction of the same run.

1,000 accounts: 500 tenants, each with its credits_available and
credits_consumed (opened, with its operator_topups, by a top-up of a
million credits). Each client (a process of its own with one connection, as
server workers are) loops for ``SECONDS`` seconds: one charge of
one credit (:func:`invigil.ledger.service.charge`: idempotency look-up,
both balance rows locked in account order, transfer and two entries,
balances updated, the audit entry anchoring its hash, the deferred
balance check at commit) in a tenant-bound unit of work, against a tenant
picked at random. The same is run against one tenant (every client on the
same two rows and the same audit chain: the worst case, serialised by
design). Two baselines, the same 16 clients for as long: an empty
tenant-bound unit of work opened and committed (the floor any request
pays), and a transaction of two plain INSERTs (no RLS, no ORM, no audit,
no trigger).

Run alone: ``python -m benchmarks.ledger`` (fresh database).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from invigil.db.engine import Database
from invigil.db.urls import DatabaseUrls, libpq
from invigil.settings import Settings

CLIENTS = 16
TENANTS = 500
SECONDS = float(os.environ.get("LEDGER_BENCH_SECONDS", "10"))
NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)

LABELS = {
    "ledger_transfers_s": (
        f"Ledger charges/s, {CLIENTS} clients on 1,000 accounts ({TENANTS} tenants; "
        "target >= 3,000)",
        "/s",
    ),
    "ledger_p50_ms": ("The same: median latency", "ms"),
    "ledger_p99_ms": ("The same: p99 latency (target < 20)", "ms"),
    "ledger_one_tenant_transfers_s": (
        f"Ledger charges/s, {CLIENTS} clients on one tenant's two accounts",
        "/s",
    ),
    "ledger_one_tenant_p99_ms": ("The same: p99 latency", "ms"),
    "ledger_empty_uow_s": (
        f"Empty tenant-bound units of work/s (BEGIN, tenant binding, SELECT 1, COMMIT), "
        f"{CLIENTS} clients",
        "/s",
    ),
    "ledger_empty_uow_p99_ms": ("The same: p99 latency", "ms"),
    "ledger_raw_tx_s": (f"Raw two-row INSERT transactions/s, {CLIENTS} clients", "/s"),
    "ledger_raw_p99_ms": ("The same: p99 latency", "ms"),
    "ledger_load_1min": ("Machine load average (1 min) when the ledger run ended", ""),
    "ledger_client_cpu_us": ("CPU per charge in the client processes", "µs"),
    "ledger_server_cpu_us": ("CPU per charge in PostgreSQL (all its processes)", "µs"),
    "ledger_empty_uow_client_cpu_us": ("CPU per empty unit of work, clients", "µs"),
    "ledger_empty_uow_server_cpu_us": ("CPU per empty unit of work, PostgreSQL", "µs"),
    "ledger_raw_client_cpu_us": ("CPU per raw transaction, clients", "µs"),
    "ledger_raw_server_cpu_us": ("CPU per raw transaction, PostgreSQL", "µs"),
}


def _client(kind: str, url: str, tenants: list[str], ready: Any, go: Any, stop: Any,
            out: Any) -> None:  # fmt: skip
    """One client process with its own connection: warms up, says ``ready``,
    then calls ``work`` from ``go`` until ``stop``; puts its latencies (ms)
    and failures on ``out``."""
    from sqlalchemy.engine import make_url

    mine: list[float] = []
    failures: list[str] = []
    if kind == "raw":
        conn = psycopg.connect(url)
        cur = conn.cursor()

        def work() -> None:
            with conn.transaction():
                cur.execute(
                    "INSERT INTO bench_ledger_raw VALUES (%s, %s, -1), (%s, %s, 1)",
                    (uuid.uuid4(), random.randrange(1000), uuid.uuid4(), random.randrange(1000)),
                )

        close = conn.close
    else:
        from invigil.db.engine import Database as Db
        from invigil.db.urls import DatabaseUrls as Urls
        from invigil.ledger import service

        app = make_url(url)
        db = Db.connect(Urls(admin=app, owner=app, app=app), pool_size=1, max_overflow=0)
        ids = [uuid.UUID(t) for t in tenants]

        def work() -> None:
            with db.unit_of_work(random.choice(ids)) as uow:
                if kind == "ledger":
                    service.charge(uow, 1, ("attempt", uuid.uuid4()), now=NOW)
                else:  # the floor: a tenant-bound unit of work that does nothing
                    uow.driver().cursor().execute("SELECT 1")

        close = db.dispose
    try:
        work()  # connect and warm before the clock starts
        ready.put(True)
        go.wait()
        cpu = time.process_time()
        while not stop.is_set():
            began = time.perf_counter()
            try:
                work()
            except Exception as exc:  # counted, and the run fails
                failures.append(repr(exc))
                break
            mine.append((time.perf_counter() - began) * 1000)
        cpu = time.process_time() - cpu
    finally:
        close()
        out.put((mine, failures, cpu))


def _server_cpu(url: str) -> Any:
    """A function giving the CPU seconds used so far by the PostgreSQL server
    of ``url`` (its postmaster's processes: backends, WAL writer, ...), or
    None when its processes are not on this machine."""
    from sqlalchemy.engine import make_url

    with psycopg.connect(libpq(make_url(url))) as conn:
        try:  # read while the backend lives
            postmaster = int(_stat(conn.info.backend_pid)[1])
        except (OSError, ValueError):
            return None
    tick = os.sysconf("SC_CLK_TCK")

    def used() -> float:
        total = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = _stat(int(entry.name))
            except (OSError, ValueError):
                continue  # exited meanwhile
            if int(entry.name) == postmaster or int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick

    return used


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, ... (utime at 11, stime at 12)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


Driven = tuple[float, list[float], float, float]


def _drive(kind: str, url: str, tenants: list[uuid.UUID]) -> Driven:
    """``CLIENTS`` processes (in one process the GIL, not the database, would
    be the limit, as one server worker's would be) for ``SECONDS`` once all
    are connected and warm: (ops/s, sorted latencies in ms, client CPU and
    PostgreSQL CPU per operation in microseconds; nan when not measurable)."""
    ctx = multiprocessing.get_context("spawn")
    ready, out, go, stop = ctx.Queue(), ctx.Queue(), ctx.Event(), ctx.Event()
    names = [str(t) for t in tenants]
    procs = [
        ctx.Process(target=_client, args=(kind, url, names, ready, go, stop, out))
        for _ in range(CLIENTS)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=300)
    server = _server_cpu(url)
    server_began = server() if server else float("nan")
    go.set()
    began = time.perf_counter()
    time.sleep(SECONDS)
    server_used = server() - server_began if server else float("nan")  # before clients close
    stop.set()
    results = [out.get(timeout=300) for _ in procs]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join(60)
    failures = [f for _, fs, _ in results for f in fs]
    assert not failures, failures[:3]
    flat = sorted(x for lane, _, _ in results for x in lane)
    ops = max(len(flat), 1)
    client_us = sum(cpu for _, _, cpu in results) / ops * 1e6
    server_us = server_used / (ops * SECONDS / elapsed) * 1e6
    return len(flat) / elapsed, flat, client_us, server_us


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def figures(
    db: Database, urls: DatabaseUrls, settings: Settings, tenant_id: uuid.UUID
) -> dict[str, float]:
    from invigil.ledger import service
    from invigil.ledger.verify import verify
    from invigil.tenants import service as tenants

    ids = [tenant_id]
    for i in range(TENANTS - 1):
        ids.append(
            tenants.create_tenant(
                db, slug=f"bench-ledger-{i}", name=f"Bench ledger {i}",
                region=settings.regions[0], regions=settings.regions,
            ).id
        )  # fmt: skip
    for t in ids:
        with db.unit_of_work(t) as uow:
            service.credit(uow, 1_000_000, "BENCH-SEED", now=NOW)
    app = urls.app.render_as_string(hide_password=False)
    spread, lat, client_us, server_us = _drive("ledger", app, ids)
    one, one_lat, _, _ = _drive("ledger", app, [tenant_id])
    empty, empty_lat, empty_client_us, empty_server_us = _drive("uow", app, ids)
    with db.unit_of_work(tenant_id) as uow:
        assert verify(uow).ok

    with psycopg.connect(libpq(urls.owner), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_ledger_raw")
        conn.execute(
            "CREATE TABLE bench_ledger_raw (id uuid PRIMARY KEY, account int, amount bigint)"
        )
    raw_rate, raw_lat, raw_client_us, raw_server_us = _drive("raw", libpq(urls.owner), [])
    with psycopg.connect(libpq(urls.owner), autocommit=True) as conn:
        conn.execute("DROP TABLE bench_ledger_raw")
    return {
        "ledger_transfers_s": spread,
        "ledger_p50_ms": _pct(lat, 0.50),
        "ledger_p99_ms": _pct(lat, 0.99),
        "ledger_one_tenant_transfers_s": one,
        "ledger_one_tenant_p99_ms": _pct(one_lat, 0.99),
        "ledger_empty_uow_s": empty,
        "ledger_empty_uow_p99_ms": _pct(empty_lat, 0.99),
        "ledger_raw_tx_s": raw_rate,
        "ledger_raw_p99_ms": _pct(raw_lat, 0.99),
        "ledger_load_1min": os.getloadavg()[0],
        "ledger_client_cpu_us": client_us,
        "ledger_server_cpu_us": server_us,
        "ledger_empty_uow_client_cpu_us": empty_client_us,
        "ledger_empty_uow_server_cpu_us": empty_server_us,
        "ledger_raw_client_cpu_us": raw_client_us,
        "ledger_raw_server_cpu_us": raw_server_us,
    }


def section(figures: dict[str, float]) -> list[str]:
    if figures.get("ledger_transfers_s") is None:
        return []
    ratio = figures["ledger_transfers_s"] / figures["ledger_raw_tx_s"]
    floor = figures["ledger_transfers_s"] / figures["ledger_empty_uow_s"]
    lines = [
        "",
        "## Ledger",
        "",
        f"{CLIENTS} clients (processes, each with its own connection) for",
        f"{SECONDS:.0f} s each: charges of one credit against 500 tenants' 1,000 accounts, then",
        "against one tenant, then raw two-row INSERT transactions (benchmarks/ledger.py,",
        "ADRs 0048, 0052). Each charge is a whole audited transfer: the tenant binding, one",
        "statement (both balance rows locked in account order, the funds check, transfer",
        "and two entries, balances, the audit entry anchoring its hash) and the commit, with",
        "the deferred balance check.",
        f"The audited transfer keeps {ratio:.1%} of the raw transaction rate and {floor:.0%}",
        "of the rate of empty tenant-bound units of work.",
        *_cpu_lines(figures),
        "",
        "| scenario | figure | target |",
        "|---|---:|---:|",
    ]
    for key, target in (
        ("ledger_transfers_s", ">= 3,000/s"),
        ("ledger_p50_ms", ""),
        ("ledger_p99_ms", "< 20 ms"),
        ("ledger_one_tenant_transfers_s", ""),
        ("ledger_one_tenant_p99_ms", ""),
        ("ledger_empty_uow_s", ""),
        ("ledger_empty_uow_p99_ms", ""),
        ("ledger_raw_tx_s", ""),
        ("ledger_raw_p99_ms", ""),
        ("ledger_load_1min", ""),
        ("ledger_client_cpu_us", ""),
        ("ledger_server_cpu_us", ""),
        ("ledger_empty_uow_client_cpu_us", ""),
        ("ledger_empty_uow_server_cpu_us", ""),
        ("ledger_raw_client_cpu_us", ""),
        ("ledger_raw_server_cpu_us", ""),
    ):
        if key not in figures or math.isnan(figures[key]):
            continue  # not measurable here (a database on another machine)
        label, unit = LABELS[key]
        lines.append(f"| {label} | {figures[key]:,.1f} {unit} | {target} |".replace("  |", " |"))
    return lines


def _cpu_lines(figures: dict[str, float]) -> list[str]:
    """Where the two cores go: the run is CPU-bound, so CPU per charge bounds the rate."""
    client, server = figures.get("ledger_client_cpu_us"), figures.get("ledger_server_cpu_us")
    if client is None or server is None or math.isnan(client) or math.isnan(server):
        return []
    cores = os.cpu_count() or 1
    both = cores * 1e6 / (client + server)
    alone = cores * 1e6 / server
    met = figures["ledger_transfers_s"] >= 3000 and figures["ledger_p99_ms"] < 20
    return [
        f"Each charge costs {client:,.0f} µs of CPU in its client and {server:,.0f} µs in",
        f"PostgreSQL: with clients and database on the same {cores} cores that bounds the rate",
        f"at about {both:,.0f}/s; PostgreSQL alone on them at about {alone:,.0f}/s.",
        "The target (>= 3,000/s, p99 < 20 ms) is "
        + ("met." if met else "**not met** in this run."),
    ]


def main() -> None:
    from benchmarks import standalone

    standalone.run("bench-ledger", "Bench ledger", figures, section)


if __name__ == "__main__":
    main()
