"""The ``invigil`` command (CONTRACT.md). ``--json`` for machine output;
errors go to stderr with a non-zero exit."""

from invigil.cli import accounts, audit, database, server  # noqa: F401 - registers commands
from invigil.cli.base import cli, main

__all__ = ["cli", "main"]
