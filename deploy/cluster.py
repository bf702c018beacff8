"""The production topology on loopback, from the repository alone.

    python deploy/cluster.py [--api-workers 2] [--job-workers 1] [--base-port 8000]

Starts, in order: PostgreSQL (``DATABASE_URL``, else the machine's server
at 127.0.0.1:5432, else the embedded one in ``var/cluster/pgdata``),
PgBouncer in transaction pooling mode in front of it, an S3-compatible
object store (moto's server), an SMTP server that keeps every mail as a
file, the migrations and (unless ``--no-demo``) the demo data, the API
workers (each its own ``invigil serve`` process, reaching PostgreSQL
through PgBouncer and listening for live monitoring on a direct
connection), the job workers (``invigil worker``), and HAProxy in front of
the API workers. It prints where each listens and writes the same as JSON
to ``var/cluster/cluster.json`` (with every process id, for the fault
tests), then runs until interrupted and stops everything in reverse order.

The configurations it writes come from the templates beside it
(``haproxy.cfg``, ``pgbouncer.ini``): the same files an operator installs,
with the loopback addresses filled in (docs/operations.md, *Production
topology*). PgBouncer and HAProxy come from Debian (``make cluster-deps``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent
BUCKET = "invigil-evidence"


@dataclass(frozen=True)
class Ports:
    base: int

    @property
    def balancer(self) -> int:
        return self.base

    def api(self, i: int) -> int:
        return self.base + 1 + i

    @property
    def pgbouncer(self) -> int:
        return self.base + 32

    @property
    def s3(self) -> int:
        return self.base + 33

    @property
    def smtp(self) -> int:
        return self.base + 34

    @property
    def stats(self) -> int:
        return self.base + 35

    @property
    def s3_server(self) -> int:  # moto itself, behind the balancer's S3 frontend (s3)
        return self.base + 36


@dataclass
class Cluster:
    home: Path
    ports: Ports
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(  # noqa: S603 - our own argv
            argv,
            env=env or os.environ.copy(),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,  # Ctrl-C in the terminal reaches only this script
        )
        self.processes[name] = proc
        return proc.pid

    def stop(self) -> None:
        for name, proc in reversed(list(self.processes.items())):
            if proc.poll() is None:
                proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
            if proc.poll() is None:
                print(f"cluster: {name} did not stop in 15 s, killed", file=sys.stderr)
                proc.kill()
                proc.wait(5)


def wait_for_port(port: int, what: str, cluster: Cluster, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        for name, proc in cluster.processes.items():
            if proc.poll() is not None:
                raise SystemExit(f"cluster: {name} exited ({proc.returncode}); see {cluster.logs}")
        time.sleep(0.1)
    raise SystemExit(f"cluster: {what} is not listening on {port} after {seconds:.0f} s")


def wait_for_http(url: str, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - loopback
            if reply.status == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"cluster: {what} did not answer {url} within {seconds:.0f} s")


# --- PostgreSQL ---------------------------------------------------------------------


def _reachable(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
        return True
    return False


def database(home: Path, given: str | None, name: str, embedded: bool = False) -> str:
    """An administrative DSN naming the cluster's database (created if missing)."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    if given and not embedded:
        admin = given
    elif _reachable("127.0.0.1", 5432) and not embedded:
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    else:
        from invigil.db import embedded

        admin = embedded.start(home / "pgdata")
    url = make_url(admin)
    target = url.database if given and not embedded and url.database != "postgres" else name
    maintenance = url.set(drivername="postgresql", database="postgres")
    dsn = maintenance.render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target)))
    return url.set(drivername="postgresql", database=target).render_as_string(hide_password=False)


def socket_owner(host: str) -> str:
    """Who may reach a server on a Unix socket in ``host`` (PgBouncer refuses
    to run as root, so it runs as that user; else as ``postgres``)."""
    if host.startswith("/"):
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name
    return "postgres"


def render_pgbouncer(
    home: Path, *, server: str, port: int, pool_size: int, max_clients: int = 1000
) -> Path:
    """``pgbouncer.ini`` (from the template beside this file) and its auth file,
    in front of the database ``server`` names, for the app role's login."""
    from sqlalchemy.engine import make_url

    url = make_url(server)
    host = str(url.query.get("host") or url.host or "127.0.0.1")
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o777)  # PgBouncer runs as an unprivileged user
    user, password = url.username or "", url.password or ""
    (home / "userlist.txt").write_text(f'"{user}" "{password}"\n')
    ini = Template((HERE / "pgbouncer.ini").read_text()).substitute(
        database=url.database,
        server_host=host,
        server_port=url.port or 5432,
        listen_port=port,
        auth_type="trust",  # loopback only; an operator's file says scram-sha-256
        auth_file=home / "userlist.txt",
        pool_size=pool_size,
        max_clients=max_clients,
        logfile=home / "pgbouncer.log",
        pidfile=home / "pgbouncer.pid",
    )
    (home / "pgbouncer.ini").write_text(ini)
    for f in home.iterdir():
        f.chmod(0o666)
    return home / "pgbouncer.ini"


