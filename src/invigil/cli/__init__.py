"""The ``invigil`` command (README.md, docs/operations.md). ``--json`` for machine output;
errors go to stderr with a non-zero exit."""

from invigil.cli import (  # noqa: F401 - registers
    accounts,
    audit,
    banks,
    bundle,
    database,
    delivery,
    ledger,
    recertification,
    retention,
    server,
    trust,
)
from invigil.cli.base import cli, main

__all__ = ["cli", "main"]
