"""A person's data export for an access request (docs/formats/subject-export.md).

One ZIP, streamed into the tenant's regional store as it is written
(:func:`invigil.evidence.streaming.put_written`: bounded memory, whatever
the number of recordings), encrypted under the person's own data key:

- ``README.txt``: what the export is, in plain words, in the person's
  language (:mod:`invigil.retention.export_readme`);
- ``person.json``: everything the tenant keeps about the person, by section
  (:data:`SECTIONS`, each row with the keys the format names), read in the
  request's transaction, so row-level security keeps every other tenant out;
- ``evidence/<object id>.<ext>``: each evidence file, decrypted;
- ``manifest.json``: every other file with its SHA-256 and size, and every
  evidence object, included or erased (with the date it was erased).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import IO, Any

from sqlalchemy import select

from invigil.audit.anchored import stream
from invigil.db import platform
from invigil.db.uow import UnitOfWork
from invigil.delivery import language
from invigil.delivery.models import Invitation
from invigil.evidence.service import Evidence, open_object, subject_key
from invigil.evidence.streaming import put_written
from invigil.retention import export_readme
from invigil.retention.models import PrivacyRequest

FORMAT = "invigil-subject-export/v1"
PERSON = "person.json"
MANIFEST = "manifest.json"
README = "README.txt"
EVIDENCE_DIR = "evidence/"
_STORED = (".jpg", ".png", ".webm", ".pdf")
_EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "video/webm": "webm", "application/pdf": "pdf",
}  # fmt: skip

# Every section of person.json: its name, its keys (in order) and the query
# that reads them for the person (%(c)s: the candidate's id). Each row is an
# object with exactly these keys (docs/formats/subject-export.md lists them).
_ATTEMPTS = "SELECT id FROM attempts WHERE candidate_id = %(c)s"
SECTIONS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "invitations",
        ("id", "exam_id", "exam_title", "exam_version", "opens_at", "closes_at",
         "extra_time_percent", "status", "revoked_at", "language", "created_at"),
        "SELECT i.id, i.exam_id, e.title, i.exam_version, i.opens_at, i.closes_at, "
        "i.extra_time_percent, i.status, i.revoked_at, i.language, i.created_at "
        "FROM invitations i JOIN exams e ON e.tenant_id = i.tenant_id AND e.id = i.exam_id "
        "WHERE i.candidate_id = %(c)s ORDER BY i.created_at, i.id",
    ),
    (
        "mail",
        ("id", "invitation_id", "to_address", "subject", "created_at", "sent_at"),
        "SELECT m.id, m.invitation_id, m.to_address, m.subject, m.created_at, m.sent_at "
        "FROM mail_outbox m WHERE m.invitation_id IN "
        "(SELECT id FROM invitations WHERE candidate_id = %(c)s) ORDER BY m.created_at, m.id",
    ),
    (
        "consents",
        ("id", "invitation_id", "attempt_id", "decision", "text", "text_sha256", "language",
         "captures", "address", "user_agent", "created_at"),
        "SELECT id, invitation_id, attempt_id, decision, text, text_sha256, language, captures, "
        "address, user_agent, created_at FROM consents WHERE invitation_id IN "
        "(SELECT id FROM invitations WHERE candidate_id = %(c)s) ORDER BY created_at, id",
    ),
    (
        "attempts",
        ("id", "invitation_id", "exam_id", "exam_version", "number", "status", "started_at",
         "deadline", "submitted_at", "submit_reason", "language", "integrity", "review_outcome",
         "review_final", "retention_version", "created_at"),
        "SELECT id, invitation_id, exam_id, exam_version, number, status, started_at, deadline, "
        "submitted_at, submit_reason, language, integrity, review_outcome, review_final, "
        "retention_version, created_at FROM attempts WHERE candidate_id = %(c)s "
        "ORDER BY created_at, id",
    ),
    (
        "answers",
        ("attempt_id", "slot", "response", "flagged", "time_ms", "saved_at", "late"),
        "SELECT attempt_id, slot, response, flagged, time_ms, saved_at, late "
        f"FROM attempt_answers WHERE attempt_id IN ({_ATTEMPTS}) ORDER BY attempt_id, slot",
    ),
    (
        "results",
        ("id", "attempt_id", "revision", "awarded", "max_points", "percent", "passed",
         "needs_grading", "document", "document_sha256", "created_at"),
        "SELECT id, attempt_id, revision, awarded, max_points, percent, passed, needs_grading, "
        "document, document_sha256, created_at FROM attempt_results "
        f"WHERE attempt_id IN ({_ATTEMPTS}) ORDER BY attempt_id, revision",
    ),
    (
        "proctoring_events",
        ("attempt_id", "seq", "kind", "phase", "at", "ends", "details", "received_at"),
        "SELECT attempt_id, seq, kind, phase, at, ends, details, received_at "
        f"FROM proctoring_events WHERE attempt_id IN ({_ATTEMPTS}) ORDER BY attempt_id, seq",
    ),
    (
        "flags",
        ("id", "attempt_id", "flag_id", "rule_id", "kind", "severity", "action", "message",
         "episode_seq", "window_start", "window_end", "created_at"),
        "SELECT id, attempt_id, flag_id, rule_id, kind, severity, action, message, episode_seq, "
        "window_start, window_end, created_at FROM proctoring_actions "
        f"WHERE attempt_id IN ({_ATTEMPTS}) ORDER BY attempt_id, created_at, id",
    ),
    (
        "review_decisions",
        ("id", "attempt_id", "scope", "flag_action_id", "decision", "reason", "supersedes",
         "created_at"),
        "SELECT id, attempt_id, scope, action_id, decision, reason, supersedes, created_at "
        f"FROM review_decisions WHERE attempt_id IN ({_ATTEMPTS}) "
        "ORDER BY attempt_id, created_at, id",
    ),
    (
        "live_interventions",
        ("id", "attempt_id", "kind", "text", "seconds", "refers_to", "object_id", "created_at"),
        "SELECT id, attempt_id, kind, text, seconds, refers_to, object_id, created_at "
        f"FROM live_interventions WHERE attempt_id IN ({_ATTEMPTS}) "
        "ORDER BY attempt_id, created_at, id",
    ),
    (
        "client_changes",
        ("attempt_id", "address", "user_agent", "created_at"),
        "SELECT attempt_id, address, user_agent, created_at FROM attempt_client_changes "
        f"WHERE attempt_id IN ({_ATTEMPTS}) ORDER BY attempt_id, created_at, id",
    ),
    (
        "voids",
        ("attempt_id", "reason", "note", "voided_at"),
        "SELECT attempt_id, reason, note, voided_at FROM attempt_voids "
        f"WHERE attempt_id IN ({_ATTEMPTS}) ORDER BY voided_at, attempt_id",
    ),
    (
        "certificates",
        ("id", "number", "program_id", "issued_at", "expires_at", "state", "state_changed_at"),
        "SELECT id, number, program_id, issued_at, expires_at, state, state_changed_at "
        "FROM certificates WHERE holder_id = %(c)s ORDER BY issued_at, id",
    ),
)  # fmt: skip
PERSON_KEYS = ("id", "name", "email", "external_ref", "created_at", "updated_at")
TOP_KEYS = (
    "format", "generated_at", "organisation", "request", "person",
    *(name for name, _, _ in SECTIONS), "contests",
)  # fmt: skip
EVIDENCE_KEYS = (
    "id", "kind", "content_type", "subject_type", "subject_id", "created_at", "status",
    "path", "sha256", "size", "erased_at",
)  # fmt: skip
FILE_KEYS = ("path", "sha256", "size")
MANIFEST_KEYS = ("format", "generated_at", "request_id", "files", "evidence")


def plain(value: Any) -> Any:
    """A database value as JSON: times as ISO 8601 (UTC), numbers from
    decimals as strings (exactly as stored), ids as strings."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=False).encode()


