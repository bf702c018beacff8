"""Merkle tree hashing and proofs for auditors: RFC 9162 section 2.1 over SHA-256.

This module is the auditor's library. It depends only on the Python standard library so
that anyone holding an exported audit bundle can check it offline, without the rest of
Invigil, and it follows the Certificate Transparency 2.0 definitions (RFC 9162,
section 2.1; the hashing is the same as in RFC 6962) so that an independent
implementation of the RFC reaches the same answers:

* ``leaf_hash(d)`` is ``SHA-256(0x00 || d)`` and ``node_hash(l, r)`` is
  ``SHA-256(0x01 || l || r)`` (2.1.1). The two prefixes keep a leaf from ever being
  passed off as an interior node.
* The Merkle Tree Hash of ``n > 1`` entries splits them at ``k``, the largest power of
  two smaller than ``n`` (2.1.1). The empty tree's hash is ``SHA-256("")``
  (``EMPTY_ROOT``).
* ``inclusion_proof`` produces the audit path ``PATH(m, D[n])`` (2.1.3.1) and
  ``verify_inclusion`` checks one with the algorithm of 2.1.3.2.
* ``consistency_proof`` produces ``PROOF(m, D[n])`` (2.1.4.1) and
  ``verify_consistency`` checks one with the algorithm of 2.1.4.2.

Every function here works on *leaf hashes*: hash each log entry with ``leaf_hash``
first. ``MerkleTree`` keeps every complete subtree hash in memory, so once built it
answers root, inclusion and consistency queries for any earlier tree size in
``O(log n)`` hash operations. The module-level ``root_hash``, ``inclusion_proof`` and
``consistency_proof`` build such a tree for a single query.

Generators are strict and raise ``TypeError`` or ``ValueError`` on bad input. The two
verifiers never raise: malformed input (negative or out-of-range sizes, proofs of the
wrong length, hashes that are not 32 bytes, objects that are not bytes at all) makes
them return ``False``.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from hashlib import sha256
from typing import Final, cast

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE: Final = 32
"""Length in bytes of every hash in the tree (SHA-256)."""

_LEAF_PREFIX: Final = b"\x00"
_NODE_PREFIX: Final = b"\x01"

EMPTY_ROOT: Final[bytes] = sha256(b"").digest()
"""The Merkle Tree Hash of the empty tree: SHA-256 of the empty string (RFC 9162 2.1.1)."""


def leaf_hash(data: bytes) -> bytes:
    """Return ``SHA-256(0x00 || data)``, the hash of one log entry (RFC 9162 2.1.1)."""
    return sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, an interior node (RFC 9162 2.1.1)."""
    return sha256(_NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _leaf_argument(position: int, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise TypeError(f"leaf hash {position} must be bytes, not {type(value).__name__}")
    data = bytes(value)
    if len(data) != HASH_SIZE:
        raise ValueError(f"leaf hash {position} is {len(data)} bytes, expected {HASH_SIZE}")
    return data


def _require_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


class MerkleTree:
    """An immutable RFC 9162 Merkle tree over a fixed list of leaf hashes.

    ``levels[h][i]`` holds the hash of the complete subtree covering leaves
    ``[i * 2**h, (i + 1) * 2**h)``, for every such subtree that fits in the tree. Every
    node of the tree of any size ``m <= size`` is either one of these or lies on that
    tree's right edge, where it is rebuilt from at most ``log2(m)`` stored hashes, so
    roots and proofs for every earlier size come out of the same structure.

    Building costs ``size - 1`` SHA-256 calls and keeps about ``2 * size`` hashes.
    """

    __slots__ = ("_levels",)

    _levels: list[list[bytes]]

    def __init__(self, leaf_hashes: Iterable[bytes | bytearray | memoryview]) -> None:
        """Build the tree; each leaf hash must be 32 bytes (bytes, bytearray or memoryview).

        Raises ``TypeError`` for a leaf that is not bytes-like and ``ValueError`` for one
        of the wrong length.
        """
        given = list(leaf_hashes)
        leaves: list[bytes]
        if all(type(h) is bytes and len(h) == HASH_SIZE for h in given):
            leaves = cast(list[bytes], given)  # the common case: no copy
        else:
            leaves = [_leaf_argument(position, h) for position, h in enumerate(given)]
        levels = [leaves]
        level = leaves
        prefix = _NODE_PREFIX
        while len(level) > 1:
            pairs = iter(level)
            # zip() over one iterator pairs consecutive hashes and drops an odd last one,
            # which belongs to no complete subtree one level up.
            level = [
                sha256(prefix + left + right).digest()
                for left, right in zip(pairs, pairs, strict=False)
            ]
            levels.append(level)
        self._levels = levels

    @classmethod
    def from_entries(cls, entries: Iterable[bytes]) -> MerkleTree:
        """Build the tree of raw log entries, hashing each with ``leaf_hash``."""
        return cls(leaf_hash(entry) for entry in entries)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def __repr__(self) -> str:
        return f"MerkleTree(size={self.size}, root={self.root().hex()})"

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        self._check_index(index, self.size)
        return self._levels[0][index]

    def root(self) -> bytes:
        """The Merkle Tree Hash of the whole tree."""
        return self._range_hash(0, self.size)

    def root_at(self, size: int) -> bytes:
        """The Merkle Tree Hash of the first ``size`` leaves (``0 <= size <= self.size``)."""
        self._check_size(size)
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path ``PATH(index, D[size])`` of RFC 9162 2.1.3.1.

        ``size`` defaults to the whole tree; it must satisfy ``0 <= index < size <=
        self.size``. The path is ordered from the leaf's sibling up to the root's child.
        """
        size = self.size if size is None else self._check_size(size)
        self._check_index(index, size)
        levels = self._levels
        path: list[bytes] = []
        lo, hi = 0, size
        # Walk down from the root, keeping the subtree [lo, hi) that holds the leaf and
        # recording the hash of the other half at each split.
        while hi - lo > 1:
            k = _split(hi - lo)
            mid = lo + k
            if index < mid:
                path.append(self._range_hash(mid, hi))
                hi = mid
            else:
                path.append(levels[k.bit_length() - 1][lo // k])
                lo = mid
        path.reverse()
        return path

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The consistency proof ``PROOF(old_size, D[new_size])`` of RFC 9162 2.1.4.1.

        ``new_size`` defaults to the whole tree; the sizes must satisfy ``0 <= old_size
        <= new_size <= self.size``. The proof is empty when ``old_size`` is 0 or equal to
        ``new_size``: there is nothing to prove then.
        """
        new_size = self.size if new_size is None else self._check_size(new_size)
        _require_int("old_size", old_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"old_size {old_size} is not in [0, {new_size}]")
        if old_size in (0, new_size):
            return []
        levels = self._levels
        proof: list[bytes] = []
        # SUBPROOF(m, D[lo:hi], b), unrolled: m == old_size stays an absolute position
        # and the recursion ends when the current subtree is exactly the old tree's part.
        lo, hi = 0, new_size
        complete = True  # the RFC's flag b: is [lo, hi) still a left-aligned prefix?
        while old_size != hi:
            k = _split(hi - lo)
            mid = lo + k
            if old_size <= mid:
                proof.append(self._range_hash(mid, hi))
                hi = mid
            else:
                proof.append(levels[k.bit_length() - 1][lo // k])
                lo = mid
                complete = False
        if not complete:
            proof.append(self._range_hash(lo, hi))
        proof.reverse()
        return proof

    def _range_hash(self, lo: int, hi: int) -> bytes:
        """The hash of the RFC subtree over leaves ``[lo, hi)``.

        ``lo`` must be a multiple of the largest power of two not above ``hi - lo``, which
        holds for every node of an RFC 9162 tree. The range is the sequence of complete
        subtrees given by the binary digits of ``hi - lo``, folded from the right.
        """
        if lo == hi:
            return EMPTY_ROOT
        levels = self._levels
        parts: list[bytes] = []
        while lo < hi:
            height = (hi - lo).bit_length() - 1
            parts.append(levels[height][lo >> height])
            lo += 1 << height
        result = parts.pop()
        while parts:
            result = sha256(_NODE_PREFIX + parts.pop() + result).digest()
        return result

    def _check_size(self, size: int) -> int:
        _require_int("size", size)
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is not in [0, {self.size}]")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        _require_int("index", index)
        if not 0 <= index < size:
            raise ValueError(f"index {index} is not in [0, {size})")


def _prefix_tree(leaf_hashes: Sequence[bytes], size: int) -> MerkleTree:
    _require_int("size", size)
    if not 0 <= size <= len(leaf_hashes):
        raise ValueError(f"size {size} is not in [0, {len(leaf_hashes)}]")
    return MerkleTree(leaf_hashes[:size] if size < len(leaf_hashes) else leaf_hashes)


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of ``leaf_hashes`` (RFC 9162 2.1.1); ``EMPTY_ROOT`` if empty."""
    return MerkleTree(leaf_hashes).root()


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The audit path ``PATH(index, D[n])`` with ``n = len(leaf_hashes)`` (RFC 9162 2.1.3.1).

    This builds the whole tree; use ``MerkleTree`` to answer many queries.
    """
    return MerkleTree(leaf_hashes).inclusion_proof(index)


def consistency_proof(old_size: int, new_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """``PROOF(old_size, D[new_size])`` over the first ``new_size`` leaves (RFC 9162 2.1.4.1).

    Requires ``0 <= old_size <= new_size <= len(leaf_hashes)``; the proof is empty when
    ``old_size`` is 0 or equal to ``new_size``.
    """
    return _prefix_tree(leaf_hashes, new_size).consistency_proof(old_size)


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _as_hash(value: object) -> bytes | None:
    if isinstance(value, bytes | bytearray) and len(value) == HASH_SIZE:
        return bytes(value)
    return None


def _as_hashes(values: object) -> list[bytes] | None:
    if not isinstance(values, Sequence) or isinstance(values, str | bytes | bytearray):
        return None
    hashes: list[bytes] = []
    for value in values:
        h = _as_hash(value)
        if h is None:
            return None
        hashes.append(h)
    return hashes


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Implements RFC 9162 2.1.3.2. Returns ``False``, never raises, on malformed input.
    """
    leaf = _as_hash(leaf_hash)
    expected = _as_hash(root)
    path = _as_hashes(proof)
    if leaf is None or expected is None or path is None:
        return False
    if not (_is_size(index) and _is_size(size)) or index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha256(_NODE_PREFIX + p + r).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(_NODE_PREFIX + r + p).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(r, expected)


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Check that the tree of ``new_size`` leaves with ``new_root`` extends the one of
    ``old_size`` leaves with ``old_root``, i.e. that history was only appended to.

    Implements RFC 9162 2.1.4.2, plus the cases the RFC leaves to the caller: equal sizes
    need an empty proof and equal roots; an old size of 0 needs an empty proof and
    ``old_root == EMPTY_ROOT``; an old size above the new one never verifies. Returns
    ``False``, never raises, on malformed input.
    """
    first = _as_hash(old_root)
    second = _as_hash(new_root)
    path = _as_hashes(proof)
    if first is None or second is None or path is None:
        return False
    if not (_is_size(old_size) and _is_size(new_size)) or old_size > new_size:
        return False
    if old_size == 0:
        if new_size == 0 and not hmac.compare_digest(second, EMPTY_ROOT):
            return False
        return not path and hmac.compare_digest(first, EMPTY_ROOT)
    if old_size == new_size:
        return not path and hmac.compare_digest(first, second)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one, so its root is the
        # starting point and the proof leaves it out.
        path.insert(0, first)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha256(_NODE_PREFIX + c + fr).digest()
            sr = sha256(_NODE_PREFIX + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha256(_NODE_PREFIX + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return sn == 0 and hmac.compare_digest(fr, first) and hmac.compare_digest(sr, second)
