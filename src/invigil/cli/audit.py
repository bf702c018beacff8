"""`invigil audit ...` and `invigil keys ...`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from invigil.cli.base import DomainErrorExit, _settings, cli, emit
from invigil.cli.database import _database

audit_cli = typer.Typer(no_args_is_help=True, help="The audit log: verify, seal, export.")
keys_cli = typer.Typer(no_args_is_help=True, help="Signing keys (access tokens, checkpoints).")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")


def _tenant_uow(slug: str) -> Any:
    from invigil.db.uow import Actor
    from invigil.tenants import service as tenants

    db = _database()
    ref = tenants.require(db, slug)
    return db.unit_of_work(ref.id, Actor.operator()), ref


def _sources() -> tuple[Any, ...]:
    """The records anchored in the log, by the domains that keep them."""
    from invigil.retention.records import every_source

    return every_source()


def _report(report: Any, what: str, purges: Any = None) -> None:
    records = report.records
    ok = report.ok and (purges is None or purges.ok)
    data: dict[str, Any] = {
        "ok": ok,
        "entries": report.entries,
        "checkpoints": report.checkpoints,
        "first_bad_entry": report.first_bad_seq,
        "problems": report.problems,
    }
    lines = []
    if records is not None:
        data |= {
            "records": records.records,
            "anchored_records": records.anchored,
            "first_bad_record": records.first_bad,
            "record_problems": records.problems,
            "record_problem_count": records.problem_count,
            "unanchored_records": records.unanchored,
            "warnings": records.warnings,
            "purged_records": records.purged,
        }
        lines += [f"warning: {w}" for w in records.warnings]
        lines += [f"purged: {n} records under {label}" for label, n in records.purged.items()]
        hidden = sum(records.unanchored.values()) - len(records.warnings)
        if hidden > 0:
            lines.append(f"warning: {hidden} more records not anchored (recorded before anchors)")
    if purges is not None:
        data["purges"] = purges.as_dict()
        if purges.subjects:
            lines.append(
                f"purges: {purges.subjects} subjects, {purges.objects} objects and "
                f"{purges.keys} keys checked gone"
            )
    counted = f"{report.entries} entries and {report.checkpoints} checkpoints"
    if records is not None:
        counted += f", {records.anchored} of {records.records} records"
    purged = sum(records.purged.values()) if records is not None else 0
    if ok:
        tail = f"; {purged} purged under their receipts" if purged else ""
        emit(data, "\n".join([*lines, f"{what}: {counted} verify{tail}"]))
        return
    if report.first_bad_seq is not None:
        lines.append(f"first bad entry: {report.first_bad_seq}")
    if records is not None and records.first_bad is not None:
        bad = records.first_bad
        lines.append(f"first bad record: {bad['kind']} {bad['id']}: {bad['problem']}")
    problems = list(report.problems)
    if records is not None:
        problems += records.problems
        if records.problem_count > len(records.problems):
            problems.append(f"... {records.problem_count - len(records.problems)} more records")
    if purges is not None:
        problems += [f"purge: {p}" for p in purges.problems]
    emit(data, "\n".join([f"{what}: NOT intact", *lines, *problems]))
    raise typer.Exit(1)


@audit_cli.command("verify")
def audit_verify(tenant: Annotated[str, typer.Option(help="tenant slug")]) -> None:
    """Recompute every leaf and checkpoint, and the hash of every record anchored
    in the log (results, answer sheets, consents, voids, event streams, review decisions,
    deletion receipts) from its rows, and that what each receipt purged is gone (records it
    removed are named by receipt); exit 1 naming the first bad entry or record."""
    from invigil.audit import service
    from invigil.context import Services
    from invigil.retention import receipts
    from invigil.retention import verify as purges

    services = Services.build(_settings())
    receipts.use_ring(services.keys.audit)
    uow_cm, ref = _tenant_uow(tenant)
    with uow_cm as uow:
        report = service.verify_tenant(uow, services.keys.audit, _sources())
        purged = purges.check(uow, services.evidence)
    _report(report, f"audit log of {ref.slug}", purged)


@audit_cli.command("checkpoint")
def audit_checkpoint(tenant: Annotated[str, typer.Option(help="tenant slug")]) -> None:
    """Seal a signed checkpoint of the tenant's log now."""
    from invigil.audit import checkpoints, service
    from invigil.context import Services

    services = Services.build(_settings())
    uow_cm, _ = _tenant_uow(tenant)
    with uow_cm as uow:
        sealed = checkpoints.seal(uow, services.keys.audit)
        current = sealed or checkpoints.latest(uow)
        data = service.checkpoint_out(current) if current else None
    if current is None:
        emit({"checkpoint": None}, "the log is empty: nothing to seal")
        return
    assert data is not None
    verb = "sealed" if sealed else "unchanged since"
    emit(
        {"sealed": sealed is not None, "checkpoint": data},
        f"{verb} checkpoint: size {data['tree_size']} root {data['root_hash']} "
        f"key {data['key_id']}",
    )


