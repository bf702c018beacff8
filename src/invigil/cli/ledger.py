"""`invigil ledger verify`, `credit` and `storage` (docs/operations.md),
run as the operator against one tenant named by its slug."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from invigil.cli import database as database_cli
from invigil.cli.base import cli, emit

ledger_cli = typer.Typer(no_args_is_help=True, help="The ledger: verify, top up, charge storage.")
cli.add_typer(ledger_cli, name="ledger")


def _unit_of_work(slug: str) -> tuple[Any, Any]:
    from invigil.db.uow import Actor
    from invigil.tenants import service as tenants

    db = database_cli._database()
    ref = tenants.require(db, slug)
    return db.unit_of_work(ref.id, Actor.operator()), ref


@ledger_cli.command("verify")
def ledger_verify(tenant: Annotated[str, typer.Option(help="tenant slug")]) -> None:
    """Recompute every balance from the entries, check every transfer sums
    to zero with two entries or more, every reversal negates a real transfer
    once, every charge costs what its price list says, every AI usage record
    has its charge, and every hash matches its rows and its audit entry;
    exit 1 naming the first failure."""
    from invigil.ai.verify import check as check_ai
    from invigil.ledger.verify import verify

    uow_cm, ref = _unit_of_work(tenant)
    with uow_cm as uow:
        report = verify(uow)
        check_ai(uow, report)
    counted = f"{report.transfers} transfers, {report.entries} entries, {report.accounts} accounts"
    data = {"tenant": ref.slug, **report.as_dict()}
    if report.ok:
        emit(data, f"ledger of {ref.slug}: {counted} verify")
        return
    more = report.problem_count - len(report.problems)
    lines = [f"ledger of {ref.slug}: NOT intact ({counted})", f"first failure: {report.first}"]
    lines += report.problems[1:] + ([f"... {more} more"] if more > 0 else [])
    emit(data, "\n".join(lines))
    raise typer.Exit(1)


@ledger_cli.command("credit")
def ledger_credit(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    amount: Annotated[int, typer.Option(help="whole credits to add", min=1, max=10**12)],
    reference: Annotated[str, typer.Option(help="the payment or invoice it is for (once each)")],
) -> None:
    """Top up a tenant's credits, once per reference: running it again with
    the same reference and amount adds nothing (another amount is refused)."""
    from invigil.ledger import service

    uow_cm, ref = _unit_of_work(tenant)
    with uow_cm as uow:
        done = service.credit(uow, amount, reference, now=datetime.now(UTC))
        available = service.balance(uow)
    data = {"tenant": ref.slug, "transfer": done.as_dict(), "credits_available": available}
    word = "already credited" if done.replayed else "credited"
    emit(data, f"{ref.slug}: {word} {amount} ({reference}), transfer {done.id}; "
               f"credits available {available}")  # fmt: skip


@ledger_cli.command("storage")
def ledger_storage(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    day: Annotated[
        str | None,
        typer.Option(help="measure through this UTC day, YYYY-MM-DD (default: yesterday)"),
    ] = None,
) -> None:
    """Measure the tenant's evidence storage for each day not yet measured,
    oldest first, through --day (a day that is over), and charge what each
    brings due; the hourly job does the same for every tenant. A day
    measured before is shown as it was, never measured or charged again."""
    from invigil.db.uow import Actor
    from invigil.ledger import storage

    now = datetime.now(UTC)
    through = None
    if day is not None:
        try:
            through = date.fromisoformat(day)
        except ValueError:
            typer.echo(f"--day {day[:40]!r} is not a date (YYYY-MM-DD)", err=True)
            raise typer.Exit(2) from None
        if through >= now.date():
            typer.echo(f"--day {through.isoformat()} is not over yet; give an earlier day",
                       err=True)  # fmt: skip
            raise typer.Exit(2)
    db = database_cli._database()
    from invigil.tenants import service as tenants

    ref = tenants.require(db, tenant)
    done = storage.run_tenant(db, ref.id, now=now, through=through, limit=10_000,
                             actor=Actor.operator())  # fmt: skip
    data = {"tenant": ref.slug, "days": [m.as_dict() for m in done]}
    lines = [
        f"{m.day.isoformat()}: {m.objects} objects, {m.bytes} bytes; owed {m.owed_total} in all, "
        f"charged {m.charged}{' (measured before)' if m.again else ''}"
        for m in done
    ]
    emit(data, "\n".join(lines) or f"{ref.slug}: no day to measure")
