"""Tests for itptrace.ledger.merkle: RFC 6962 known answers, exhaustive checks, mutations."""

from __future__ import annotations

import hashlib
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrace.ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from itptrace.ledger.ranges import subtree_ranges_for_consistency, subtree_ranges_for_inclusion

# Known answers of the Certificate Transparency reference implementation,
# google/certificate-transparency cpp/merkletree/merkle_tree_test.cc (kSHA256EmptyTreeHash,
# kInputs, kSHA256Roots, kSHA256Paths, kSHA256Proofs; its leaf numbers are 1-based, the indexes
# below are 0-based) and python/ct/crypto/merkle_test.py (sha256_leaves, sha256_nodes).
EMPTY_TREE_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
LEAF_HASHES = [
    ("", "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    ("101112131415161718191a1b1c1d1e1f",
     "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a"),
]  # fmt: skip
NODE_HASH = (
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
    "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57",
)
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
             "606162636465666768696a6b6c6d6e6f"]  # fmt: skip
CT_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
H_L1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
H_23 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
H_4567 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
H_L4 = "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
H_67 = "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
H_0123 = CT_ROOTS[4]
H_45 = "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
# (index, tree size, audit path)
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, [H_L1, H_23, H_4567]),
    (5, 8, [H_L4, H_67, H_0123]),
    (2, 3, [CT_ROOTS[2]]),
    (1, 5, [CT_ROOTS[1], H_23, H_L4]),
]
# (old size, new size, consistency proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, [H_L1, H_23, H_4567]),
    (6, 8, [H_45, H_67, H_0123]),
    (2, 5, [H_23, H_L4]),
]

