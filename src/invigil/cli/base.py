"""The ``invigil`` command (README.md, docs/operations.md). ``--json`` for machine output;
errors go to stderr with a non-zero exit."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from invigil import logs
from invigil.errors import DomainError
from invigil.security import passwords
from invigil.settings import Settings, get_settings

cli = typer.Typer(
    no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False
)

_state: dict[str, Any] = {"json": False}


def _settings() -> Settings:
    settings = get_settings()
    logs.configure(settings.log_format, settings.log_level)
    passwords.configure(settings.argon2_profile)
    return settings


def emit(data: dict[str, Any], text: str) -> None:
    typer.echo(json.dumps(data, default=str) if _state["json"] else text)


@cli.callback()
def main_options(
    json_output: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    _state["json"] = json_output


class DomainErrorExit(DomainError):
    status = 1
    slug = "cli"


def main() -> None:
    try:
        cli()
    except DomainError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        sys.exit(1)
