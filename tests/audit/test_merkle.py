"""Tests for invigil.audit.merkle against RFC 9162 section 2.1.

The reference implementation below is a literal transcription of the RFC's recursive
definitions (MTH, PATH, PROOF/SUBPROOF) over raw entries. It is slow and obviously
correct; the library must agree with it exactly, and its verifiers must accept exactly
the proofs it produces.
"""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from invigil.audit.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------------------
# The RFC 9162 definitions, transcribed (section 2.1.1, 2.1.3.1, 2.1.4.1)
# --------------------------------------------------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def naive_mth(entries: tuple[bytes, ...]) -> bytes:
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + entries[0])
    k = _k(n)
    return _sha256(b"\x01" + naive_mth(entries[:k]) + naive_mth(entries[k:]))


def naive_path(m: int, entries: tuple[bytes, ...]) -> list[bytes]:
    n = len(entries)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*naive_path(m, entries[:k]), naive_mth(entries[k:])]
    return [*naive_path(m - k, entries[k:]), naive_mth(entries[:k])]


def naive_subproof(m: int, entries: tuple[bytes, ...], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [naive_mth(entries)]
    k = _k(n)
    if m <= k:
        return [*naive_subproof(m, entries[:k], b), naive_mth(entries[k:])]
    return [*naive_subproof(m - k, entries[k:], False), naive_mth(entries[:k])]


def naive_proof(m: int, entries: tuple[bytes, ...]) -> list[bytes]:
    # PROOF(m, D[n]) is defined for 0 < m < n; the library's contract makes the
    # degenerate cases (m == 0, m == n) empty.
    if m in (0, len(entries)):
        return []
    return naive_subproof(m, entries, True)


# --------------------------------------------------------------------------------------
# Fixtures: one set of distinct entries, their leaf hashes, and every prefix root
# --------------------------------------------------------------------------------------

MAX = 72
ENTRIES: tuple[bytes, ...] = (b"", b"\x00", *(f"entry {i}".encode() for i in range(2, MAX)))
LEAVES: list[bytes] = [leaf_hash(e) for e in ENTRIES]
TREE = MerkleTree(LEAVES)
ROOTS: list[bytes] = [naive_mth(ENTRIES[:n]) for n in range(MAX + 1)]

sizes = st.integers(min_value=0, max_value=MAX)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(min_value=1, max_value=MAX))
    return n, draw(st.integers(min_value=0, max_value=n - 1))


@st.composite
def old_and_new(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(sizes)
    return draw(st.integers(min_value=0, max_value=n)), n


def _other_hash(draw: st.DrawFn, avoid: bytes) -> bytes:
    h = draw(st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE))
    assume(h != avoid)
    return h


@st.composite
def mutated(draw: st.DrawFn, proof: list[bytes]) -> list[bytes]:
    """A proof that differs from ``proof``: one flipped bit, a dropped, added or
    replaced element, or two elements swapped."""
    ops = ["add"]
    if proof:
        ops += ["flip", "drop", "replace"]
    if len(proof) >= 2:
        ops.append("swap")
    op = draw(st.sampled_from(ops))
    out = list(proof)
    if op == "add":
        at = draw(st.integers(min_value=0, max_value=len(out)))
        extra = draw(st.sampled_from([*LEAVES[:4], *ROOTS[:4], bytes(HASH_SIZE)]))
        out.insert(at, extra)
    elif op == "flip":
        at = draw(st.integers(min_value=0, max_value=len(out) - 1))
        byte = draw(st.integers(min_value=0, max_value=HASH_SIZE - 1))
        bit = draw(st.integers(min_value=0, max_value=7))
        element = bytearray(out[at])
        element[byte] ^= 1 << bit
        out[at] = bytes(element)
    elif op == "drop":
        del out[draw(st.integers(min_value=0, max_value=len(out) - 1))]
    elif op == "replace":
        at = draw(st.integers(min_value=0, max_value=len(out) - 1))
        out[at] = _other_hash(draw, out[at])
    else:
        i = draw(st.integers(min_value=0, max_value=len(out) - 2))
        j = draw(st.integers(min_value=i + 1, max_value=len(out) - 1))
        out[i], out[j] = out[j], out[i]
    assume(out != proof)
    return out