@dataclass
class Built:
    object_id: uuid.UUID
    data_key_id: uuid.UUID
    region: str
    store_key: str
    size: int
    sha256: str
    files: int = 0
    erased: int = 0


@dataclass
class _Writer:
    """Members streamed into a ZIP on an unseekable sink, each hashed as it passes."""

    sink: IO[bytes]
    files: list[dict[str, Any]] = field(default_factory=list)
    _zip: zipfile.ZipFile | None = None

    def __post_init__(self) -> None:
        self._zip = zipfile.ZipFile(self.sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True)

    def add(self, path: str, pieces: Iterable[bytes], *, listed: bool = True) -> dict[str, Any]:
        assert self._zip is not None
        info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED if path.endswith(_STORED) else zipfile.ZIP_DEFLATED
        digest, size = hashlib.sha256(), 0
        with self._zip.open(info, "w", force_zip64=True) as out:
            for piece in pieces:
                digest.update(piece)
                size += len(piece)
                out.write(piece)
        item = {"path": path, "sha256": digest.hexdigest(), "size": size}
        if listed:
            self.files.append(item)
        return item

    def close(self) -> None:
        assert self._zip is not None
        self._zip.close()


def _rows(
    uow: UnitOfWork, sql: str, keys: tuple[str, ...], c: uuid.UUID, name: str | None = None
) -> Iterator[Any]:
    for r in stream(uow, sql, {"c": c}, name):
        yield dict(zip(keys, (plain(v) for v in r), strict=True))


def _contests(uow: UnitOfWork, candidate_id: uuid.UUID) -> list[dict[str, Any]]:
    """The person's contests of a flag or of an integrity outcome, as stored;
    ``text_removed``: the retention purge removed the text (it is then '')."""
    sql = (
        "SELECT to_jsonb(c) - 'tenant_id' || jsonb_build_object('text_removed', c.text = '') "
        f"FROM proctoring_contests c WHERE c.attempt_id IN ({_ATTEMPTS}) "
        "ORDER BY c.created_at, c.id"
    )
    return [plain(r[0]) for r in uow.driver().cursor().execute(sql, {"c": candidate_id})]