CT = [leaf_hash(bytes.fromhex(d)) for d in CT_LEAVES]
LOG = [leaf_hash(i.to_bytes(4, "big")) for i in range(600)]
ROOTS = [root_hash(LOG[:n]) for n in range(len(LOG) + 1)]


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _k(n: int) -> int:
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH read literally off RFC 6962 section 2.1, recursion on slices."""
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    return node_hash(ref_mth(d[: _k(len(d))]), ref_mth(d[_k(len(d)) :]))


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    if m < k:
        return [*ref_path(m, d[:k]), ref_mth(d[k:])]
    return [*ref_path(m - k, d[k:]), ref_mth(d[:k])]


def ref_subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    if m == len(d):
        return [] if b else [ref_mth(d)]
    k = _k(len(d))
    if m <= k:
        return [*ref_subproof(m, d[:k], b), ref_mth(d[k:])]
    return [*ref_subproof(m - k, d[k:], False), ref_mth(d[:k])]


def test_the_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    assert root_hash([]).hex() == EMPTY_TREE_ROOT == EMPTY_ROOT.hex()


def test_leaf_and_node_hashes_match_the_reference_vectors() -> None:
    for data, expected in LEAF_HASHES:
        assert leaf_hash(bytes.fromhex(data)).hex() == expected
    left, right, expected = NODE_HASH
    assert node_hash(bytes.fromhex(left), bytes.fromhex(right)).hex() == expected


def test_every_prefix_of_the_reference_tree_has_the_published_root() -> None:
    assert {n: root_hash(CT[:n]).hex() for n in range(1, 9)} == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_reference_inclusion_proofs_are_produced_and_verify(
    index: int, size: int, path: list[str]
) -> None:
    assert hexes(inclusion_proof(CT[:size], index)) == path
    proof = [bytes.fromhex(p) for p in path]
    assert verify_inclusion(CT[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("size1", "size2", "path"), CT_CONSISTENCY)
def test_reference_consistency_proofs_are_produced_and_verify(
    size1: int, size2: int, path: list[str]
) -> None:
    assert hexes(consistency_proof(CT[:size2], size1)) == path
    proof = [bytes.fromhex(p) for p in path]
    root1, root2 = bytes.fromhex(CT_ROOTS[size1]), bytes.fromhex(CT_ROOTS[size2])
    assert verify_consistency(size1, size2, root1, root2, proof)


def test_roots_and_proofs_agree_with_a_literal_reading_of_rfc_6962() -> None:
    for n in range(1, 49):
        d = LOG[:n]
        assert root_hash(d) == ref_mth(d)
        for m in range(n):
            assert inclusion_proof(d, m) == ref_path(m, d)
        for m in range(1, n + 1):
            assert consistency_proof(d, m) == ref_subproof(m, d, True)


def test_every_inclusion_proof_of_every_index_verifies_in_trees_of_1_to_256_leaves() -> None:
    checked = 0
    for n in range(1, 257):
        d = LOG[:n]
        for m in range(n):
            assert verify_inclusion(d[m], m, n, inclusion_proof(d, m), ROOTS[n]), (m, n)
            checked += 1
    assert checked == 256 * 257 // 2


def test_every_consistency_proof_verifies_for_all_pairs_to_128_and_a_dense_sample_to_256() -> None:
    rng, checked = random.Random(256), 0
    for n in range(1, 257):
        d = LOG[:n]
        olds = range(1, n + 1) if n <= 128 else {
            *range(1, 18), *range(n - 17, n + 1), *(2**j + e for j in range(8) for e in (-1, 0, 1)),
            *rng.sample(range(1, n + 1), 24),
        }  # fmt: skip
        for m in olds:
            if 0 < m <= n:
                assert verify_consistency(m, n, ROOTS[m], ROOTS[n], consistency_proof(d, m)), (m, n)
                checked += 1
    assert checked > 128 * 129 // 2 + 128 * 60


def test_consistency_from_the_empty_tree_is_not_defined_and_is_refused() -> None:
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOTS[5], [ROOTS[5]])
    with pytest.raises(ValueError):
        consistency_proof(LOG[:5], 0)


def test_equal_sizes_need_an_empty_proof_and_equal_roots() -> None:
    assert verify_consistency(7, 7, ROOTS[7], ROOTS[7], [])
    assert not verify_consistency(7, 7, ROOTS[7], ROOTS[6], [])
    assert not verify_consistency(7, 7, ROOTS[7], ROOTS[7], [ROOTS[7]])


def test_booleans_and_oversized_integers_are_not_sizes_or_indexes() -> None:
    root2 = root_hash(CT[:2])
    assert verify_inclusion(CT[1], 1, 2, [CT[0]], root2)
    assert not verify_inclusion(CT[1], True, 2, [CT[0]], root2)
    assert verify_inclusion(CT[0], 0, 1, [], CT[0])
    assert not verify_inclusion(CT[0], False, True, [], CT[0])
    assert not verify_inclusion(CT[0], 0, 2**64, [CT[0]] * 64, CT[0])
    assert verify_consistency(1, 2, CT[0], root2, [CT[1]])
    assert not verify_consistency(True, 2, CT[0], root2, [CT[1]])
    assert not verify_consistency(2**64, 2**64, root2, root2, [])


def test_proof_generators_refuse_arguments_outside_the_tree() -> None:
    for bad_index in (-1, 5, 6):
        with pytest.raises(ValueError):
            inclusion_proof(LOG[:5], bad_index)
    for bad_size1 in (-1, 0, 6):
        with pytest.raises(ValueError):
            consistency_proof(LOG[:5], bad_size1)
    with pytest.raises(TypeError):
        inclusion_proof(LOG[:5], True)
    with pytest.raises(ValueError):
        root_hash([b"short"])


def test_a_size_change_without_its_own_root_passes_only_if_the_path_shape_is_unchanged() -> None:
    # tree_size and root are bound together by the signed tree head, not by the proof: the RFC
    # 9162 algorithm only sees the hashing pattern. E.g. leaf 0 of 5 leaves has the same
    # right-right-right path in trees of 6, 7 and 8 leaves. Accepted exactly in those cases.
    shapes = {
        (m, n): [start < m for start, _ in subtree_ranges_for_inclusion(m, n)]
        for n in range(1, 65)
        for m in range(n)
    }
    accepted = 0
    for (m, n), shape in shapes.items():
        if n <= 40:
            proof = inclusion_proof(LOG[:n], m)
            for other in range(m + 1, 65):
                if other != n:
                    ok = verify_inclusion(LOG[m], m, other, proof, ROOTS[n])
                    assert ok == (shapes[m, other] == shape), (m, n, other)
                    accepted += ok
    assert accepted > 0


def test_a_consistency_proof_reused_for_another_newer_size_passes_only_at_the_right_length() -> (
    None
):
    # As above: PROOF(4, D[5]) = {leaf 4} also fits sizes 6..8 (root kept), never 9 and up.
    proof = consistency_proof(LOG[:5], 4)
    for other in range(4, 40):
        assert verify_consistency(4, other, ROOTS[4], ROOTS[5], proof) == (other in (5, 6, 7, 8))
    accepted = 0
    for n in range(2, 33):
        for m in range(1, n):
            proof = consistency_proof(LOG[:n], m)
            for other in range(m, 65):
                if other != n and verify_consistency(m, other, ROOTS[m], ROOTS[n], proof):
                    assert len(subtree_ranges_for_consistency(m, other)) == len(proof)
                    accepted += 1
    assert accepted > 0


def _flip(h: bytes, rng: random.Random) -> bytes:
    bit = rng.randrange(len(h) * 8)
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << bit % 8)]) + h[bit // 8 + 1 :]


def _mutate_list(proof: list[bytes], rng: random.Random, extra: bytes) -> list[bytes]:
    p, kind = list(proof), rng.randrange(6)
    i = rng.randrange(len(p)) if p else 0
    if kind == 0 and p:  # flip one bit of one element
        p[i] = _flip(p[i], rng)
    elif kind == 1 and p:  # drop an element
        del p[i]
    elif kind == 2:  # insert garbage, a root or a copy of an element, anywhere
        p.insert(rng.randrange(len(p) + 1), rng.choice([extra, rng.randbytes(32), *p]))
    elif kind == 3 and p:  # duplicate an element in place
        p.insert(i, p[i])
    elif kind == 4 and len(p) >= 2:  # swap two elements
        j = rng.choice([j for j in range(len(p)) if j != i])
        p[i], p[j] = p[j], p[i]
    elif kind == 5 and p:  # truncate and append something else
        p = [*p[:i], extra]
    return p


def _other_size(rng: random.Random, size: int) -> int:
    new = size + rng.choice([-1, 1]) if rng.random() < 0.5 else rng.randrange(len(LOG) + 1)
    return new if new != size else size + 1


Case = tuple[int, int, list[bytes]]


def _mutated_inclusion(rng: random.Random, case: Case) -> tuple[bool, bool] | None:
    m0, n0, proof0 = case
    m, n, proof, leaf, root = m0, n0, proof0, LOG[m0], ROOTS[n0]
    kind = rng.randrange(5)
    if kind == 0:
        leaf = _flip(leaf, rng) if rng.random() < 0.5 else rng.choice(LOG)
    elif kind == 1:
        root = _flip(root, rng) if rng.random() < 0.5 else rng.choice(ROOTS)
    elif kind == 2:
        m = m + rng.choice([-1, 1]) if rng.random() < 0.5 else rng.randrange(-3, n + 3)
    elif kind == 3:
        n = _other_size(rng, n)
        root = ROOTS[n]  # a real tree head of another size
    else:
        proof = _mutate_list(proof, rng, root)
    if (m, n, proof, leaf, root) == (m0, n0, proof0, LOG[m0], ROOTS[n0]):
        return None  # not a mutation after all
    accepted = verify_inclusion(leaf, m, n, proof, root)
    # Oracle, evaluated only on acceptance: is the mutant itself a genuine claim and proof?
    genuine = accepted and 0 <= m < n and leaf == LOG[m] and root == ROOTS[n]
    return accepted, genuine and proof == inclusion_proof(LOG[:n], m)


def _mutated_consistency(rng: random.Random, case: Case) -> tuple[bool, bool] | None:
    m0, n0, proof0 = case
    m, n, proof, r1, r2 = m0, n0, proof0, ROOTS[m0], ROOTS[n0]
    kind = rng.randrange(6)
    if kind == 0:
        r1 = _flip(r1, rng) if rng.random() < 0.5 else rng.choice(ROOTS)
    elif kind == 1:
        r2 = _flip(r2, rng) if rng.random() < 0.5 else rng.choice(ROOTS)
    elif kind == 2:
        r1, r2 = r2, r1
    elif kind == 3:
        m = _other_size(rng, m)
        r1 = ROOTS[m]
    elif kind == 4:
        n = _other_size(rng, n)
        r2 = ROOTS[n]
    else:
        proof = _mutate_list(proof, rng, r2)
    if (m, n, proof, r1, r2) == (m0, n0, proof0, ROOTS[m0], ROOTS[n0]):
        return None
    accepted = verify_consistency(m, n, r1, r2, proof)
    genuine = accepted and 0 < m <= n and (r1, r2) == (ROOTS[m], ROOTS[n])
    return accepted, genuine and proof == consistency_proof(LOG[:n], m)


def test_over_a_hundred_thousand_single_mutations_of_valid_proofs_are_all_rejected() -> None:
    # A changed size always comes with the genuine root for that size (a real tree head); see
    # the shape test above for why. A mutant the oracle finds genuine is not a false accept.
    rng = random.Random(6962)
    inc_cases: list[Case] = []
    con_cases: list[Case] = []
    for _ in range(600):
        n = rng.randrange(1, 513)
        m = rng.randrange(n)
        inc_cases.append((m, n, inclusion_proof(LOG[:n], m)))
        m = rng.randrange(1, n + 1)
        con_cases.append((m, n, consistency_proof(LOG[:n], m)))
    tried = accepted = genuine = 0
    for _ in range(55_000):
        for mutate, cases in ((_mutated_inclusion, inc_cases), (_mutated_consistency, con_cases)):
            outcome = mutate(rng, rng.choice(cases))
            if outcome is not None:
                tried, accepted, genuine = tried + 1, accepted + outcome[0], genuine + outcome[1]
    assert tried >= 100_000
    assert accepted - genuine == 0, f"{accepted - genuine} false accepts in {tried} mutations"


ANYTHING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40),
    st.binary(max_size=70), st.binary(min_size=32, max_size=32).map(bytearray),
    st.sampled_from([EMPTY_ROOT, ROOTS[8], LOG[3], -1, 2**64, 2**64 - 1, object(), {}, set()]),
    st.lists(st.one_of(st.none(), st.integers(), st.binary(max_size=40), st.sampled_from(LOG[:4]))),
    st.tuples(st.sampled_from(LOG[:8]), st.binary(max_size=33)),
)  # fmt: skip
BAD_HASH = st.one_of(
    st.binary(max_size=80).filter(lambda b: len(b) != 32),
    st.binary(min_size=32, max_size=32).map(bytearray),
    st.binary(min_size=32, max_size=32).map(lambda b: memoryview(b)),
    st.text(), st.none(), st.integers(), st.just(EMPTY_ROOT.hex()),
)  # fmt: skip
BAD_INT = st.one_of(
    st.integers(max_value=-1), st.integers(min_value=2**64), st.booleans(), st.none(),
    st.floats(), st.integers(0, 8).map(str), st.integers(0, 8).map(float), st.just(b"\x01"),
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.tuples(ANYTHING, ANYTHING, ANYTHING, ANYTHING, ANYTHING))
def test_verification_never_raises_whatever_it_is_given(args: tuple[object, ...]) -> None:
    assert type(verify_inclusion(*args)) is bool  # type: ignore[arg-type]
    assert type(verify_consistency(*args)) is bool  # type: ignore[arg-type]


def _bad_proof(proof: list[bytes]) -> st.SearchStrategy[object]:
    spliced = st.tuples(st.integers(0, len(proof)), BAD_HASH).map(
        lambda t: [*proof[: t[0]], t[1], *proof[t[0] :]]
    )
    return st.one_of(
        spliced, spliced.map(tuple), st.none(), st.just(b"".join(proof)), st.just(iter(proof)),
        st.just({i: p for i, p in enumerate(proof)}), st.just([EMPTY_ROOT] * 66), st.text(),
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 4))
def test_one_malformed_field_makes_a_valid_inclusion_claim_fail(
    data: st.DataObject, field: int
) -> None:
    m, n, path = data.draw(st.sampled_from(CT_INCLUSION))
    proof = [bytes.fromhex(p) for p in path]
    args: list[object] = [CT[m], m, n, proof, bytes.fromhex(CT_ROOTS[n])]
    assert verify_inclusion(*args)  # type: ignore[arg-type]
    args[field] = data.draw([BAD_HASH, BAD_INT, BAD_INT, _bad_proof(proof), BAD_HASH][field])
    assert verify_inclusion(*args) is False  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(0, 4))
def test_one_malformed_field_makes_a_valid_consistency_claim_fail(
    data: st.DataObject, field: int
) -> None:
    m, n, path = data.draw(st.sampled_from(CT_CONSISTENCY[1:]))
    proof = [bytes.fromhex(p) for p in path]
    args: list[object] = [m, n, bytes.fromhex(CT_ROOTS[m]), bytes.fromhex(CT_ROOTS[n]), proof]
    assert verify_consistency(*args)  # type: ignore[arg-type]
    args[field] = data.draw([BAD_INT, BAD_INT, BAD_HASH, BAD_HASH, _bad_proof(proof)][field])
    assert verify_consistency(*args) is False  # type: ignore[arg-type]