# --------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT.hex() == expected
    assert root_hash([]) == EMPTY_ROOT
    assert MerkleTree([]).root() == EMPTY_ROOT
    assert MerkleTree([]).size == 0
    assert TREE.root_at(0) == EMPTY_ROOT


def test_leaf_and_node_hashes_follow_the_definitions() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert leaf_hash(b"\x00") == hashlib.sha256(b"\x00\x00").digest()
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != node_hash(b, a)
    # Domain separation: a leaf whose data is two hashes is not the node over them.
    assert leaf_hash(a + b) != node_hash(a, b)
    assert len(leaf_hash(b"x")) == len(node_hash(a, b)) == HASH_SIZE == 32


def test_small_trees_by_hand() -> None:
    l0, l1, l2, l3, l4 = (leaf_hash(bytes([i])) for i in range(5))
    h = node_hash
    assert root_hash([l0]) == l0
    assert root_hash([l0, l1]) == h(l0, l1)
    assert root_hash([l0, l1, l2]) == h(h(l0, l1), l2)
    assert root_hash([l0, l1, l2, l3]) == h(h(l0, l1), h(l2, l3))
    # k is the largest power of two *below* n, not the midpoint: 5 splits as 4 + 1.
    assert root_hash([l0, l1, l2, l3, l4]) == h(h(h(l0, l1), h(l2, l3)), l4)
    tree = MerkleTree([l0, l1, l2, l3, l4])
    assert tree.inclusion_proof(4) == [h(h(l0, l1), h(l2, l3))]
    assert tree.inclusion_proof(2) == [l3, h(l0, l1), l4]
    assert tree.inclusion_proof(2, 3) == [h(l0, l1)]
    assert tree.consistency_proof(3) == [l2, l3, h(l0, l1), l4]
    assert tree.consistency_proof(4) == [l4]
    assert tree.consistency_proof(2, 3) == [l2]


# The Certificate Transparency reference vectors (the same leaves and hashes appear in
# the RFC 6962 test suites of transparency-dev/merkle and certificate-transparency-go);
# RFC 9162 hashes trees exactly as RFC 6962 does.
CT_ENTRIES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
]
CT_CONSISTENCY = [
    (2, 8, ["5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
]
CT_FULL = {
    "96a296d2": "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a": "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf2": "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    "bc1a0643": "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea1": "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418": "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "0ebc5d34": "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
}


def test_certificate_transparency_reference_vectors() -> None:
    tree = MerkleTree.from_entries(CT_ENTRIES)
    for n, expected in enumerate(CT_ROOTS):
        assert tree.root_at(n).hex() == expected
        assert naive_mth(tuple(CT_ENTRIES[:n])).hex() == expected
    for index, size, short in CT_INCLUSION:
        proof = [bytes.fromhex(CT_FULL[s]) for s in short]
        assert tree.inclusion_proof(index, size) == proof
        leaf = leaf_hash(CT_ENTRIES[index])
        assert verify_inclusion(leaf, index, size, proof, bytes.fromhex(CT_ROOTS[size]))
    for old, new, short in CT_CONSISTENCY:
        proof = [bytes.fromhex(CT_FULL[s]) for s in short]
        assert tree.consistency_proof(old, new) == proof
        old_root, new_root = (bytes.fromhex(CT_ROOTS[s]) for s in (old, new))
        assert verify_consistency(old, new, old_root, new_root, proof)


# --------------------------------------------------------------------------------------
# Agreement with the RFC definitions
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=6), max_size=MAX))
def test_root_matches_the_definition_for_any_entries(entries: list[bytes]) -> None:
    leaves = [leaf_hash(e) for e in entries]
    expected = naive_mth(tuple(entries))
    assert root_hash(leaves) == expected
    assert MerkleTree(leaves).root() == expected
    assert MerkleTree.from_entries(entries).root() == expected


