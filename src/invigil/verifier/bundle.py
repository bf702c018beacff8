"""Reading an evidence bundle and running its checks in order
(docs/formats/evidence-bundle.md).

A bundle is trusted for nothing: the manifest is read strictly (known
fields only, canonical bytes, so that no byte of it can change unnoticed),
every member is hashed as it streams out of the ZIP, and only then do the
checks of :mod:`invigil.verifier.checks` read the members. Checks run in
the order of :data:`CHECKS` (every kind), then the kind's own
(:data:`KIND_CHECKS`); the first that fails stops the run (what rests on
it is "not run"), naming the member and the check.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "invigil-evidence-bundle/v1"
MANIFEST = "manifest.json"
CHECKS = ("manifest", "members", "hashes", "keys", "checkpoint", "inclusion", "anchors",
          "subject")  # fmt: skip
KIND_CHECKS = {
    "attempt": ("event chain", "result"),
    "shortlist": ("ranking",),
    "certificate": ("state", "requirements", "credential"),
}
ROLES: dict[str, str | tuple[str, ...]] = {
    "record": "records/", "context": "records/", "evidence": "evidence/", "audit": "audit/",
    "report": ("report.pdf", "report.txt"),
}  # fmt: skip
HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = {"format", "kind", "subject", "tenant", "keys", "members", "withheld"}
_MEMBER = {"path", "role", "sha256", "size"}
_RECORD = {"kind", "id", "seq", "field", "hash"}
_WITHHELD = {"id", "kind", "sha256", "size", "seq"}
# What an attempt bundle must hold (more may be there: results, marks, ...).
REQUIRED = {
    "attempt": (
        "audit/checkpoint.json", "audit/entries.jsonl", "audit/proofs.json",
        "records/answers.jsonl", "records/attempt.json", "records/events.jsonl",
        "records/exam_version.json", "records/question_versions.json",
    ),
    "shortlist": (
        "audit/checkpoint.json", "audit/entries.jsonl", "audit/proofs.json",
        "records/rule_set_version.json", "records/run.json",
    ),
    "certificate": (
        "audit/checkpoint.json", "audit/entries.jsonl", "audit/proofs.json",
        "records/certificate.json", "records/program_version.json", "records/state.json",
    ),
}  # fmt: skip
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Failure:
    member: str
    check: str
    problem: str

    def __str__(self) -> str:
        return f"{self.member}: {self.check}: {self.problem}"


class Failed(Exception):
    """A check found this; raised inside a check to stop it at once."""

    def __init__(self, member: str, problem: str) -> None:
        super().__init__(problem)
        self.member = member
        self.problem = problem


@dataclass
class Summary:
    checks: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CHECKS, "not run"))
    failures: list[Failure] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)  # why a check did not run
    counts: dict[str, int] = field(default_factory=dict)
    kind: str | None = None
    subject: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures and all(v != "failed" for v in self.checks.values())

    @property
    def first(self) -> Failure | None:
        return self.failures[0] if self.failures else None

    def out(self) -> dict[str, Any]:
        first = self.first
        return {
            "ok": self.ok,
            "kind": self.kind,
            "subject": self.subject,
            "checks": self.checks,
            "not_run": self.notes,
            "counts": self.counts,
            "first_failure": None if first is None else vars(first),
            "failures": [vars(f) for f in self.failures],
        }


@dataclass
class Bundle:
    """The opened ZIP and its manifest; members read once, on demand."""

    zip: zipfile.ZipFile
    manifest: dict[str, Any] = field(default_factory=dict)
    pinned: dict[str, Ed25519PublicKey] | None = None
    _cache: dict[str, bytes] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)  # what one check hands the next

    @property
    def members(self) -> list[dict[str, Any]]:
        return list(self.manifest["members"])

    def member(self, path: str) -> dict[str, Any] | None:
        return next((m for m in self.members if m["path"] == path), None)

    def read(self, path: str) -> bytes:
        if path not in self._cache:
            try:
                self._cache[path] = self.zip.read(path)
            except (KeyError, zipfile.BadZipFile, OSError) as exc:
                raise Failed(path, f"cannot be read from the ZIP ({exc})") from None
        return self._cache[path]

    def json(self, path: str) -> Any:
        try:
            return json.loads(self.read(path))
        except ValueError:
            raise Failed(path, "is not valid JSON") from None

    def lines(self, path: str) -> list[bytes]:
        """A JSON Lines member: every line ends with a newline; none is empty."""
        data = self.read(path)
        if data and not data.endswith(b"\n"):
            raise Failed(path, "its last line does not end with a newline")
        lines = data.split(b"\n")[:-1] if data else []
        if any(not line for line in lines):
            raise Failed(path, "holds an empty line")
        return lines


def _check_manifest(b: Bundle) -> None:
    try:
        raw = b.zip.read(MANIFEST)
    except KeyError:
        raise Failed(MANIFEST, "is missing: this is not an evidence bundle") from None
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise Failed(MANIFEST, "is not valid JSON") from None
    if not isinstance(manifest, dict) or set(manifest) != _FIELDS:
        raise Failed(MANIFEST, f"must hold exactly the fields {sorted(_FIELDS)}")
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if canonical.encode() != raw:
        raise Failed(MANIFEST, "is not in canonical JSON (RFC 8785): its bytes were changed")
    if manifest["format"] != FORMAT:
        raise Failed(MANIFEST, f"format {manifest['format']!r} is not {FORMAT!r}")
    kind, subject = manifest["kind"], manifest["subject"]
    if kind not in REQUIRED:
        raise Failed(MANIFEST, f"kind {kind!r} is not one this verifier knows ({sorted(REQUIRED)})")
    if not isinstance(subject, dict) or set(subject) != {"type", "id"} or subject["type"] != kind:
        raise Failed(MANIFEST, "subject must be {type, id} with the bundle's kind as type")
    if not isinstance(manifest["tenant"], str) or not isinstance(manifest["keys"], list):
        raise Failed(MANIFEST, "tenant must be a string and keys a list")
    _check_member_list(manifest["members"])
    _check_withheld(manifest["withheld"])
    b.manifest = manifest


def _check_member_list(members: Any) -> None:
    if not isinstance(members, list):
        raise Failed(MANIFEST, "members must be a list")
    paths = []
    for m in members:
        if not isinstance(m, dict) or set(m) - {"record"} != _MEMBER:
            raise Failed(MANIFEST, f"a member must hold exactly {sorted(_MEMBER)} (and record)")
        path, role = m["path"], m["role"]
        if not isinstance(path, str) or role not in ROLES or not path.startswith(ROLES[role]):
            raise Failed(MANIFEST, f"member {path!r}: role {role!r} does not fit its path")
        if not isinstance(m["sha256"], str) or not HEX64.fullmatch(m["sha256"]):
            raise Failed(MANIFEST, f"member {path}: sha256 is not 64 lowercase hex digits")
        if type(m["size"]) is not int or m["size"] < 0:
            raise Failed(MANIFEST, f"member {path}: size is not a whole number")
        cites = role in ("record", "evidence")
        if ("record" in m) != cites:
            needs = "needs" if cites else "has no"
            raise Failed(MANIFEST, f"member {path}: a {role} member {needs} record")
        if "record" in m:
            r = m["record"]
            if not isinstance(r, dict) or set(r) != _RECORD or r["hash"] not in ("bytes", "chain"):
                raise Failed(MANIFEST, f"member {path}: record must hold exactly {sorted(_RECORD)}")
            if type(r["seq"]) is not int or not all(
                isinstance(r[k], str) for k in ("kind", "id", "field")
            ):
                raise Failed(
                    MANIFEST, f"member {path}: record seq must be a number, the rest strings"
                )
        paths.append(path)
    if paths != sorted(set(paths)):
        raise Failed(MANIFEST, "members must be listed once each, sorted by path")


def _check_withheld(withheld: Any) -> None:
    if not isinstance(withheld, list):
        raise Failed(MANIFEST, "withheld must be a list")
    for w in withheld:
        if not isinstance(w, dict) or set(w) != _WITHHELD:
            raise Failed(MANIFEST, f"a withheld item must hold exactly {sorted(_WITHHELD)}")
        if not HEX64.fullmatch(str(w["sha256"])) or type(w["size"]) is not int:
            raise Failed(MANIFEST, f"withheld {w['id']}: sha256 or size is malformed")
        if type(w["seq"]) is not int:
            raise Failed(MANIFEST, f"withheld {w['id']}: seq is not a number")


def _check_members(b: Bundle) -> None:
    names = [i.filename for i in b.zip.infolist()]
    for name, times in Counter(names).items():
        if times > 1:
            raise Failed(name, "is in the ZIP more than once")
    listed = {m["path"] for m in b.members}
    present = set(names) - {MANIFEST}
    for path in sorted(listed - present):
        raise Failed(path, "is listed in the manifest but missing from the ZIP")
    for path in sorted(present - listed):
        raise Failed(path, "is in the ZIP but not in the manifest")
    for path in REQUIRED[b.manifest["kind"]]:
        if path not in listed:
            raise Failed(path, f"is missing: every {b.manifest['kind']} bundle holds it")


def _check_hashes(b: Bundle) -> None:
    for m in b.members:
        digest, size = hashlib.sha256(), 0
        try:
            with b.zip.open(m["path"]) as stream:
                while piece := stream.read(_CHUNK):
                    digest.update(piece)
                    size += len(piece)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise Failed(m["path"], f"cannot be read from the ZIP ({exc})") from None
        if digest.hexdigest() != m["sha256"]:
            raise Failed(m["path"], "its SHA-256 is not the one in the manifest")
        if size != m["size"]:
            raise Failed(m["path"], f"is {size} bytes, the manifest says {m['size']}")


def run(source: str | Path | IO[bytes], pinned: dict[str, Ed25519PublicKey] | None) -> Summary:
    """Verify the bundle at ``source`` (``pinned``: trust only these keys)."""
    from . import checks

    summary = Summary()
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as exc:
        summary.checks["manifest"] = "failed"
        summary.failures.append(Failure(str(source), "manifest", f"is not a ZIP file ({exc})"))
        return summary
    steps: dict[str, Callable[[Bundle], str | None]] = {
        "manifest": _check_manifest,
        "members": _check_members,
        "hashes": _check_hashes,
        **checks.STEPS,
    }
    kinds = checks.KIND_STEPS
    with archive:
        b = Bundle(archive, pinned=pinned)
        order = list(CHECKS)
        for name in order:
            try:
                step = kinds.get(str(b.manifest.get("kind")), {}).get(name) or steps[name]
                note = step(b)
            except Failed as failed:
                summary.checks[name] = "failed"
                summary.failures.append(Failure(failed.member, name, failed.problem))
                break
            summary.checks[name] = "ok" if note is None else "not run"
            if note is not None:
                summary.notes[name] = str(note)
            if name == "manifest":
                own = KIND_CHECKS.get(b.manifest["kind"], ())
                order += own
                summary.checks |= dict.fromkeys(own, "not run")
                summary.kind = b.manifest["kind"]
                summary.subject = b.manifest["subject"]["id"]
        summary.counts = dict(b.facts.get("counts", {}))
    return summary
