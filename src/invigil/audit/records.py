"""Records anchored in the log: the hash of a record's content in the audit
entry that records it, and the check that the rows still hash to it.

The log proves its own entries; an anchor makes it prove the records beside
it too. The entry that records a result, a submitted answer sheet, a review
decision or the seal of an event stream carries, in its payload::

    "anchor": {"kind": "result", "sha256": "<hex>", "count": 17}

naming the record by the entry's subject id. A record is hashed one of two
ways: a document, ``sha256(canonical_json(document))``; or a chain of items
(answers, events), folded one item at a time so that a long stream is never
held whole: ``h0 = sha256("invigil:<kind>:<id>")``, then
``h = sha256(h_hex || canonical_json(item))`` for each item in order; the
last ``h`` is the head and ``count`` the number of items.

Like ``verify``, this module needs nothing but the standard library: the
database verifier and the offline one (``invigil audit verify-export``)
compare the same hashes the same way. The domains say how their rows become
documents and items; nothing here knows a domain's tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from invigil.audit.canonical import canonical_json

ANCHOR = "anchor"
# Entries that anchored a record before anchors had their own key: action ->
# (kind, the payload field holding the document's sha256).
LEGACY_ANCHORS: Mapping[str, tuple[str, str]] = {"result.recorded": ("result", "document_sha256")}
# Kinds whose record grows after it is first anchored (the server re-checks a
# snapshot of a submitted attempt and adds its finding to the stream); each
# growth anchors the whole record again, and the latest anchor is the one the
# rows must match. Every other kind is anchored once, and must match every
# anchor that names it.
RESTATED = frozenset({"events"})
# Documents that state the sha256 of one of their own fields (a consent its
# text's): kind -> {stating field: hashed field}. The verifier recomputes it.
STATED_DIGESTS: Mapping[str, Mapping[str, str]] = {"consent": {"text_sha256": "text"}}
# Fields a record's recording entry repeats in its payload, from before the
# record was anchored: checked even when it is not (kind -> fields).
WITNESSED: Mapping[str, tuple[str, ...]] = {"consent": ("text_sha256", "language", "captures")}
# Kinds anchored later than v0015 (kind -> what the warning names).
ANCHORED_SINCE: Mapping[str, str] = {"consent": "consents were anchored"}
SHOWN = 50  # problems and warnings kept in a report; the rest are counted


def document_sha256(document: Any) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


class Chain:
    """The running head of a chain of items (see the module docstring)."""

    def __init__(self, kind: str, record_id: str) -> None:
        self.head = hashlib.sha256(f"invigil:{kind}:{record_id}".encode()).hexdigest()
        self.count = 0

    def add(self, item: Any) -> None:
        self.head = hashlib.sha256(self.head.encode() + canonical_json(item)).hexdigest()
        self.count += 1


def digest_flaw(kind: str, document: Any) -> str | None:
    """A document that no longer agrees with the digest it states of its own
    field (see ``STATED_DIGESTS``): named whatever its anchor says."""
    for stating, hashed in STATED_DIGESTS.get(kind, {}).items():
        value = document.get(hashed) if isinstance(document, Mapping) else None
        if not isinstance(value, str):
            return f"its {hashed} is missing"
        if hashlib.sha256(value.encode()).hexdigest() != document.get(stating):
            return f"its {hashed} no longer hashes to its {stating}"
    return None


def witnessed(kind: str, document: Any) -> dict[str, Any]:
    """The fields of ``document`` its recording entry repeats (see ``WITNESSED``)."""
    if not isinstance(document, Mapping):
        return {}
    return {f: document.get(f) for f in WITNESSED.get(kind, ())}


def chain_sha256(kind: str, record_id: str, items: Iterable[Any]) -> tuple[str, int]:
    chain = Chain(kind, record_id)
    for item in items:
        chain.add(item)
    return chain.head, chain.count


def anchor(kind: str, sha256: str, count: int | None = None) -> dict[str, Any]:
    """The payload value that anchors a record (under the key ``anchor``)."""
    out: dict[str, Any] = {"kind": kind, "sha256": sha256}
    if count is not None:
        out["count"] = count
    return out


@dataclass(frozen=True)
class Anchor:
    kind: str
    id: str
    sha256: str
    count: int | None
    seq: int
    witnessed: Mapping[str, Any] = field(default_factory=dict)  # the entry's, see WITNESSED


def anchor_in(action: str, subject_id: str, payload: Any, seq: int) -> Anchor | None:
    """The anchor an entry carries, if any."""
    if not isinstance(payload, Mapping):
        return None
    found = payload.get(ANCHOR)
    if isinstance(found, Mapping):
        count = found.get("count")
        kind = str(found.get("kind"))
        return Anchor(
            kind,
            subject_id,
            str(found.get("sha256")),
            count if isinstance(count, int) else None,
            seq,
            {f: payload[f] for f in WITNESSED.get(kind, ()) if f in payload},
        )
    legacy = LEGACY_ANCHORS.get(action)
    if legacy is not None and isinstance(payload.get(legacy[1]), str):
        return Anchor(legacy[0], subject_id, payload[legacy[1]], None, seq)
    return None


@dataclass(frozen=True)
class Record:
    """A record as the rows hold it now. ``subject_type`` and ``recorded_by``
    name the entry that records it (its subject id is ``id``): a record with
    no anchor but such an entry was recorded before anchors existed.
    ``note``: the domain's account of what differs, when it can tell (which
    column disagrees with the document). ``body``: the document or the items,
    kept only for an export. ``stated``: the hash the row itself states, if
    it keeps one (it must be the anchored one too). ``flaw``: a contradiction
    inside the record (:func:`digest_flaw`). ``witnessed``: the fields its
    recording entry repeats (:func:`witnessed`)."""

    kind: str
    id: str
    subject_type: str
    recorded_by: str
    sha256: str
    count: int | None = None
    note: str | None = None
    body: Any = None
    stated: str | None = None
    flaw: str | None = None
    witnessed: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recording:
    """The entry that records a record: its position and its payload."""

    seq: int
    payload: Mapping[str, Any]


@dataclass
class RecordsReport:
    records: int = 0
    anchored: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    warnings: list[str] = field(default_factory=list)
    unanchored: dict[str, int] = field(default_factory=dict)  # kind -> records before anchors
    first_bad: dict[str, str] | None = None
    # Records deleted or altered on purpose by a retention purge: how many
    # under each receipt (its label), and the first few named.
    purged: dict[str, int] = field(default_factory=dict)
    purged_records: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def bad(self, kind: str, record_id: str, what: str) -> None:
        self.problem_count += 1
        if self.first_bad is None:
            self.first_bad = {"kind": kind, "id": record_id, "problem": what}
        if len(self.problems) < SHOWN:
            self.problems.append(f"{kind} {record_id}: {what}")

    def gone_by_purge(self, kind: str, record_id: str, label: str) -> None:
        self.purged[label] = self.purged.get(label, 0) + 1
        if len(self.purged_records) < SHOWN:
            self.purged_records.append(f"{kind} {record_id}: purged under {label}")

    def old(self, kind: str, record_id: str) -> None:
        n = self.unanchored.get(kind, 0)
        self.unanchored[kind] = n + 1
        if len(self.warnings) < SHOWN:
            since = ANCHORED_SINCE.get(kind, "v0015")
            self.warnings.append(f"{kind} {record_id}: not anchored (recorded before {since})")


def check_records(
    kinds: Iterable[str],
    anchors: Iterable[Anchor],
    records: Callable[[str], Iterable[Record]],
    recorded: Callable[[Record], Recording | None],
    report: RecordsReport | None = None,
    purged: Mapping[tuple[str, str], str] | None = None,
) -> RecordsReport:
    """Compare each kind's records with their anchors, both in order of
    (kind, id) as the strings compare, one record at a time.

    ``purged``: (kind, id) -> the receipt that deleted or altered the record
    under a retention policy or an erasure ("policy version 3, receipt
    <id>"): such a record is reported as purged, not as missing or changed.

    ``anchors``: every anchor in the log, sorted by kind, id, then position;
    ``records(kind)``: that kind's records sorted by id; ``recorded(r)``:
    the log's first ``r.recorded_by`` entry for ``r``'s subject, if any
    (asked only of records without an anchor)."""
    report = report or RecordsReport()
    groups = groupby(anchors, key=lambda a: a.kind)
    head = next(groups, None)
    for kind in sorted(set(kinds)):
        while head is not None and head[0] < kind:  # a kind nobody reads here
            head = next(groups, None)
        if head is not None and head[0] == kind:
            _merge(kind, head[1], records(kind), recorded, report, purged or {})
            head = next(groups, None)
        else:
            _merge(kind, iter(()), records(kind), recorded, report, purged or {})
    return report


def _merge(
    kind: str,
    anchors: Iterator[Anchor],
    records: Iterable[Record],
    recorded: Callable[[Record], Recording | None],
    report: RecordsReport,
    purged: Mapping[tuple[str, str], str],
) -> None:
    grouped = groupby(anchors, key=lambda a: a.id)
    current = next(grouped, None)

    def gone(record_id: str, first: Anchor) -> None:
        label = purged.get((kind, record_id))
        if label is not None:
            report.gone_by_purge(kind, record_id, label)
        else:
            report.bad(kind, record_id, f"anchored by entry {first.seq}, but its rows are gone")

    for record in records:
        report.records += 1
        while current is not None and current[0] < record.id:
            gone(current[0], next(iter(current[1])))
            current = next(grouped, None)
        if (kind, record.id) in purged:
            report.gone_by_purge(kind, record.id, purged[(kind, record.id)])
            if current is not None and current[0] == record.id:
                current = next(grouped, None)
            continue
        if current is None or current[0] != record.id:
            entry = recorded(record)
            if entry is None:
                report.bad(kind, record.id, f"no {record.recorded_by} entry records it")
            elif record.flaw is not None:
                report.bad(kind, record.id, record.flaw)
            elif (differs := _unwitnessed(record, entry)) is not None:
                report.bad(kind, record.id, differs)
            else:
                report.old(kind, record.id)
            continue
        _compare(kind, record, list(current[1]), report)
        report.anchored += 1
        current = next(grouped, None)
    while current is not None:
        gone(current[0], next(iter(current[1])))
        current = next(grouped, None)


def _unwitnessed(record: Record, entry: Recording) -> str | None:
    """The first field the recording entry states otherwise (a field it does
    not state, as entries written before the field existed, is not checked)."""
    for name, value in record.witnessed.items():
        if name in entry.payload and entry.payload[name] != value:
            return f"column {name} differs from what entry {entry.seq} recorded"
    return None


def _compare(kind: str, record: Record, anchors: list[Anchor], report: RecordsReport) -> None:
    if kind in RESTATED:
        rule = anchors[-1]
    else:
        rule = anchors[0]
        other = next((a for a in anchors[1:] if a.sha256 != rule.sha256), None)
        if other is not None:
            report.bad(
                kind,
                record.id,
                f"anchored twice with different hashes (entries {rule.seq} and {other.seq})",
            )
            return
    if record.flaw is not None:
        report.bad(kind, record.id, record.flaw)
        return
    if record.sha256 == rule.sha256:
        if record.stated is not None and record.stated != rule.sha256:
            report.bad(kind, record.id, f"its stored hash is not the sha256 in entry {rule.seq}")
        return
    differs = _unwitnessed(record, Recording(rule.seq, rule.witnessed))
    what = differs or record.note or "its content differs from what was recorded"
    if rule.count is not None and rule.count == record.count:
        what = f"all {rule.count} {kind} are there, but one or more was altered"
    elif rule.count is not None and record.count is not None:
        gone = rule.count - record.count
        counted = f"{gone} missing" if gone > 0 else f"{-gone} added"
        what = f"{rule.count} {kind} anchored, {record.count} now ({counted})"
    report.bad(kind, record.id, f"{what}; it no longer hashes to the sha256 in entry {rule.seq}")
