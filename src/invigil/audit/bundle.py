"""Evidence bundles: one ZIP that proves what happened to one subject
(docs/formats/evidence-bundle.md, docs/adr/0039-evidence-bundles.md).

This module is the format and knows no domain. :class:`BundleWriter`
streams members into a ZIP on any binary sink (a file, a socket, an object
store upload), hashing each member's bytes as they pass, so a recording is
never held in memory and no hash is computed over bytes other than those
written. :meth:`BundleWriter.close` writes ``manifest.json`` last: every
member with its SHA-256 and size and, for a record, the audit entry that
anchors it. Records are written as RFC 8785 canonical JSON, so the hash of
a member is the hash the log anchored and an auditor needs no
canonicalizer; a chain of items is JSON Lines, one canonical item a line,
so the chain head is recomputed line by line.

Domains register a builder per kind of bundle (``register("attempt",
build)``) from their hooks; :func:`build` runs it and then adds the audit
part (entries, inclusion proofs, the checkpoint, its keys) through
:mod:`invigil.audit.bundle_proofs`.
"""

from __future__ import annotations

import hashlib
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from invigil.audit.canonical import canonical_json
from invigil.errors import Invalid

FORMAT = "invigil-evidence-bundle/v1"
MANIFEST = "manifest.json"
Role = Literal["record", "context", "evidence", "report", "audit"]
ROLES: tuple[Role, ...] = ("record", "context", "evidence", "report", "audit")
# Already compressed (images, video, PDF): stored as they are.
_STORED_SUFFIXES = (".jpg", ".jpeg", ".png", ".webm", ".pdf")


@dataclass(frozen=True)
class Cited:
    """The audit entry that anchors a record member: ``kind`` and ``id`` name
    the record (a chain's genesis is made of them), ``seq`` the entry and
    ``field`` where in the entry's payload the member's SHA-256 stands
    (``anchor.sha256``, ``content_hash``, ``sha256``...)."""

    kind: str
    id: str
    seq: int
    field: str = "anchor.sha256"
    chain: bool = False

    def out(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "seq": self.seq,
            "field": self.field,
            "hash": "chain" if self.chain else "bytes",
        }


@dataclass(frozen=True)
class Member:
    path: str
    role: Role
    sha256: str
    size: int
    cited: Cited | None = None

    def out(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "path": self.path,
            "role": self.role,
            "sha256": self.sha256,
            "size": self.size,
        }
        if self.cited is not None:
            item["record"] = self.cited.out()
        return item


@dataclass(frozen=True)
class Withheld:
    """Evidence the requester may not see: named by its hash only."""

    id: str
    kind: str
    sha256: str
    size: int
    seq: int

    def out(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "sha256": self.sha256, "size": self.size,
                "seq": self.seq}  # fmt: skip


@dataclass
class BundleWriter:
    """Writes one bundle to ``sink`` (any binary file-like object with
    ``write``; it need not seek). Use as a context manager, or call
    :meth:`close`; nothing is valid until the manifest is written."""

    sink: IO[bytes]
    kind: str
    subject: dict[str, str]
    tenant_id: str
    members: list[Member] = field(default_factory=list)
    withheld: list[Withheld] = field(default_factory=list)
    keys: list[dict[str, str]] = field(default_factory=list)
    progress: Callable[[Member], None] | None = None
    _zip: zipfile.ZipFile | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._zip = zipfile.ZipFile(self.sink, "w", zipfile.ZIP_DEFLATED, allowZip64=True)

    def __enter__(self) -> BundleWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        """Give up: end the ZIP without a manifest (it will not verify)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    @property
    def paths(self) -> set[str]:
        return {m.path for m in self.members}

    def add_stream(
        self, path: str, chunks: Iterable[bytes], role: Role, cited: Cited | None = None
    ) -> Member:
        """Write ``chunks`` as member ``path``, hashing them on the way."""
        if self._zip is None:
            raise Invalid("the bundle is closed")
        if path == MANIFEST or path in self.paths or not _safe(path):
            raise Invalid(f"member path {path!r} is taken or not a plain relative path")
        digest, size = hashlib.sha256(), 0
        info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = (
            zipfile.ZIP_STORED if path.endswith(_STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
        )
        with self._zip.open(info, "w", force_zip64=True) as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        member = Member(path, role, digest.hexdigest(), size, cited)
        self.members.append(member)
        if self.progress is not None:
            self.progress(member)
        return member

    def add_json(self, path: str, value: Any, role: Role, cited: Cited | None = None) -> Member:
        """``value`` as canonical JSON (RFC 8785): its bytes are what was hashed."""
        return self.add_stream(path, [canonical_json(value)], role, cited)

    def add_lines(
        self, path: str, items: Iterable[Any], role: Role, cited: Cited | None = None
    ) -> Member:
        """Each item as one line of canonical JSON (a chain, or audit entries)."""
        return self.add_stream(path, (canonical_json(i) + b"\n" for i in items), role, cited)

    def add_raw_lines(self, path: str, lines: Iterable[str], role: Role) -> Member:
        """Lines kept byte for byte (audit entries: their exact signed text)."""
        return self.add_stream(path, (line.encode() + b"\n" for line in lines), role)

    def withhold(self, item: Withheld) -> None:
        self.withheld.append(item)

    def manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "subject": self.subject,
            "tenant": self.tenant_id,
            "keys": sorted(self.keys, key=lambda k: k["kid"]),
            "members": [m.out() for m in sorted(self.members, key=lambda m: m.path)],
            "withheld": [w.out() for w in sorted(self.withheld, key=lambda w: w.id)],
        }

    def close(self) -> dict[str, Any]:
        """Write ``manifest.json`` and the ZIP's directory; returns the manifest."""
        if self._zip is None:
            raise Invalid("the bundle is closed")
        manifest = self.manifest()
        info = zipfile.ZipInfo(MANIFEST, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        self._zip.writestr(info, canonical_json(manifest))
        self._zip.close()
        self._zip = None
        return manifest


def _safe(path: str) -> bool:
    parts = path.split("/")
    return bool(path) and all(p not in ("", ".", "..") for p in parts) and "\\" not in path


# --- builders, one per kind of bundle, registered by the domains -------------


@dataclass(frozen=True)
class Options:
    """What a builder may use: ``show_evidence`` is whether the requester
    holds ``evidence:view`` (else evidence is named by its hash only);
    ``services`` the application's services (evidence stores, keys), typed
    loosely because this layer knows none of them; ``locale`` for reports."""

    show_evidence: bool
    services: Any
    locale: str = "en"


Builder = Callable[[Any, uuid.UUID, BundleWriter, Options], None]
"""``builder(uow, subject_id, writer, options)``: adds the subject's
members, citing the entry of each record (raises NotFound for a missing
subject). The audit part is added after it by :func:`build`."""

_builders: dict[str, Builder] = {}


def register(kind: str, builder: Builder) -> None:
    _builders[kind] = builder


def builder_for(kind: str) -> Builder:
    found = _builders.get(kind)
    if found is None:
        known = ", ".join(sorted(_builders)) or "none"
        raise Invalid(f"there is no bundle of kind {kind!r}; known kinds: {known}")
    return found


def kinds() -> list[str]:
    return sorted(_builders)


__all__ = [
    "FORMAT",
    "MANIFEST",
    "ROLES",
    "BundleWriter",
    "Cited",
    "Member",
    "Options",
    "Withheld",
    "builder_for",
    "kinds",
    "register",
]
