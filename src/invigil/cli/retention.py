"""`invigil retention report` and `invigil retention purge` (docs/operations.md,
"Purging"), run as the operator against one tenant named by its slug."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from invigil.cli import database as database_cli
from invigil.cli.base import _settings, cli, emit

retention_cli = typer.Typer(
    no_args_is_help=True, help="Retention: what was purged, what is due, purge by hand."
)
cli.add_typer(retention_cli, name="retention")

JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _json(local: bool) -> None:
    if local:
        from invigil.cli import base

        base._state["json"] = True


def _setup(slug: str) -> tuple[Any, Any, Any]:
    from invigil.context import Services
    from invigil.retention import receipts
    from invigil.tenants import service as tenants

    services = Services.build(_settings())
    receipts.use_ring(services.keys.audit)
    db = database_cli._database()
    return db, tenants.require(db, slug), services


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        if len(value) > 40:
            raise ValueError(value)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        typer.echo(f"--now {value[:40]!r} is not an ISO 8601 date and time", err=True)
        raise typer.Exit(2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@retention_cli.command("report")
def retention_report(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    now: Annotated[str | None, typer.Option(help="as of this ISO time (default: now)")] = None,
    limit: Annotated[
        int, typer.Option(help="receipts shown, newest first", min=1, max=10_000)
    ] = 200,
    json_output: JsonFlag = False,
) -> None:
    """What was purged (each receipt: when, class, counts, policy version,
    signature checked) and what is due per class: overdue (the next run
    purges it), within 30 days, held back by a legal hold."""
    from invigil.db.uow import Actor
    from invigil.retention import purge, receipts

    _json(json_output)
    at = _now(now)
    db, ref, _ = _setup(tenant)
    with db.unit_of_work(ref.id, Actor.operator()) as uow:
        purged = receipts.listed(uow, limit=limit)
        due = purge.schedule(uow, now=at)
    data = {
        "tenant": ref.slug,
        "as_of": at.isoformat(),
        "receipts": [r.as_dict() for r in purged],
        "due": [d.as_dict() for d in due],
    }
    lines = [f"retention of {ref.slug} as of {at:%Y-%m-%d %H:%M} UTC", "", "purged:"]
    for r in purged:
        ok = "signature ok" if r.signature_ok and r.hash_ok else "SIGNATURE OR HASH BAD"
        rows = ", ".join(f"{k} {v}" for k, v in r.counts.get("rows", {}).items()) or "no rows"
        lines.append(
            f"  {r.created_at:%Y-%m-%d %H:%M} {r.data_class} ({r.trigger}, policy version "
            f"{r.policy_version}): {r.subjects} subjects, {r.objects_deleted} objects, "
            f"{r.keys_destroyed} keys, {rows}; receipt {r.id}, {ok}"
        )
    if not purged:
        lines.append("  nothing yet")
    lines += ["", "due:"]
    for d in due:
        lines.append(
            f"  {d.data_class}: {d.overdue} overdue, {d.next_30_days} in the next 30 days, "
            f"{d.held} held by a legal hold"
        )
    emit(data, "\n".join(lines))
    if any(not (r.signature_ok and r.hash_ok) for r in purged):
        raise typer.Exit(1)


@retention_cli.command("purge")
def retention_purge(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    now: Annotated[
        str | None, typer.Option(help="purge as if it were this ISO time (default: now)")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Purge what is due now (as the daily job does), then delete the objects
    from the store and verify; running it again purges nothing new."""
    from invigil.db.uow import Actor
    from invigil.retention import purge

    _json(json_output)
    at = _now(now)
    db, ref, services = _setup(tenant)
    done = purge.run_tenant(db, ref.id, services.evidence, now=at, actor=Actor.operator())
    data = {"tenant": ref.slug, "as_of": at.isoformat(), **done.as_dict()}
    counted = ", ".join(f"{k} {v}" for k, v in done.subjects.items()) or "nothing due"
    lines = [
        f"{ref.slug}: {len(done.receipts)} receipts ({counted}); "
        f"{done.objects_deleted} objects deleted from the store",
        *[f"receipt {r}" for r in done.receipts],
    ]
    if done.problems:
        emit(data, "\n".join([*lines, "NOT verified:", *done.problems]))
        raise typer.Exit(1)
    emit(data, "\n".join([*lines, "verified: every purged object, key and row is gone"]))