def pgbouncer_argv(ini: Path, server_host: str) -> list[str]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise SystemExit("cluster: pgbouncer is not installed: run `make cluster-deps`")
    run_as = ["-u", socket_owner(server_host)] if os.geteuid() == 0 else []
    return [binary, *run_as, str(ini)]


@contextlib.contextmanager
def pgbouncer(server: str, *, pool_size: int) -> Iterator[str]:
    """PgBouncer on a free loopback port in front of ``server`` (a DSN of the
    login to pool), for as long as the block runs; yields the pooled DSN."""
    from sqlalchemy.engine import make_url

    home = Path(f"/tmp/invigil-pgbouncer-{uuid.uuid4().hex[:8]}")  # noqa: S108 - its own
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ini = render_pgbouncer(home, server=server, port=port, pool_size=pool_size)
    url = make_url(server)
    host = str(url.query.get("host") or url.host or "127.0.0.1")
    cluster = Cluster(home, Ports(port))
    cluster.logs.mkdir(exist_ok=True)
    cluster.start("pgbouncer", pgbouncer_argv(ini, host))
    try:
        wait_for_port(port, "pgbouncer", cluster, 10)
        pooled = url.set(host="127.0.0.1", port=port).difference_update_query(["host"])
        yield pooled.render_as_string(hide_password=False)
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


# --- the topology -------------------------------------------------------------------


def render_haproxy(home: Path, ports: Ports, api_workers: int) -> Path:
    servers = "\n".join(
        f"    server api{i} 127.0.0.1:{ports.api(i)} check inter 1s fall 2 rise 2"
        for i in range(api_workers)
    )
    cfg = Template((HERE / "haproxy.cfg").read_text()).substitute(
        bind=f"127.0.0.1:{ports.balancer}", stats=f"127.0.0.1:{ports.stats}", servers=servers
    )
    # On loopback the object store is reached through the balancer too, so
    # that the fault tests can take it away and give it back (its runtime
    # socket: `disable server objectstore/s3`) without losing what it holds.
    cfg += Template((HERE / "haproxy-s3.cfg").read_text()).substitute(
        bind=f"127.0.0.1:{ports.s3}",
        server=f"127.0.0.1:{ports.s3_server}",
        socket=home / "haproxy.sock",
    )
    path = home / "haproxy.cfg"
    path.write_text(cfg)
    return path


def invigil(*args: str) -> list[str]:
    return [str(BIN / "python"), "-m", "invigil", *args]


