"""`invigil ledger verify`, `credit`, `storage`, `price-list` and `statement`
(docs/operations.md), run as the operator against one tenant named by its slug."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from invigil.cli import database as database_cli
from invigil.cli.base import cli, emit

ledger_cli = typer.Typer(
    no_args_is_help=True,
    help="The ledger: verify, top up, price lists, statements, charge storage.",
)
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


def _json(local: bool) -> None:
    """``--json`` given after the command: the same as before it."""
    if local:
        from invigil.cli import base

        base._state["json"] = True


JsonFlag = Annotated[bool, typer.Option("--json", help="machine-readable output")]


@ledger_cli.command("price-list")
def ledger_price_list(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    file: Annotated[
        Path | None,
        typer.Option(
            help="a price list as JSON (invitation, attempt, evidence_gb_month, "
            "ai_per_1k_tokens) to set as the next version; without it the lists are shown"
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="why the prices change (with --file)")] = None,
    effective: Annotated[
        str | None,
        typer.Option(help="in force from (ISO 8601 with a time zone; default now; never past)"),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show a tenant's price list in force and every version, or, with
    --file and --reason, write its next version."""
    from invigil.errors import Invalid
    from invigil.ledger import prices

    _json(json_output)
    if file is None and (reason is not None or effective is not None):
        raise Invalid("--reason and --effective go with --file", field="file")
    document: Any = None
    when: datetime | None = None
    if file is not None:
        if not reason:
            raise Invalid("give --reason: why the prices change", field="reason")
        try:
            raw = file.read_bytes()
            if len(raw) > 100_000:
                raise Invalid(f"{file} is larger than a price list (100 kB)", field="file")
            document = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise Invalid(
                f"cannot read a JSON price list from {file}: {exc}", field="file"
            ) from None
        if effective is not None:
            try:
                when = datetime.fromisoformat(effective)
            except ValueError:
                raise Invalid("--effective must be ISO 8601, e.g. 2027-01-01T00:00Z",
                              field="effective_from") from None  # fmt: skip
    uow_cm, ref = _unit_of_work(tenant)
    with uow_cm as uow:
        now = datetime.now(UTC)
        if file is not None:
            made = prices.set_price_list(uow, document, reason=reason or "", now=now,
                                         effective_from=when)  # fmt: skip
            emit({"tenant": ref.slug, "set": made.as_dict()},
                 f"{ref.slug}: price list version {made.version} set, in force from "
                 f"{made.effective_from.isoformat()}")  # fmt: skip
            return
        found = prices.in_force(uow, now)
        versions = prices.versions(uow)
    data = {
        "tenant": ref.slug,
        "in_force": found.as_dict() if found else None,
        "versions": [v.as_dict() for v in versions],
    }
    if found is None:
        text = f"{ref.slug}: no price list in force (not metered); {len(versions)} version(s)"
    else:
        text = "\n".join([
            f"{ref.slug}: price list version {found.version} in force since "
            f"{found.effective_from.isoformat()} ({found.reason})",
            json.dumps(found.prices.model_dump(mode="json"), indent=2, sort_keys=True),
            *(f"version {v.version}: from {v.effective_from.isoformat()}, {v.reason}"
              for v in versions),
        ])  # fmt: skip
    emit(data, text)


@ledger_cli.command("statement")
def ledger_statement(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    from_: Annotated[str | None, typer.Option("--from", help="first day, YYYY-MM-DD (UTC)")] = None,
    to: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD (default: today)")] = None,
    json_output: JsonFlag = False,
) -> None:
    """A statement of credits available over a period (default: this month):
    opening balance, movements by what they were for, closing balance, and
    whether they add up (exit 1 when they do not)."""
    from invigil.ledger import statement

    _json(json_output)
    within = statement.period(from_, to, today=datetime.now(UTC).date())
    assert within is not None
    uow_cm, ref = _unit_of_work(tenant)
    with uow_cm as uow:
        s = statement.statement(uow, within)
    width = max([len(statement.PURPOSES[g.purpose][0]) for g in s.groups] + [16])
    lines = [f"statement of {ref.slug}, credits available, {within.first} to {within.last} (UTC)",
             f"{'opening balance':<{width}} {'':>6} {s.opening:>12}"]  # fmt: skip
    lines += [f"{statement.PURPOSES[g.purpose][0]:<{width}} {g.count:>6} {g.credits:>12}"
              for g in s.groups]  # fmt: skip
    lines.append(f"{'closing balance':<{width}} {'':>6} {s.closing:>12}")
    lines.append("checked: opening + movements = closing" if s.balanced else
                 f"DOES NOT ADD UP: closing {s.closing}, from the stored balance "
                 f"{s.closing_from_balance}; run invigil ledger verify")  # fmt: skip
    emit({"tenant": ref.slug, **s.as_dict(with_lines=True)}, "\n".join(lines))
    if not s.balanced:
        raise typer.Exit(1)