def test_every_prefix_root_proof_and_verification_up_to_72_leaves() -> None:
    """Exhaustive over every size, index and old size up to MAX, against the RFC."""
    for n in range(MAX + 1):
        prefix = ENTRIES[:n]
        assert TREE.root_at(n) == ROOTS[n]
        for m in range(n):
            proof = TREE.inclusion_proof(m, n)
            assert proof == naive_path(m, prefix)
            assert verify_inclusion(LEAVES[m], m, n, proof, ROOTS[n])
        for m in range(n + 1):
            proof = TREE.consistency_proof(m, n)
            assert proof == naive_proof(m, prefix)
            assert verify_consistency(m, n, ROOTS[m], ROOTS[n], proof)


@settings(max_examples=100, deadline=None)
@given(size_and_index())
def test_module_level_inclusion_proof_matches_the_tree(case: tuple[int, int]) -> None:
    n, m = case
    assert inclusion_proof(m, LEAVES[:n]) == naive_path(m, ENTRIES[:n])
    assert inclusion_proof(m, LEAVES[:n]) == TREE.inclusion_proof(m, n)
    assert MerkleTree(LEAVES[:n]).inclusion_proof(m) == TREE.inclusion_proof(m, n)


@settings(max_examples=100, deadline=None)
@given(old_and_new(), st.integers(min_value=0, max_value=8))
def test_module_level_consistency_proof_matches_the_tree(case: tuple[int, int], more: int) -> None:
    m, n = case
    # leaf_hashes may be longer than new_size: the proof is about its first new_size leaves.
    leaves = LEAVES[: min(n + more, MAX)]
    assert consistency_proof(m, n, leaves) == naive_proof(m, ENTRIES[:n])
    assert consistency_proof(m, n, leaves) == TREE.consistency_proof(m, n)
    assert root_hash(LEAVES[:n]) == ROOTS[n]


