"""`invigil certification recertify` (docs/operations.md): run the daily
recertification pass for one tenant by hand, now or at a given time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from invigil.cli import base
from invigil.cli import database as database_cli
from invigil.cli.base import cli, emit
from invigil.errors import Invalid

certification_cli = typer.Typer(no_args_is_help=True, help="Certification: recertification.")
cli.add_typer(certification_cli, name="certification")


def _when(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"--now {value!r} is not an ISO 8601 time", field="now") from None
    if at.tzinfo is None:
        raise Invalid("--now needs a time zone (e.g. 2027-03-01T09:00Z)", field="now")
    return at


@certification_cli.command()
def recertify(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    now: Annotated[
        str | None,
        typer.Option(help="take the steps due at this time (ISO 8601 with a zone; default: now)"),
    ] = None,
) -> None:
    """Take the recertification steps due now (reminders, invitations,
    expiries, escalations) for one tenant; each step is taken once, so
    running it again, or beside the scheduled job, sends nothing twice."""
    from invigil.certification.recertification import daily_pass
    from invigil.delivery.invitations import Kit
    from invigil.tenants import service as tenants

    at = _when(now)
    settings = base._settings()
    db = database_cli._database()
    ref = tenants.require(db, tenant)
    summary = daily_pass(db, ref.id, Kit.from_settings(settings), now=at)
    data = {"tenant": ref.slug, "now": at.isoformat(), **summary.as_dict()}
    steps = ", ".join(f"{k} {v}" for k, v in data["steps"].items())
    emit(data, f"{ref.slug} at {at.isoformat()}: {steps}; failed {summary.failed}")