@audit_cli.command("export")
def audit_export(
    tenant: Annotated[str, typer.Option(help="tenant slug")],
    out: Annotated[Path, typer.Option(help="file to write")],
) -> None:
    """Write entries, checkpoints, public keys and the anchored records to a file
    for offline verification."""
    from invigil.audit import service
    from invigil.context import Services
    from invigil.retention import receipts

    services = Services.build(_settings())
    receipts.use_ring(services.keys.audit)
    uow_cm, ref = _tenant_uow(tenant)
    with uow_cm as uow:
        data = service.export(uow, services.keys.audit, ref.slug, _sources())
    out.write_text(json.dumps(data, indent=1, default=str))
    emit(
        {
            "out": str(out),
            "entries": len(data["entries"]),
            "checkpoints": len(data["checkpoints"]),
            "records": len(data["records"]),
        },
        f"wrote {len(data['entries'])} entries, {len(data['checkpoints'])} checkpoints "
        f"and {len(data['records'])} records to {out}",
    )


AUDIT_KEYS_PATH = "/.well-known/invigil-audit-keys.json"
MAX_KEY_SET = 1024 * 1024


def _keys_url(url: str) -> str:
    """A server's address (``http://host:8000``) or the key set's own URL."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DomainErrorExit(f"not an http(s) address: {url}")
    if parts.path in ("", "/"):
        return url.rstrip("/") + AUDIT_KEYS_PATH
    return url


def _fetch_keys(url: str) -> tuple[bytes, dict[str, Any]]:
    """The checkpoint key set a running server publishes, read and checked."""
    import urllib.error
    import urllib.request

    from invigil.audit.offline import parse_keys

    full = _keys_url(url)
    request = urllib.request.Request(full, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310 - http(s) only
            raw = answer.read(MAX_KEY_SET + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise DomainErrorExit(f"cannot fetch {full}: {exc}") from exc
    if len(raw) > MAX_KEY_SET:
        raise DomainErrorExit(f"{full} answered more than a key set can weigh")
    return raw, parse_keys(raw, full)


@audit_cli.command("fetch-key")
def audit_fetch_key(
    url: Annotated[str, typer.Argument(help="the server (http://host:port) or the key set's URL")],
    out: Annotated[Path, typer.Option(help="file to write")] = Path("invigil-audit-keys.json"),
) -> None:
    """Save the checkpoint keys a running server publishes
    (/.well-known/invigil-audit-keys.json), for `audit verify-export --key`.
    Compare the printed thumbprints with ones the operator gave you another way."""
    raw, keys = _fetch_keys(url)
    out.write_bytes(raw)
    emit(
        {"out": str(out), "thumbprints": sorted(keys)},
        "\n".join([f"wrote {len(keys)} checkpoint key(s) to {out}:", *sorted(keys)]),
    )


@audit_cli.command("verify-export")
def audit_verify_export(
    file: Path,
    key: Annotated[
        Path | None,
        typer.Option(
            help="pin trust to this public key file: PEM, JWK or the key set from "
            "/.well-known/invigil-audit-keys.json (see `audit fetch-key`)"
        ),
    ] = None,
    key_url: Annotated[
        str | None,
        typer.Option(
            help="fetch the key set from this running server (http://host:port) "
            "instead of a file; the only network use, and only when given"
        ),
    ] = None,
) -> None:
    """Verify an export (its log and its records) with no database (and no
    network unless --key-url); exit 1 naming the first bad entry or record."""
    from invigil.audit.offline import load_keys, verify_export

    if key and key_url:
        raise DomainErrorExit("give --key or --key-url, not both")
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise DomainErrorExit(f"cannot read {file}: {exc}") from exc
    pinned = load_keys(key) if key else _fetch_keys(key_url)[1] if key_url else None
    _report(verify_export(data, pinned), f"export {file.name}")


@keys_cli.command("list")
def keys_list() -> None:
    """Signing keys by purpose; the current one signs, the others still verify."""
    from invigil.context import Services

    keys = Services.build(_settings()).keys
    rows = [
        {
            "purpose": ring.purpose,
            "kid": k.kid,
            "current": k.kid == ring.current().kid,
            "created_at": k.created_at.isoformat(),
        }
        for ring in (keys.access, keys.audit)
        for k in ring.signing_keys()
    ]
    emit(
        {"items": rows},
        "\n".join(
            f"{r['purpose']:<17} {r['kid']}  {'current' if r['current'] else 'verifying'}"
            for r in rows
        ),
    )


@keys_cli.command("rotate")
def keys_rotate(
    purpose: Annotated[str, typer.Argument(help="access-token or audit-checkpoint")],
) -> None:
    """Start signing with a new key; the previous one keeps verifying until retired."""
    from invigil.context import Services

    keys = Services.build(_settings()).keys
    if purpose not in ("access-token", "audit-checkpoint"):
        raise DomainErrorExit("purpose must be access-token or audit-checkpoint")
    kid = keys.ring(purpose).rotate()
    emit({"purpose": purpose, "kid": kid}, kid)


@keys_cli.command("retire")
def keys_retire(purpose: str, kid: str) -> None:
    """Stop publishing and accepting a key (after its tokens have expired)."""
    from invigil.context import Services

    Services.build(_settings()).keys.ring(purpose).retire(kid)
    emit({"retired": kid}, f"retired {kid}")


@keys_cli.command("rotate-master")
def keys_rotate_master() -> None:
    """New evidence master key; every tenant key is re-wrapped, no object is touched."""
    from invigil.context import Services
    from invigil.evidence.keys import rotate_master
    from invigil.evidence.master import LocalMasterKey

    master = Services.build(_settings()).evidence.master
    if not isinstance(master, LocalMasterKey):
        raise DomainErrorExit("the master key comes from INVIGIL_MASTER_KEY: rotate it there")
    done = rotate_master(_database(), master)
    emit(
        {"master_key": master.key_id, "rewrapped": done},
        f"master key {master.key_id}; re-wrapped tenant keys: "
        + (", ".join(f"{slug} ({n})" for slug, n in done.items()) or "none"),
    )


@keys_cli.command("credentials-rotate")
def keys_credentials_rotate(tenant: Annotated[str, typer.Option(help="tenant slug")]) -> None:
    """A new key signs the tenant's certificate credentials; the old one stays
    published so that what it signed still verifies (docs/adr/0043)."""
    from datetime import UTC, datetime

    from invigil.certification import issuer_keys
    from invigil.context import Services

    services = Services.build(_settings())
    uow_cm, ref = _tenant_uow(tenant)
    with uow_cm as uow:
        made = issuer_keys.rotate(uow, services.box, now=datetime.now(UTC))
        kid = issuer_keys.key_url(services.settings.issuer, ref.id, made.id)
    emit({"tenant": ref.slug, "key_id": str(made.id), "kid": kid}, f"{ref.slug}: now signing {kid}")


@keys_cli.command("credentials-withdraw")
def keys_credentials_withdraw(
    key_id: Annotated[str, typer.Argument(help="the retired key's id (the end of its kid)")],
    tenant: Annotated[str, typer.Option(help="tenant slug")],
) -> None:
    """Take a stolen (retired) credential key out of the JWKS: everything it
    signed stops verifying; genuine credentials are signed anew when fetched."""
    import uuid
    from datetime import UTC, datetime

    from invigil.certification import issuer_keys

    try:
        wanted = uuid.UUID(key_id)
    except ValueError:
        raise DomainErrorExit("key_id is not a UUID") from None
    uow_cm, ref = _tenant_uow(tenant)
    with uow_cm as uow:
        issuer_keys.withdraw(uow, wanted, now=datetime.now(UTC))
    emit({"tenant": ref.slug, "withdrawn": key_id}, f"{ref.slug}: withdrew {key_id}")
