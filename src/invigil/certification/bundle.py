"""The evidence bundle of one certificate (kind ``certificate``;
docs/formats/certificate-bundle.md lists its members, ADR 0047 says why).

Every record goes in as the rows hold it now, citing the entry that
anchors it: the certificate (its anchored document, ``certificate.issued``),
the program version it was issued under (the frozen definition,
``certification.program_versioned``), every change of its state
(``certificate.state_changed``), and for each result it rests on (its
``basis``) the exact result revision it names (``result.recorded``). The
certificate's current state, which changes and so is no part of its
anchored document, goes in as context (``records/state.json``): the
verifier checks it is the last state change. The audit part (entries,
inclusion proofs, the checkpoint and its keys) is added after, as for every
kind (:mod:`invigil.audit.bundle_proofs`).

The bundle stays small: it carries the results, not the attempts behind
them. Each attempt has its own bundle (answers, events, marks, evidence);
``report.txt`` names the attempts so an auditor can ask for those.

When the tenant's credential module is present, the signed Open Badges
credential and the issuer's public key go in too (:func:`add_credential`),
so that the same offline check covers the credential an employer holds.
No names or emails: the holder is an id.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from invigil.audit.bundle import BundleWriter, Cited, Options
from invigil.audit.bundle_proofs import anchoring_entry
from invigil.audit.log import jsonable
from invigil.certification import records
from invigil.certification.models import Certificate, StateChange
from invigil.db.uow import UnitOfWork
from invigil.delivery.models import AttemptResult
from invigil.errors import NotFound

CERTIFICATE = "records/certificate.json"
STATE = "records/state.json"
VERSION = "records/program_version.json"
CREDENTIAL = "records/credential.jwt"
ISSUER_KEY = "records/issuer_key.json"


def _cite(uow: UnitOfWork, kind: str, subject: tuple[str, str], action: str) -> Cited:
    entry = anchoring_entry(uow, *subject, (action,))
    if entry is None:
        raise NotFound(f"no {action} entry records {subject[0]} {subject[1]}")
    return Cited(kind, subject[1], entry.seq)


def build_certificate(
    uow: UnitOfWork, certificate_id: uuid.UUID, writer: BundleWriter, options: Options
) -> None:
    cert = uow.scalar(select(Certificate).where(Certificate.id == certificate_id))
    if cert is None:
        raise NotFound(f"certificate {certificate_id} was not found")
    cid = str(cert.id)
    record = records.certificate(uow, cert.id, keep=True)
    if record.flaw is not None:
        # The rows disagree with themselves: say so here, not in a bundle that fails later.
        raise NotFound(f"certificate {cid} cannot be bundled: {record.flaw}")
    cited = _cite(uow, "certificate", ("certificate", cid), "certificate.issued")
    writer.add_json(CERTIFICATE, record.body, "record", cited)
    writer.add_json(
        STATE,
        jsonable(
            {
                "certificate_id": cert.id,
                "state": cert.state,
                "state_seq": cert.state_seq,
                "state_changed_at": cert.state_changed_at,
            }
        ),
        "context",
    )
    version = records.program_version(uow, cert.program_version_id, keep=True)
    cited = _cite(uow, "cert_program_version", ("cert_program_version", version.id),
                  "certification.program_versioned")  # fmt: skip
    writer.add_json(VERSION, version.body, "record", cited)
    changes = uow.scalars(
        select(StateChange).where(StateChange.certificate_id == cert.id).order_by(StateChange.seq)
    )
    for c in changes:
        doc = records.state_change(uow, c.id, keep=True).body
        cited = _cite(uow, "certificate_state", ("certificate_state_change", str(c.id)),
                      "certificate.state_changed")  # fmt: skip
        writer.add_json(f"records/state_changes/{c.seq:04d}.json", doc, "record", cited)
    for entry in cert.basis:
        _result(uow, entry, writer)
    credential = add_credential(uow, cert, writer, options)
    writer.add_stream("report.txt", [_summary(cert, list(changes), credential).encode()], "report")


def _result(uow: UnitOfWork, basis: dict[str, Any], writer: BundleWriter) -> None:
    """The result revision a basis entry names, with the entry that recorded it."""
    attempt_id, revision = basis.get("attempt_id"), basis.get("revision")
    result = uow.scalar(
        select(AttemptResult).where(
            AttemptResult.attempt_id == uuid.UUID(str(attempt_id)),
            AttemptResult.revision == revision,
        )
    )
    if result is None:
        raise NotFound(f"result revision {revision} of attempt {attempt_id} was not found")
    entry = anchoring_entry(uow, "attempt_result", str(result.id), ("result.recorded",))
    if entry is None:
        raise NotFound(f"no result.recorded entry records result {result.id}")
    cited = Cited("result", str(result.id), entry.seq, "document_sha256")
    path = f"records/results/{attempt_id}-{revision:04d}.json"
    writer.add_json(path, result.document, "record", cited)


def add_credential(
    uow: UnitOfWork, cert: Certificate, writer: BundleWriter, options: Options
) -> bool:
    """The signed credential (VC-JWT, signed now by the issuer's current key)
    and that key's public JWK (:mod:`invigil.certification.credentials`), so
    the verifier checks the credential against the certificate offline.
    Returns whether the credential went in (always)."""
    from invigil.certification import credentials

    box, settings = options.services.box, options.services.settings
    token = credentials.signed(uow, box, settings, cert)
    writer.add_stream(CREDENTIAL, [token.encode()], "context")
    writer.add_json(ISSUER_KEY, credentials.issuer_jwk(uow, box), "context")
    return True


def _summary(cert: Certificate, changes: list[StateChange], credential: bool) -> str:
    lines = [
        f"Evidence bundle of certificate {cert.number} ({cert.id})",
        f"Holder {cert.holder_id}, program {cert.program_id}, version {cert.program_version_id}.",
        f"Issued {jsonable(cert.issued_at)}, expires "
        f"{jsonable(cert.expires_at) if cert.expires_at else 'never'}; "
        f"now {cert.state} (change {cert.state_seq} of {len(changes)}).",
        "",
        "State changes (seq, from -> to, when, why):",
    ]
    for c in changes:
        when = jsonable(c.changed_at)
        lines.append(f"  {c.seq:>3}  {c.from_state or '-'} -> {c.state}  {when}  {c.reason}")
    lines += ["", "Results it rests on (attempt, exam, revision, percent, integrity):"]
    for b in cert.basis:
        lines.append(
            f"  {b.get('attempt_id')}  exam {b.get('exam_id')}  revision {b.get('revision')}  "
            f"{b.get('percent')}  {b.get('integrity')}"
        )
    lines += [
        "",
        "Each attempt's answers, events, marks and evidence are in its own bundle:",
        "  invigil bundle build --tenant T --attempt ATTEMPT_ID --out attempt.zip",
        "",
        "The signed Open Badges credential and the issuer's key are in records/."
        if credential
        else "No signed credential is included (records/credential_absent.json says why).",
        "",
        "No names or emails are in this bundle. To check it offline:",
        "  invigil bundle verify THIS.zip   (or: python -m invigil.verifier THIS.zip)",
        "It checks every record against the signed audit log, that the current state is",
        "the last state change, that the results are those the certificate names, and",
        "re-evaluates the program's requirements over them.",
        "",
    ]
    return "\n".join(lines)