def _person_json(
    uow: UnitOfWork, row: PrivacyRequest, organisation: str, generated: str
) -> Iterator[bytes]:
    """person.json, one section (and one row) at a time."""
    c = row.candidate_id
    person = next(
        _rows(
            uow,
            "SELECT id, name, email, external_ref, created_at, updated_at FROM candidates "
            "WHERE id = %(c)s",
            PERSON_KEYS,
            c,
        )
    )
    head = {
        "format": FORMAT,
        "generated_at": generated,
        "organisation": organisation,
        "request": {"id": str(row.id), "kind": row.kind,
                    "received_at": row.received_at.isoformat()},
        "person": person,
    }  # fmt: skip
    yield _json(head)[:-2] + b",\n"  # open: the sections follow
    for name, keys, sql in SECTIONS:
        yield f' "{name}": ['.encode()
        first = True
        for item in _rows(uow, sql, keys, c, f"export_{name}"):
            yield (b"\n  " if first else b",\n  ") + json.dumps(item, ensure_ascii=False).encode()
            first = False
        yield b"\n ],\n"
    yield b' "contests": ' + json.dumps(_contests(uow, c), ensure_ascii=False).encode() + b"\n}\n"


def _language(uow: UnitOfWork, candidate_id: uuid.UUID) -> str:
    """The person's language: their latest invitation's, else the organisation's default."""
    latest = uow.scalar(
        select(Invitation)
        .where(Invitation.candidate_id == candidate_id)
        .order_by(Invitation.created_at.desc(), Invitation.id)
        .limit(1)
    )
    return language.of_invitation(uow, latest)


_EVIDENCE = """
    SELECT o.id, o.kind, o.content_type, o.subject_type, o.subject_id, o.created_at,
           k.destroyed_at
    FROM evidence_objects o
    JOIN evidence_data_keys k ON k.tenant_id = o.tenant_id AND k.id = o.data_key_id
    WHERE (o.subject_type = 'candidate' AND o.subject_id = %(c)s::text)
       OR (o.subject_type = 'attempt' AND o.subject_id IN
           (SELECT id::text FROM attempts WHERE candidate_id = %(c)s))
    ORDER BY o.created_at, o.id
"""


def write(
    uow: UnitOfWork, evidence: Evidence, row: PrivacyRequest, sink: IO[bytes], now: dt.datetime
) -> tuple[int, int]:
    """Write the whole export to ``sink``; returns (evidence files, erased ones)."""
    organisation = platform.bound_tenant(uow).name
    generated = now.astimezone(dt.UTC).isoformat()
    out = _Writer(sink)
    readme = export_readme.readme(
        _language(uow, row.candidate_id),
        organisation=organisation,
        generated=now,
        request=str(row.id),
    )
    out.add(README, [readme.encode()])
    out.add(PERSON, _person_json(uow, row, organisation, generated))
    listed, included, erased = [], 0, 0
    objects = list(stream(uow, _EVIDENCE, {"c": row.candidate_id}))
    for oid, kind, content_type, subject_type, subject_id, created_at, destroyed in objects:
        item: dict[str, Any] = {
            "id": str(oid), "kind": kind, "content_type": content_type,
            "subject_type": subject_type, "subject_id": subject_id,
            "created_at": plain(created_at), "status": "erased" if destroyed else "included",
            "path": None, "sha256": None, "size": None,
            "erased_at": plain(destroyed) if destroyed else None,
        }  # fmt: skip
        if destroyed is None:
            _, pieces = open_object(uow, evidence, oid)
            path = f"{EVIDENCE_DIR}{oid}.{_EXTENSIONS.get(content_type, 'bin')}"
            item.update(out.add(path, pieces))
            included += 1
        else:
            erased += 1
        listed.append(item)
    manifest = {
        "format": FORMAT,
        "generated_at": generated,
        "request_id": str(row.id),
        "files": out.files,
        "evidence": listed,
    }
    out.add(MANIFEST, [_json(manifest)], listed=False)
    out.close()
    return included, erased


def build(uow: UnitOfWork, evidence: Evidence, row: PrivacyRequest, *, now: dt.datetime) -> Built:
    """Stream the export into the tenant's regional store, under the person's key."""
    region, store = evidence.store_of(uow)
    key = subject_key(uow, evidence, "candidate", str(row.candidate_id))
    object_id = uuid.uuid4()
    store_key = f"{uow.tenant}/subject-export/{object_id}"
    counts: dict[str, int] = {}

    def produce(sink: Any) -> None:
        counts["files"], counts["erased"] = write(uow, evidence, row, sink, now)

    written = put_written(store, store_key, key.secret, object_id, produce, kind="subject_export")
    return Built(
        object_id, key.id, region, store_key, written.size, written.sha256,
        counts["files"], counts["erased"],
    )  # fmt: skip
