"""`invigil bank import` and `invigil bank export` (docs/operations.md): a
question bank's questions in or out, run as the operator against one tenant.

Import is the API's import (:func:`invigil.content.transfer.import_questions`):
one transaction, all or nothing, exact duplicates skipped, one
``question.imported`` audit entry. Only its limits differ: a migration moves
whole banks, so the command takes files of up to :data:`MAX_BYTES` and
:data:`MAX_QUESTIONS` questions where the API takes 5 MB and 2,000. Export is
the API's export, byte for byte, and like it writes no audit entry.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from invigil.cli import base
from invigil.cli.base import cli, emit
from invigil.cli.ledger import JsonFlag, _json, _unit_of_work
from invigil.errors import DomainError, Invalid, NotFound

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from invigil.content.models import QuestionBank
    from invigil.content.transfer import Format
    from invigil.db.uow import UnitOfWork

MB = 1024 * 1024
MAX_BYTES = 200 * MB
MAX_QUESTIONS = 50_000
SUFFIXES = {".json": "json", ".csv": "csv", ".xml": "qti", ".qti": "qti", ".zip": "qti"}

bank_cli = typer.Typer(
    no_args_is_help=True,
    help="Question banks: import and export files of questions (large migrations).",
)
cli.add_typer(bank_cli, name="bank")


class FileFormat(StrEnum):
    json = "json"
    csv = "csv"
    qti = "qti"


class ExportFileFormat(StrEnum):
    json = "json"
    csv = "csv"
    qti = "qti"
    qti_package = "qti-package"


TenantOption = Annotated[str, typer.Option(help="tenant slug")]
BankOption = Annotated[str, typer.Option(help="the bank's id, or its exact name in the tenant")]


@contextmanager
def _answered() -> Iterator[None]:
    """A refusal as the operator reads it, exit 1: the message and each
    problem as "where: message" on stderr, or, with --json, one object on
    stdout (``error`` and ``problems``)."""
    try:
        yield
    except DomainError as exc:
        problems: list[dict[str, str]] = exc.extensions.get("problems") or []
        if base._state["json"]:
            typer.echo(json.dumps({"error": exc.detail, "problems": problems}))
        else:
            lines = [f"error: {exc.detail}", *(f"{p['where']}: {p['message']}" for p in problems)]
            typer.echo("\n".join(lines), err=True)
        raise typer.Exit(1) from None


def _bank(uow: UnitOfWork, given: str) -> QuestionBank:
    """The tenant's bank with this id or this exact name; a value that is
    one bank's id and another's name is refused, naming both ids."""
    from sqlalchemy import func, select

    from invigil.content import banks
    from invigil.content.models import QuestionBank

    by_id: QuestionBank | None = None
    with suppress(ValueError, NotFound):
        by_id = banks.require_bank(uow, uuid.UUID(given))
    by_name = banks.find_by_name(uow, given) if given.strip() else None
    if by_id is not None and by_name is not None and by_id.id != by_name.id:
        raise Invalid(
            f"{given!r} names two banks: it is the id of bank {by_id.name!r} ({by_id.id}) "
            f"and the name of bank {by_name.id}; give {by_id.name!r} by its name, "
            f"or the other by its id"
        )
    found = by_id or by_name
    if found is not None:
        return found
    like = uow.scalars(
        select(QuestionBank)
        .where(func.lower(QuestionBank.name) == " ".join(given.split()).lower())
        .order_by(QuestionBank.name, QuestionBank.id)
        .limit(5)
    )
    hint = "; ".join(f"{b.name!r} ({b.id})" for b in like)
    raise NotFound(
        f"no question bank {given[:200]!r} in this tenant (give its id or its exact name)"
        + (f"; did you mean {hint}?" if hint else "")
    )


def _format(file: Path, given: FileFormat | None) -> Format:
    if given is not None:
        return given.value
    fmt = SUFFIXES.get(file.suffix.lower())
    if fmt is None:
        raise Invalid(
            f"cannot tell the format of {file.name!r} from its extension; "
            "give --format json, csv or qti"
        )
    return cast("Format", fmt)


class _Bar:
    """Progress on stderr, one line per phase; nothing when ``shown`` is false
    (stderr is not a terminal, or --json)."""

    LABELS = {
        "reading": "reading the file",
        "checking": "checking items",
        "writing": "writing questions",
    }

    def __init__(self, shown: bool) -> None:
        self.shown = shown
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Bar:
        if self.shown:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description:<18}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
            )
            self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self.progress is None:
            return
        if phase not in self.tasks:
            self.tasks[phase] = self.progress.add_task(self.LABELS.get(phase, phase), total=None)
        self.progress.update(self.tasks[phase], completed=done, total=total or None)


def _on_a_terminal() -> bool:
    """Whether to show the bar: a person watching stderr, not --json."""
    return sys.stderr.isatty() and not base._state["json"]


def _read(file: Path, bar: _Bar) -> bytes:
    """The whole file, refused before reading when it is over :data:`MAX_BYTES`."""
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise Invalid(
                f"{file} is {size / MB:.0f} MB; the command imports files of at most "
                f"{MAX_BYTES // MB} MB (split it into several files)"
            )
        chunks: list[bytes] = []
        with file.open("rb") as f:
            while chunk := f.read(MB):
                chunks.append(chunk)
                bar("reading", min(len(chunks) * MB, size), size)
    except OSError as exc:
        raise Invalid(f"cannot read {file}: {exc.strerror or exc}") from None
    bar("reading", size, size)
    return b"".join(chunks)


@bank_cli.command("import")
def bank_import(
    file: Annotated[
        Path, typer.Argument(help="the file: .json, .csv, .xml or .qti, or a QTI package .zip")
    ],
    tenant: TenantOption,
    bank: BankOption,
    format: Annotated[
        FileFormat | None,
        typer.Option(help="the file's format (default: from its extension)"),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Import a file of questions into a bank, all or nothing, exactly as the
    API's import does, for files up to 200 MB and 50,000 questions. Exact
    duplicates of the bank's questions (or of one earlier in the file) are
    skipped and counted. A file with problems imports nothing: each problem
    is named (line, index or item) and the exit status is 1."""
    from invigil.content import transfer

    _json(json_output)
    with _answered():
        fmt = _format(file, format)
        uow_cm, ref = _unit_of_work(tenant)
        with uow_cm as uow, _Bar(_on_a_terminal()) as bar:
            found = _bank(uow, bank)
            content = _read(file, bar)
            done = transfer.import_questions(
                uow, found.id, fmt, content,
                max_bytes=MAX_BYTES, max_questions=MAX_QUESTIONS, progress=bar,
            )  # fmt: skip
            name, bank_id = found.name, found.id
    data: dict[str, Any] = {
        "tenant": ref.slug,
        "bank_id": bank_id,
        "bank": name,
        "imported": len(done.made),
        "question_ids": [m.question.id for m in done.made],
        "skipped_duplicates": done.skipped,
        "refused": [{"where": w, "message": m} for w, m in done.refused],
        "notes": [{"where": w, "message": m} for w, m in done.notes],
    }
    lines = [f"imported {len(done.made)}, skipped {done.skipped} exact duplicates "
             f"into bank {name!r} ({bank_id}) of {ref.slug}"]  # fmt: skip
    if done.refused:
        lines.append(f"not imported ({len(done.refused)}; Invigil cannot carry them faithfully):")
        lines += [f"  {w}: {m}" for w, m in done.refused]
    if done.notes:
        lines.append("notes:")
        lines += [f"  {w}: {m}" for w, m in done.notes]
    emit(data, "\n".join(lines))


