"""The steps of an RFC 9162 inclusion proof, for a person to follow.

:func:`invigil.audit.merkle.verify_inclusion` gives the verdict; this module
only lays out the same walk (RFC 9162 section 2.1.3.2) one hash at a time,
so that a page or a printed report can show which sibling is hashed on
which side and what each step yields, and a reader can redo it with any
SHA-256 tool: ``SHA-256(0x01 || left || right)`` at every step, starting
from the entry's leaf hash ``SHA-256(0x00 || entry)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from hashlib import sha256


@dataclass(frozen=True)
class Step:
    number: int
    sibling: str  # hex
    side: str  # "left": the sibling goes before the running hash; "right": after it
    result: str  # hex: SHA-256(0x01 || left || right)


def steps(leaf: str, index: int, size: int, proof: Sequence[str]) -> list[Step]:
    """The walk from ``leaf`` (hex) up to the root; its last result is the
    root the proof claims (empty when the tree has one leaf: the leaf is the
    root). Malformed input yields the steps up to where the walk stops."""
    out: list[Step] = []
    if not 0 <= index < size:
        return out
    fn, sn = index, size - 1
    running = bytes.fromhex(leaf)
    for number, hex_sibling in enumerate(proof, start=1):
        if sn == 0:
            break
        sibling = bytes.fromhex(hex_sibling)
        if fn & 1 or fn == sn:
            running = sha256(b"\x01" + sibling + running).digest()
            out.append(Step(number, hex_sibling, "left", running.hex()))
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            running = sha256(b"\x01" + running + sibling).digest()
            out.append(Step(number, hex_sibling, "right", running.hex()))
        fn >>= 1
        sn >>= 1
    return out
