"""The certification records anchored in the audit log (ADR 0014): each
program version, each certificate and each change of a certificate's state.

A program version is its row (its definition must still hash to its
``definition_sha256``); a certificate is its row without the three
current-state columns (those change; they must equal the certificate's last
state change, which the verifier checks too); a state change is its row.
``invigil audit verify`` reads the rows back and compares
(:mod:`invigil.audit.anchored`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from invigil.audit.anchored import Source, stream
from invigil.audit.log import jsonable
from invigil.audit.records import Record, document_sha256
from invigil.db.uow import UnitOfWork

VERSION_FIELDS = ("id", "program_id", "version", "definition", "definition_sha256", "created_by")
CERTIFICATE_FIELDS = ("id", "number", "program_id", "program_version_id", "holder_id",
                      "issued_at", "expires_at", "basis", "renews_id", "status_index",
                      "issued_by", "approved_by")  # fmt: skip
STATE_FIELDS = ("id", "certificate_id", "seq", "from_state", "state", "reason", "changed_by",
                "changed_at")  # fmt: skip


def certificate_document(values: dict[str, Any]) -> dict[str, Any]:
    """A certificate row as its anchored document (``CERTIFICATE_FIELDS``)."""
    document: dict[str, Any] = jsonable({f: values[f] for f in CERTIFICATE_FIELDS})
    return document


def _versions(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params, name = "", {}, "records_cert_program_versions"
    if row_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": row_id}, None  # type: ignore[assignment]
    sql = f"SELECT {', '.join(VERSION_FIELDS)} FROM cert_program_versions {where} ORDER BY id"
    for row in stream(uow, sql, params, name):
        document = jsonable(dict(zip(VERSION_FIELDS, row, strict=True)))
        flaw = None
        if document_sha256(document["definition"]) != document["definition_sha256"]:
            flaw = "its definition no longer hashes to its definition_sha256"
        yield Record("cert_program_version", str(row[0]), "cert_program_version",
                     "certification.program_versioned", document_sha256(document),
                     body=document if keep else None, flaw=flaw)  # fmt: skip


def _certificates(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params, name = "", {}, "records_certificates"
    if row_id is not None:
        where, params, name = "WHERE c.id = %(id)s", {"id": row_id}, None  # type: ignore[assignment]
    cols = ", ".join(f"c.{f}" for f in CERTIFICATE_FIELDS)
    sql = (
        f"SELECT {cols}, c.state, c.state_seq, c.state_changed_at, s.state, s.seq, s.changed_at "
        "FROM certificates c LEFT JOIN LATERAL (SELECT state, seq, changed_at "
        "FROM certificate_state_changes x WHERE x.tenant_id = c.tenant_id "
        "AND x.certificate_id = c.id ORDER BY seq DESC LIMIT 1) s ON true "
        f"{where} ORDER BY c.id"
    )
    n = len(CERTIFICATE_FIELDS)
    for row in stream(uow, sql, params, name):
        document = certificate_document(dict(zip(CERTIFICATE_FIELDS, row[:n], strict=True)))
        flaw = None
        if tuple(row[n : n + 3]) != tuple(row[n + 3 : n + 6]):
            flaw = (
                f"its current state ({row[n]}, change {row[n + 1]}) is not its last "
                f"state change ({row[n + 3]}, change {row[n + 4]})"
            )
        yield Record("certificate", str(row[0]), "certificate", "certificate.issued",
                     document_sha256(document), body=document if keep else None,
                     flaw=flaw)  # fmt: skip


def _states(uow: UnitOfWork, keep: bool, row_id: uuid.UUID | None = None) -> Iterator[Record]:
    where, params, name = "", {}, "records_certificate_state_changes"
    if row_id is not None:
        where, params, name = "WHERE id = %(id)s", {"id": row_id}, None  # type: ignore[assignment]
    sql = f"SELECT {', '.join(STATE_FIELDS)} FROM certificate_state_changes {where} ORDER BY id"
    for row in stream(uow, sql, params, name):
        document = jsonable(dict(zip(STATE_FIELDS, row, strict=True)))
        yield Record("certificate_state", str(row[0]), "certificate_state_change",
                     "certificate.state_changed", document_sha256(document),
                     body=document if keep else None)  # fmt: skip


def program_version(uow: UnitOfWork, version_id: uuid.UUID, keep: bool = False) -> Record:
    (record,) = _versions(uow, keep, version_id)
    return record


def certificate(uow: UnitOfWork, certificate_id: uuid.UUID, keep: bool = False) -> Record:
    (record,) = _certificates(uow, keep, certificate_id)
    return record


def state_change(uow: UnitOfWork, change_id: uuid.UUID, keep: bool = False) -> Record:
    (record,) = _states(uow, keep, change_id)
    return record


SOURCES = (
    Source("cert_program_version", _versions),
    Source("certificate", _certificates),
    Source("certificate_state", _states),
)
