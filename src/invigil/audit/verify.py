"""Verifying a tenant's log from its records alone: no database, no network.

The same code checks the live database (``invigil audit verify``) and an
export file (``invigil audit verify-export``). It names the first edited
entry, not a range, wherever the records pin it, and they nearly always do:

* an entry whose bytes changed but whose stored leaf hash did not is named
  by its own leaf hash;
* an entry changed together with its leaf hash is named by the next entry,
  whose ``prev`` still holds the old leaf hash (the chain);
* a deleted entry leaves a gap in the sequence numbers, a moved one a
  number out of place; an edited column (database only) differs from the
  signed entry.

Only a change re-chained through every later entry (each ``prev`` and leaf
hash recomputed: the whole tail rewritten) leaves the chain intact; the
signed checkpoints then pin it between two of them: the last entry before
the first checkpoint that fails was certainly altered, any entry after the
last checkpoint that holds may have been. docs/formats/audit-export.md says
which entry each kind of change is named by.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from invigil.audit.checkpoints import parse_note
from invigil.audit.log import GENESIS
from invigil.audit.merkle import MerkleTree, leaf_hash, verify_consistency
from invigil.audit.records import RecordsReport
from invigil.security.keys import verify_signature


@dataclass(frozen=True)
class EntryRecord:
    seq: int
    entry: str
    leaf_hash: bytes
    columns: Mapping[str, Any] | None = None  # from the database; None in an export


@dataclass(frozen=True)
class CheckpointRecord:
    tree_size: int
    root_hash: bytes
    key_id: str
    signature: bytes
    note: str


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_seq: int | None = None
    first_named: int | None = None  # the first entry a finding names exactly (no range)
    records: RecordsReport | None = None  # the records anchored in the log, when checked

    @property
    def ok(self) -> bool:
        return not self.problems and (self.records is None or self.records.ok)

    def bad(self, seq: int | None, message: str) -> None:
        """``seq`` names the entry precisely; a checkpoint failure passes None."""
        self.problems.append(message)
        if seq is not None and (self.first_bad_seq is None or seq < self.first_bad_seq):
            self.first_bad_seq = seq
        if seq is not None and (self.first_named is None or seq < self.first_named):
            self.first_named = seq

    def bad_range(self, start: int, message: str) -> None:
        """Something at or after ``start`` is wrong (the first entry the
        checkpoints no longer vouch for); an earlier precise finding wins."""
        self.problems.append(message)
        if self.first_bad_seq is None or start < self.first_bad_seq:
            self.first_bad_seq = start


def _column_mismatch(parsed: Mapping[str, Any], columns: Mapping[str, Any]) -> str | None:
    expected = {
        "action": parsed.get("action"),
        "actor_kind": parsed.get("actor", {}).get("kind"),
        "actor_id": parsed.get("actor", {}).get("id"),
        "subject_type": parsed.get("subject", {}).get("type"),
        "subject_id": parsed.get("subject", {}).get("id"),
        "occurred_at": parsed.get("at"),
        "id": parsed.get("id"),
        "payload": parsed.get("payload"),
    }
    for name, value in expected.items():
        if columns.get(name) != value:
            return name
    return None


def _out_of_place(entries: Sequence[EntryRecord], position: int) -> str:
    """Why ``entries[position]`` is not entry ``position``: deleted, or moved."""
    found = entries[position].seq
    elsewhere = next((i for i, e in enumerate(entries) if e.seq == position), None)
    if elsewhere is None:
        return f"entry {position} is missing (deleted): entry {found} is in its place"
    return (
        f"entry {position} is out of order: it stands at position {elsewhere}, "
        f"entry {found} in its place"
    )


def _check_entries(tenant: str, entries: Sequence[EntryRecord], report: Report) -> list[bytes]:
    leaves: list[bytes] = []
    prev = GENESIS
    for position, record in enumerate(entries):
        if record.seq != position:
            report.bad(position, _out_of_place(entries, position))
            break
        data = record.entry.encode()
        leaf = leaf_hash(data)
        # The signed root covers these exact bytes: re-encoding them canonically
        # would add nothing to integrity, and is the slowest step by far.
        try:
            parsed = json.loads(data)
            is_entry = isinstance(parsed, dict)
        except ValueError:
            parsed, is_entry = {}, False
        problems_before = len(report.problems)
        if not is_entry:
            report.bad(position, f"entry {position}: its bytes are not a JSON entry")
        elif parsed.get("seq") != position or parsed.get("tenant") != tenant:
            report.bad(
                position,
                f"entry {position}: claims to be entry {parsed.get('seq')} "
                f"of tenant {parsed.get('tenant')}",
            )
        if leaf != record.leaf_hash:
            report.bad(
                position,
                f"entry {position} was altered: its stored leaf hash does not match its bytes",
            )
        self_consistent = len(report.problems) == problems_before
        if is_entry and parsed.get("prev") != prev.hex():
            # A sound entry whose prev is not its predecessor's leaf hash still
            # holds the hash the predecessor had when it was written: the
            # predecessor changed (with its leaf hash, or that was named above).
            if self_consistent and position:
                report.bad(
                    position - 1,
                    f"entry {position - 1} was altered: entry {position} does not follow it "
                    f"(its prev is not the leaf hash of entry {position - 1}'s bytes)",
                )
            else:
                report.bad(
                    position,
                    f"entry {position}: does not follow "
                    + (f"entry {position - 1}" if position else "the start of the log")
                    + " (its prev was altered)",
                )
        if is_entry and record.columns is not None:
            column = _column_mismatch(parsed, record.columns)
            if column:
                report.bad(
                    position,
                    f"entry {position}: column {column} differs from the "
                    "signed entry (edited in place)",
                )
        leaves.append(leaf)
        prev = leaf
    return leaves


def verify_log(
    tenant: str,
    entries: Sequence[EntryRecord],
    checkpoints: Sequence[CheckpointRecord],
    keys: Mapping[str, Ed25519PublicKey],
) -> Report:
    report = Report(entries=len(entries), checkpoints=len(checkpoints))
    leaves = _check_entries(tenant, entries, report)
    tree = MerkleTree(leaves)
    previous: CheckpointRecord | None = None
    for cp in sorted(checkpoints, key=lambda c: c.tree_size):
        where = f"checkpoint at size {cp.tree_size}"
        public = keys.get(cp.key_id)
        note = parse_note(cp.note)
        if public is None:
            report.bad(None, f"{where}: signed by unknown key {cp.key_id}")
            continue
        if not verify_signature(public, cp.note.encode(), cp.signature):
            report.bad(None, f"{where}: signature does not verify (forged or swapped)")
            continue
        if (
            note is None
            or note.tenant != tenant
            or note.size != cp.tree_size
            or note.root != cp.root_hash
        ):
            report.bad(
                None,
                f"{where}: its signed note does not match its fields (swapped from another log)",
            )
            continue
        if cp.tree_size > len(leaves):
            report.bad_range(
                len(leaves),
                f"{where}: covers {cp.tree_size} entries but only "
                f"{len(leaves)} verify (entries from {len(leaves)} deleted)",
            )
            continue
        if tree.root_at(cp.tree_size) != cp.root_hash:
            _root_mismatch(report, where, previous.tree_size if previous else 0, cp.tree_size)
            continue
        if previous is not None:
            proof = tree.consistency_proof(previous.tree_size, cp.tree_size)
            if not verify_consistency(
                previous.tree_size, cp.tree_size, previous.root_hash, cp.root_hash, proof
            ):
                report.bad_range(
                    previous.tree_size,
                    f"{where}: not consistent with the checkpoint at size {previous.tree_size}",
                )
        previous = cp
    return report


def _root_mismatch(report: Report, where: str, held: int, size: int) -> None:
    """The first ``size`` entries do not give a checkpoint's signed root,
    while the first ``held`` still give the previous one's."""
    first = report.first_named
    if first is not None and first < size:
        # Named above: that entry is not the one signed.
        report.problems.append(
            f"{where}: the entries do not produce its signed root (explained by entry "
            f"{first}, named above)"
        )
        return
    # Every entry before ``size`` follows the one before it, so a change was
    # re-chained: changing entry j forces a new prev into j + 1, and so on,
    # hence the last entry under this checkpoint certainly changed.
    last = size - 1
    if held == last:
        report.bad(
            last,
            f"{where}: the entries do not produce its signed root (entry "
            f"{last} was altered, and every later entry re-chained after it)",
        )
        return
    report.bad_range(
        held,
        f"{where}: the entries do not produce its signed root, yet each follows the one "
        f"before: they were rewritten and re-chained. Entry {last} was altered; so may be "
        f"any entry from {held} on (the first the signed checkpoints no longer vouch for)",
    )
