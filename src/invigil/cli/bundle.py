"""`invigil bundle build` and `invigil bundle verify` (docs/formats/evidence-bundle.md)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from invigil.cli.base import DomainErrorExit, _settings, cli, emit
from invigil.cli.database import _database

bundle_cli = typer.Typer(no_args_is_help=True, help="Evidence bundles: build, verify offline.")
cli.add_typer(bundle_cli, name="bundle")


def _requester(uow: Any, email: str | None) -> tuple[Any, bool]:
    """The actor the build is recorded under, and whether evidence goes in:
    the user's own permissions decide; without --as, hashes only."""
    from invigil.db.uow import Actor
    from invigil.identity import service as identity
    from invigil.security.permissions import Permission as P

    if email is None:
        return Actor.operator(), False
    user = identity.find_by_email(uow, email)
    if user is None or user.status != "active":
        raise DomainErrorExit(f"no active staff user {email} in this tenant")
    held = identity.permissions_of(identity.roles_of(uow, user.id))
    return Actor("user", str(user.id)), P.EVIDENCE_VIEW.value in held


def _subject(
    attempt: str | None, shortlist: str | None, certificate: str | None
) -> tuple[str, uuid.UUID]:
    """The one subject named: (kind, id)."""
    given = [(k, v) for k, v in (("attempt", attempt), ("shortlist", shortlist),
                                  ("certificate", certificate)) if v is not None]  # fmt: skip
    if len(given) != 1:
        raise DomainErrorExit("name exactly one of --attempt, --shortlist or --certificate")
    kind, value = given[0]
    try:
        return kind, uuid.UUID(value)
    except ValueError:
        raise DomainErrorExit(f"--{kind} {value!r} is not a {kind} id") from None


@bundle_cli.command("build")
def bundle_build(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    out: Annotated[Path, typer.Option(help="the ZIP file to write")],
    attempt: Annotated[str | None, typer.Option(help="id of a submitted attempt")] = None,
    shortlist: Annotated[str | None, typer.Option(help="id of a shortlist run")] = None,
    certificate: Annotated[
        str | None,
        typer.Option(help="id of a certificate: its records, state changes, results, credential"),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="build as this staff user (email): evidence goes in decrypted only if they "
            "hold evidence:view; without --as, evidence is named by its hashes only",
        ),
    ] = None,
) -> None:
    """Build the evidence bundle of one attempt, shortlist run or certificate;
    seals a checkpoint first if the log has entries the latest one does not cover."""
    from invigil.audit import bundle_proofs
    from invigil.audit.bundle import Options
    from invigil.cli.server import load_domains
    from invigil.context import Services
    from invigil.db.uow import Actor
    from invigil.tenants import service as tenants

    kind, subject_id = _subject(attempt, shortlist, certificate)
    load_domains()  # each domain registers the builder of its kind when imported
    services = Services.build(_settings())
    db = _database()
    ref = tenants.require(db, tenant)
    with db.unit_of_work(ref.id, Actor.operator()) as probe:
        actor, show = _requester(probe, as_user)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with db.unit_of_work(ref.id, actor) as uow, partial.open("wb") as sink:
            options = Options(show_evidence=show, services=services)
            manifest = bundle_proofs.build(
                uow, services.keys.audit, kind, subject_id, sink, options
            )
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    members = manifest["members"]
    shown = sum(1 for m in members if m["role"] == "evidence")
    emit(
        {
            "out": str(out),
            "members": len(members) + 1,
            "evidence": shown,
            "withheld": len(manifest["withheld"]),
        },
        f"wrote {out}: {len(members) + 1} members, {shown} evidence files, "
        f"{len(manifest['withheld'])} named by hash only",
    )


@bundle_cli.command("verify")
def bundle_verify(
    file: Path,
    key: Annotated[
        Path | None,
        typer.Option(
            help="pin trust to this checkpoint key (PEM, JWK or the key set from "
            "/.well-known/invigil-audit-keys.json): a bundle signed by another fails"
        ),
    ] = None,
) -> None:
    """Verify a bundle offline (no database, no network): exit 0 with a
    summary, or 1 naming the first member and the check that failed."""
    from invigil.verifier import BadKey, load_key, verify
    from invigil.verifier.__main__ import describe

    try:
        pinned = load_key(key) if key else None
    except BadKey as exc:
        raise DomainErrorExit(str(exc)) from None
    if not file.is_file():
        raise DomainErrorExit(f"cannot read {file}: no such file")
    summary = verify(file, pinned)
    emit(summary.out(), describe(summary))
    if not summary.ok:
        raise typer.Exit(1)