@bank_cli.command("export")
def bank_export(
    tenant: TenantOption,
    bank: BankOption,
    format: Annotated[
        ExportFileFormat,
        typer.Option(help="json, csv, qti (one document) or qti-package (a ZIP content package)"),
    ],
    out: Annotated[
        Path | None, typer.Option(help="write the file here (default: standard output)")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Export a bank's live questions, the same file the API's export gives.
    QTI cannot carry every question type: the ids of the questions it left
    out are named on stderr."""
    from invigil.content import transfer

    _json(json_output)
    with _answered():
        uow_cm, ref = _unit_of_work(tenant)
        with uow_cm as uow:
            found = _bank(uow, bank)
            done = transfer.export_questions(uow, found.id, format.value)
            name, bank_id = found.name, found.id
        if out is not None:
            try:
                out.write_bytes(_bytes(done.text))
            except OSError as exc:
                raise Invalid(f"cannot write {out}: {exc.strerror or exc}") from None
    if done.skipped:
        typer.echo(
            f"left out of the QTI file (types QTI cannot carry): {', '.join(done.skipped)}",
            err=True,
        )
    if out is None:  # as bytes: the file exactly, CSV's CRLF line ends too
        typer.echo(_bytes(done.text), nl=False)
        return
    data = {"tenant": ref.slug, "bank_id": bank_id, "bank": name, "format": format.value,
            "file": str(out), "skipped": done.skipped}  # fmt: skip
    emit(data, f"exported bank {name!r} ({bank_id}) of {ref.slug} to {out}")


def _bytes(content: str | bytes) -> bytes:
    return content if isinstance(content, bytes) else content.encode("utf-8")
