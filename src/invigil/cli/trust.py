"""`invigil trust report`: a tenant's trust report, generated from the live
settings and rows (docs/security/, ADR 0061), as text, JSON, HTML or PDF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from invigil.cli import database as database_cli
from invigil.cli.base import _settings, _state, cli

trust_cli = typer.Typer(no_args_is_help=True, help="The trust report (security and privacy).")
cli.add_typer(trust_cli, name="trust")
FORMATS = {".pdf": "pdf", ".html": "html", ".htm": "html", ".json": "json", ".txt": "text"}


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


@trust_cli.command("report")
def trust_report(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    out: Annotated[
        Path | None,
        typer.Option(help="write to this file: .pdf, .html, .json or .txt (default: print)"),
    ] = None,
    language: Annotated[str, typer.Option(help="language of the HTML and PDF")] = "en",
) -> None:
    """Data region and evidence store, retention in force, legal holds, roles and
    administrators, MFA, the audit log (verified now), key dates, encryption and
    sub-processors, read from the running configuration; --json for the document."""
    from invigil import i18n
    from invigil.cli.audit import _sources
    from invigil.context import Services
    from invigil.db.uow import Actor
    from invigil.errors import DomainError
    from invigil.retention import trust
    from invigil.tenants import service as tenants

    kind = "json" if _state["json"] and out is None else "text"
    if out is not None:
        found = FORMATS.get(out.suffix.lower())
        if found is None:
            _fail(f"--out {out.name}: name a .pdf, .html, .json or .txt file")
        kind = found or kind
        if not out.parent.is_dir():
            _fail(f"--out {out}: the folder {out.parent} does not exist")
    if i18n.normalise(language) not in i18n.AVAILABLE:
        _fail(f"--language {language[:20]!r}: use one of {', '.join(sorted(i18n.AVAILABLE))}")
    locale = i18n.normalise(language) or i18n.DEFAULT
    settings = _settings()
    try:
        db = database_cli._database()
        ref = tenants.require(db, tenant[:100])
        services = Services.build(settings)
        with db.unit_of_work(ref.id, Actor.operator("trust report")) as uow:
            trust.verify_now(uow, services.keys.audit, _sources())
            report: dict[str, Any] = trust.build(uow, settings, services.keys)
            body: bytes | str
            if kind == "pdf":
                body = trust.pdf(uow, report, locale)
            elif kind == "html":
                body = trust.html(uow, report, locale)
            elif kind == "json":
                body = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
            else:
                body = trust.text(report)
    except DomainError as exc:
        _fail(exc.detail)
        return
    if out is None:
        typer.echo(body, nl=False)
        return
    try:
        if isinstance(body, bytes):
            out.write_bytes(body)
        else:
            out.write_text(body, encoding="utf-8")
    except OSError as exc:
        _fail(f"--out {out}: {exc.strerror}")
    verdict = "intact" if report["audit_log"]["ok"] else "NOT intact"
    message = f"trust report of {ref.slug} written to {out} (audit log {verdict})"
    typer.echo(json.dumps({"out": str(out), "audit_ok": report["audit_log"]["ok"]})
               if _state["json"] else message)  # fmt: skip