def up(args: argparse.Namespace, cluster: Cluster) -> None:
    """Start every part into ``cluster`` (which stops what started, whatever fails)."""
    home, ports = cluster.home, cluster.ports
    cluster.logs.mkdir(parents=True, exist_ok=True)
    (home / "mail").mkdir(exist_ok=True)

    given = args.database_url or os.environ.get("DATABASE_URL")
    admin = database(home, given, args.database, embedded=args.embedded)
    from sqlalchemy.engine import make_url

    from invigil.db.urls import DatabaseUrls, libpq
    from invigil.settings import Settings

    env = {
        **os.environ,
        "INVIGIL_HOME": str(home),
        "DATABASE_URL": admin,
        "INVIGIL_LOG_FORMAT": "json",
        "INVIGIL_OBJECT_STORE": f"s3://{BUCKET}",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}",
        "AWS_ACCESS_KEY_ID": "invigil-cluster",
        "AWS_SECRET_ACCESS_KEY": "invigil-cluster",
        "AWS_DEFAULT_REGION": "us-east-1",
        "INVIGIL_SMTP_HOST": "127.0.0.1",
        "INVIGIL_SMTP_PORT": str(ports.smtp),
        "INVIGIL_SMTP_STARTTLS": "false",
    }
    env.pop("INVIGIL_APP_DATABASE_URL", None)
    settings = Settings(home=home, database_url=admin)
    direct = libpq(DatabaseUrls.build(settings, admin).app)

    # PgBouncer in front of PostgreSQL for the app role.
    server_host = str(make_url(direct).query.get("host") or make_url(direct).host or "127.0.0.1")
    ini = render_pgbouncer(
        home / "pgbouncer", server=direct, port=ports.pgbouncer, pool_size=args.server_connections
    )
    cluster.start("pgbouncer", pgbouncer_argv(ini, server_host))
    wait_for_port(ports.pgbouncer, "pgbouncer", cluster)
    pooled = make_url(direct).set(host="127.0.0.1", port=ports.pgbouncer)
    pooled = pooled.difference_update_query(["host"])
    env |= {
        "INVIGIL_APP_DATABASE_URL": pooled.render_as_string(hide_password=False),
        "INVIGIL_DB_POOLER": "transaction",
        "INVIGIL_LISTEN_DATABASE_URL": direct,
    }

    # The object store and the mail server.
    moto = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(ports.s3_server)]
    cluster.start("s3", moto, env=env)
    cluster.start(
        "smtp",
        [str(BIN / "python"), "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{ports.smtp}",
         "-c", "aiosmtpd.handlers.Mailbox", str(home / "mail")],
        env=env,
    )  # fmt: skip
    wait_for_port(ports.s3_server, "the S3 server", cluster)
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{ports.s3_server}",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    for region in settings.regions:  # one bucket per data region, named after it
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=f"{BUCKET}-{region}")
    wait_for_port(ports.smtp, "the SMTP server", cluster)

    # Migrations and demo data once, then the API and job workers.
    for step in (["db", "upgrade"], *([["demo"]] if args.demo else [])):
        done = subprocess.run(invigil(*step), env=env, cwd=ROOT, capture_output=True, text=True)  # noqa: S603
        if done.returncode:
            raise SystemExit(f"cluster: invigil {' '.join(step)} failed:\n{done.stderr[-3000:]}")
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise SystemExit("cluster: haproxy is not installed: run `make cluster-deps`")
    cfg = render_haproxy(home, ports, args.api_workers)
    cluster.start("haproxy", [binary, "-db", "-f", str(cfg)], env=env)
    wait_for_port(ports.s3, "the object store through HAProxy", cluster)
    for i in range(args.api_workers):
        serve = ["serve", "--host", "127.0.0.1", "--port", str(ports.api(i)), "--no-demo"]
        cluster.start(f"api{i}", invigil(*serve), env=env)
    for i in range(args.job_workers):
        cluster.start(f"worker{i}", invigil("worker", "--concurrency", "2"), env=env)
    for i in range(args.api_workers):
        wait_for_http(f"http://127.0.0.1:{ports.api(i)}/readyz", f"api{i}")

    wait_for_http(f"http://127.0.0.1:{ports.balancer}/readyz", "haproxy")

    state = {
        "url": f"http://127.0.0.1:{ports.balancer}",
        "stats": f"http://127.0.0.1:{ports.stats}/",
        "database_url": admin,
        "app_database_url": env["INVIGIL_APP_DATABASE_URL"],
        "listen_database_url": direct,
        "s3": env["AWS_ENDPOINT_URL"],
        "haproxy_socket": str(home / "haproxy.sock"),
        "smtp": f"127.0.0.1:{ports.smtp}",
        "mail": str(home / "mail"),
        "home": str(home),
        "pgdata": str(home / "pgdata") if (home / "pgdata").exists() else None,
        "api": {f"api{i}": f"http://127.0.0.1:{ports.api(i)}" for i in range(args.api_workers)},
        "pids": {name: proc.pid for name, proc in cluster.processes.items()},
        "env": {k: v for k, v in env.items() if k.startswith(("INVIGIL_", "AWS_", "DATABASE_"))},
    }
    (home / "cluster.json").write_text(json.dumps(state, indent=2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default=str(ROOT / "var" / "cluster"))
    parser.add_argument("--base-port", type=int, default=8000)
    parser.add_argument("--api-workers", type=int, default=2)
    parser.add_argument("--job-workers", type=int, default=1)
    parser.add_argument("--server-connections", type=int, default=20, help="PgBouncer's pool")
    parser.add_argument("--database-url", help="an administrative DSN (else DATABASE_URL)")
    parser.add_argument("--database", default="invigil_cluster")
    parser.add_argument("--no-demo", dest="demo", action="store_false")
    parser.add_argument(
        "--embedded", action="store_true", help="its own embedded PostgreSQL in HOME/pgdata"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))

    stopping = False

    def interrupted(signum: int, frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    cluster = Cluster(Path(args.home).resolve(), Ports(args.base_port))
    try:
        up(args, cluster)
        state = json.loads((cluster.home / "cluster.json").read_text())
        print(f"cluster ready: {state['url']}  (HAProxy stats: {state['stats']})")
        for name, pid in state["pids"].items():
            print(f"  {name:<10} pid {pid}")
        print(f"state: {cluster.home / 'cluster.json'}; logs: {cluster.logs}; Ctrl-C stops it all")
        sys.stdout.flush()
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
        print("cluster stopped")


if __name__ == "__main__":
    main()