@pytest.mark.parametrize("n", [127, 128, 129, 255, 256, 257, 1000, 1024, 1025])
def test_larger_trees_around_powers_of_two(n: int) -> None:
    entries = tuple(f"big {i}".encode() for i in range(n))
    tree = MerkleTree.from_entries(entries)
    root = naive_mth(entries)
    assert tree.root() == root
    for m in sorted({0, 1, n // 3, n // 2, n - 2, n - 1}):
        path = tree.inclusion_proof(m)
        assert path == naive_path(m, entries)
        assert verify_inclusion(leaf_hash(entries[m]), m, n, path, root)
    for m in sorted({0, 1, 2, 3, n // 3, n // 2, n - 1, n}):
        proof = tree.consistency_proof(m)
        assert proof == naive_proof(m, entries)
        assert verify_consistency(m, n, naive_mth(entries[:m]), root, proof)


# --------------------------------------------------------------------------------------
# Verification accepts exactly the right proofs
# --------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_inclusion_proofs_fail(data: st.DataObject) -> None:
    n, m = data.draw(size_and_index())
    proof = naive_path(m, ENTRIES[:n])
    bad = data.draw(mutated(proof))
    assert not verify_inclusion(LEAVES[m], m, n, bad, ROOTS[n])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_inclusion_with_wrong_index_leaf_or_root_fails(data: st.DataObject) -> None:
    n, m = data.draw(size_and_index())
    proof = TREE.inclusion_proof(m, n)
    if n > 1:
        other = data.draw(st.integers(min_value=0, max_value=n - 1).filter(lambda i: i != m))
        assert not verify_inclusion(LEAVES[m], other, n, proof, ROOTS[n])
        assert not verify_inclusion(LEAVES[other], m, n, proof, ROOTS[n])
    wrong_root = data.draw(
        st.one_of(
            st.sampled_from([r for r in ROOTS if r != ROOTS[n]]),
            st.binary(min_size=HASH_SIZE, max_size=HASH_SIZE),
        )
    )
    assume(wrong_root != ROOTS[n])
    assert not verify_inclusion(LEAVES[m], m, n, proof, wrong_root)
    assert not verify_inclusion(LEAVES[m], m, n, proof, ROOTS[n][:-1])
    assert not verify_inclusion(LEAVES[m], n, n, proof, ROOTS[n])  # index == size
    assert not verify_inclusion(LEAVES[m], -1, n, proof, ROOTS[n])


@settings(max_examples=200, deadline=None)
@given(size_and_index(), st.integers(min_value=1, max_value=MAX))
def test_inclusion_proof_for_another_size_fails_against_that_sizes_root(
    case: tuple[int, int], claimed: int
) -> None:
    n, m = case
    assume(claimed != n)
    proof = TREE.inclusion_proof(m, n)
    # Accepted exactly when the proof happens to be that size's proof as well.
    honest = m < claimed and proof == naive_path(m, ENTRIES[:claimed])
    assert verify_inclusion(LEAVES[m], m, claimed, proof, ROOTS[claimed]) == honest
    assert not honest  # no two sizes share an audit path in these trees


def test_inclusion_proof_binds_the_size_only_through_the_root() -> None:
    # Leaf 0 has three right-hand siblings in the trees of 5 and of 7 leaves, so the
    # verification steps are identical and the size-5 proof still "verifies" when size 7
    # is claimed together with the size-5 root. That is not a forgery: a root is only
    # trusted as the root of the size it was signed with (RFC 9162 section 2.1.3.2 takes
    # both from the same signed tree head). Against the real size-7 root it fails.
    proof = TREE.inclusion_proof(0, 5)
    assert verify_inclusion(LEAVES[0], 0, 7, proof, ROOTS[5])
    assert not verify_inclusion(LEAVES[0], 0, 7, proof, ROOTS[7])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_consistency_proofs_fail(data: st.DataObject) -> None:
    m, n = data.draw(old_and_new())
    proof = naive_proof(m, ENTRIES[:n])
    bad = data.draw(mutated(proof))
    assert not verify_consistency(m, n, ROOTS[m], ROOTS[n], bad)


@settings(max_examples=300, deadline=None)
@given(old_and_new(), old_and_new())
def test_consistency_proof_is_accepted_only_for_its_own_sizes(
    case: tuple[int, int], claimed: tuple[int, int]
) -> None:
    m, n = case
    cm, cn = claimed
    proof = TREE.consistency_proof(m, n)
    expected = proof == naive_proof(cm, ENTRIES[:cn])
    assert verify_consistency(cm, cn, ROOTS[cm], ROOTS[cn], proof) == expected
    if (cm, cn) != (m, n) and proof:
        assert not expected


@settings(max_examples=200, deadline=None)
@given(old_and_new(), st.data())
def test_consistency_with_swapped_sizes_or_wrong_roots_fails(
    case: tuple[int, int], data: st.DataObject
) -> None:
    m, n = case
    proof = TREE.consistency_proof(m, n)
    if m != n:
        assert not verify_consistency(n, m, ROOTS[n], ROOTS[m], proof)
        assert not verify_consistency(n, m, ROOTS[m], ROOTS[n], proof)
    wrong_old = data.draw(st.sampled_from(ROOTS).filter(lambda r: r != ROOTS[m]))
    wrong_new = data.draw(st.sampled_from(ROOTS).filter(lambda r: r != ROOTS[n]))
    assert not verify_consistency(m, n, wrong_old, ROOTS[n], proof)
    # Every tree extends the empty one, so with m == 0 there is nothing to check new_root
    # against; otherwise a wrong new root fails.
    assert verify_consistency(m, n, ROOTS[m], wrong_new, proof) == (m == 0 and n > 0)
    assert not verify_consistency(m, n, ROOTS[n], ROOTS[m], proof) or m == n


def test_degenerate_consistency_cases() -> None:
    r4, r5 = ROOTS[4], ROOTS[5]
    assert verify_consistency(4, 4, r4, r4, [])
    assert not verify_consistency(4, 4, r4, r5, [])
    assert not verify_consistency(4, 4, r4, r4, [r4])
    assert verify_consistency(0, 5, EMPTY_ROOT, r5, [])
    assert not verify_consistency(0, 5, r4, r5, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, r5, [r5])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 0, r4, r4, [])
    assert not verify_consistency(5, 4, r5, r4, [])
    assert not verify_consistency(3, 5, ROOTS[3], r5, [])  # a real step needs a proof
    assert TREE.consistency_proof(0, 5) == TREE.consistency_proof(5, 5) == []


def test_rewritten_history_cannot_be_proven_consistent() -> None:
    """Change one old entry, keep appending: no proof from the rewritten tree links it to
    an old root that covered the changed entry, whatever the old size, new size or
    position of the rewrite. Old roots from before the change still link up."""
    for changed in (0, 1, 5, 12, 30):
        rewritten = list(ENTRIES)
        rewritten[changed] = b"rewritten " + rewritten[changed]
        forged = MerkleTree.from_entries(rewritten)
        for m in range(1, 40):
            for n in range(m, 45):
                proof = forged.consistency_proof(m, n)
                new_root = forged.root_at(n)
                assert verify_consistency(m, n, forged.root_at(m), new_root, proof)
                covered = changed < m
                assert verify_consistency(m, n, ROOTS[m], new_root, proof) is not covered
                if covered:
                    # Nor does the honest tree's proof help the forger.
                    honest = TREE.consistency_proof(m, n)
                    assert not verify_consistency(m, n, ROOTS[m], new_root, honest)


# --------------------------------------------------------------------------------------
# Malformed input: generators raise, verifiers return False
# --------------------------------------------------------------------------------------


def test_generators_reject_bad_arguments() -> None:
    tree = MerkleTree(LEAVES[:8])
    with pytest.raises(ValueError):
        tree.inclusion_proof(8)
    with pytest.raises(ValueError):
        tree.inclusion_proof(-1)
    with pytest.raises(ValueError):
        tree.inclusion_proof(3, 3)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 9)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 0)
    with pytest.raises(ValueError):
        tree.consistency_proof(5, 3)
    with pytest.raises(ValueError):
        tree.consistency_proof(-1)
    with pytest.raises(ValueError):
        tree.consistency_proof(2, 9)
    with pytest.raises(ValueError):
        tree.root_at(9)
    with pytest.raises(ValueError):
        tree.root_at(-1)
    with pytest.raises(TypeError):
        tree.inclusion_proof(True)
    with pytest.raises(TypeError):
        tree.root_at(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        inclusion_proof(0, [])
    with pytest.raises(ValueError):
        consistency_proof(1, 9, LEAVES[:8])
    with pytest.raises(ValueError):
        MerkleTree([LEAVES[0], LEAVES[1][:31]])
    with pytest.raises(TypeError):
        MerkleTree([LEAVES[0], "not bytes"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        root_hash([None])  # type: ignore[list-item]


def test_bytes_like_leaves_are_accepted() -> None:
    like: list[bytes | bytearray | memoryview] = [
        bytearray(LEAVES[0]),
        memoryview(LEAVES[1]),
        LEAVES[2],
    ]
    assert MerkleTree(like).root() == ROOTS[3]
    tree = MerkleTree(iter(LEAVES[:5]))  # any iterable
    assert tree.size == 5
    assert tree.leaf(4) == LEAVES[4]
    assert "size=5" in repr(tree)


def test_verifiers_return_false_on_garbage() -> None:
    proof = TREE.inclusion_proof(5, 8)
    root = ROOTS[8]
    leaf = LEAVES[5]
    assert verify_inclusion(leaf, 5, 8, proof, root)
    bytearrays = [bytearray(p) for p in proof]
    assert verify_inclusion(bytearray(leaf), 5, 8, bytearrays, root)  # type: ignore[arg-type]
    assert verify_inclusion(leaf, 5, 8, tuple(proof), root)
    garbage_inclusion: list[tuple[object, ...]] = [
        (leaf[:31], 5, 8, proof, root),
        (leaf + b"\x00", 5, 8, proof, root),
        (leaf, 5, 8, proof, root[:31]),
        (leaf, 5, 8, [proof[0][:31], *proof[1:]], root),
        (leaf, 5, 8, [*proof[:2], None], root),
        (leaf, 5, 8, None, root),
        (leaf, 5, 8, "not a proof", root),
        (leaf, 5, 8, b"".join(proof), root),
        (leaf, 5, 8, iter(proof), root),
        (leaf, 5, 8, proof, None),
        (None, 5, 8, proof, root),
        (leaf.hex(), 5, 8, proof, root),
        (leaf, -1, 8, proof, root),
        (leaf, 8, 8, proof, root),
        (leaf, 5, 0, proof, root),
        (leaf, 5, -8, proof, root),
        (leaf, 5.0, 8, proof, root),
        (leaf, 5, "8", proof, root),
        (leaf, True, 8, proof, root),
        (leaf, 5, 2**200, proof, root),
        (leaf, 2**200, 2**201, proof, root),
        (leaf, 5, 8, [*proof, *proof], root),
        (leaf, 5, 8, [], root),
    ]
    for args in garbage_inclusion:
        assert verify_inclusion(*args) is False, args  # type: ignore[arg-type]
    # A single leaf is its own root, with an empty proof and no other.
    assert verify_inclusion(LEAVES[0], 0, 1, [], ROOTS[1])
    assert not verify_inclusion(LEAVES[0], 0, 1, [LEAVES[1]], ROOTS[1])

    cproof = TREE.consistency_proof(6, 8)
    r6, r8 = ROOTS[6], ROOTS[8]
    assert verify_consistency(6, 8, r6, r8, cproof)
    garbage_consistency: list[tuple[object, ...]] = [
        (6, 8, r6[:31], r8, cproof),
        (6, 8, r6, r8[:31], cproof),
        (6, 8, r6, r8, [cproof[0][:31], *cproof[1:]]),
        (6, 8, r6, r8, [*cproof, None]),
        (6, 8, r6, r8, None),
        (6, 8, r6, r8, "proof"),
        (6, 8, r6, r8, b"".join(cproof)),
        (6, 8, None, r8, cproof),
        (6, 8, r6, object(), cproof),
        (8, 6, r8, r6, cproof),
        (-6, 8, r6, r8, cproof),
        (6, -8, r6, r8, cproof),
        (6.0, 8, r6, r8, cproof),
        (6, "8", r6, r8, cproof),
        (6, 8, r6, r8, []),
        (6, 2**200, r6, r8, cproof),
        (0, 8, None, r8, []),
        (8, 8, r8, None, []),
        (True, 8, ROOTS[1], r8, TREE.consistency_proof(1, 8)),
    ]
    for args in garbage_consistency:
        assert verify_consistency(*args) is False, args  # type: ignore[arg-type]


def test_proofs_at_every_earlier_size_of_a_tree_agree_with_a_tree_of_that_size() -> None:
    for n in (1, 2, 3, 17, 33, 64, 65):
        small = MerkleTree(LEAVES[:n])
        assert small.root() == TREE.root_at(n) == ROOTS[n]
        for m in range(n):
            assert small.inclusion_proof(m) == TREE.inclusion_proof(m, n)
        for m in range(n + 1):
            assert small.consistency_proof(m) == TREE.consistency_proof(m, n)


def test_proofs_are_lists_of_32_byte_bytes() -> None:
    for proof in (TREE.inclusion_proof(3), TREE.consistency_proof(13)):
        assert isinstance(proof, list)
        assert all(isinstance(p, bytes) for p in proof)
        assert all(len(p) == HASH_SIZE for p in proof)
