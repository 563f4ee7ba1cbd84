"""Tests for itptrace.ledger.ranges: proofs answered from stored perfect-subtree hashes."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from itptrace.ledger.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_perfect_subtrees,
    root_hash,
)
from itptrace.ledger.ranges import (
    perfect_subtrees,
    root_ranges,
    subtree_ranges_for_consistency,
    subtree_ranges_for_inclusion,
)

N = 64
LEAVES = [leaf_hash(b"entry %d" % i) for i in range(N)]


def _perfect_store(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """What a store keeps: the hash of every aligned power-of-two block, built bottom-up."""
    store = {(i, i + 1): h for i, h in enumerate(leaves)}
    width = 2
    while width <= len(leaves):
        for s in range(0, len(leaves) - width + 1, width):
            half = width // 2
            store[(s, s + width)] = node_hash(store[(s, s + half)], store[(s + half, s + width)])
        width *= 2
    return store


STORE = _perfect_store(LEAVES)


def range_hash(start: int, end: int) -> bytes:
    return root_from_perfect_subtrees([STORE[b] for b in perfect_subtrees(start, end)])


def folds_to_mth(start: int, end: int) -> bool:
    """The condition documented on perfect_subtrees."""
    n = end - start
    p = 1 << (n.bit_length() - 1)
    return start % p == 0 or (n == p and n >= 2 and start % (n // 2) == 0)


def test_root_ranges_are_the_binary_decomposition_of_the_size() -> None:
    assert root_ranges(0) == []
    assert root_ranges(1) == [(0, 1)]
    assert root_ranges(13) == [(0, 8), (8, 12), (12, 13)]
    assert root_ranges(64) == [(0, 64)]


def test_roots_folded_from_stored_subtrees_equal_roots_from_the_leaves() -> None:
    assert root_from_perfect_subtrees([]) == EMPTY_ROOT
    for size in range(N + 1):
        blocks = [STORE[b] for b in root_ranges(size)]
        assert root_from_perfect_subtrees(blocks) == root_hash(LEAVES[:size]), size


def test_perfect_subtrees_are_aligned_blocks_covering_the_range_left_to_right() -> None:
    for start in range(N + 1):
        for end in range(start, N + 1):
            blocks = perfect_subtrees(start, end)
            edges = [start, *(e for _, e in blocks)]
            assert [s for s, _ in blocks] == edges[:-1] and edges[-1] == end
            for s, e in blocks:
                size = e - s
                assert size & (size - 1) == 0 and s % size == 0, (s, e)


def test_folding_perfect_subtrees_gives_the_range_mth_exactly_when_documented() -> None:
    holds = fails = 0
    for start in range(N):
        for end in range(start + 1, N + 1):
            same = range_hash(start, end) == root_hash(LEAVES[start:end])
            assert same == folds_to_mth(start, end), (start, end)
            holds, fails = holds + same, fails + (not same)
    assert holds and fails  # both sides of the condition are exercised


def test_inclusion_proofs_from_stored_subtrees_equal_proofs_from_the_leaves() -> None:
    for size in range(1, N + 1):
        for index in range(size):
            ranges = subtree_ranges_for_inclusion(index, size)
            from_store = [range_hash(s, e) for s, e in ranges]
            assert from_store == inclusion_proof(LEAVES[:size], index), (index, size)


def test_consistency_proofs_from_stored_subtrees_equal_proofs_from_the_leaves() -> None:
    for size2 in range(1, N + 1):
        for size1 in range(1, size2 + 1):
            ranges = subtree_ranges_for_consistency(size1, size2)
            from_store = [range_hash(s, e) for s, e in ranges]
            assert from_store == consistency_proof(LEAVES[:size2], size1), (size1, size2)


def _proof_ranges(size: int) -> list[list[tuple[int, int]]]:
    out = [subtree_ranges_for_inclusion(i, size) for i in range(size)]
    return out + [subtree_ranges_for_consistency(m, size) for m in range(1, size + 1)]


def test_every_proof_range_is_a_tree_node_and_costs_few_stored_reads() -> None:
    for size in range(1, N + 1):
        for ranges in _proof_ranges(size):
            for s, e in ranges:
                # A node of n leaves starts at a multiple of the smallest power of two >= n.
                assert s % (1 << (e - s - 1).bit_length()) == 0, (s, e)
                assert folds_to_mth(s, e)
            spans = sorted(ranges)
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
            assert sum(len(perfect_subtrees(s, e)) > 1 for s, e in ranges) <= 1
            reads = sum(len(perfect_subtrees(s, e)) for s, e in ranges)
            assert reads <= 2 * size.bit_length()


def test_proofs_of_uint64_sized_trees_stay_within_65_hashes() -> None:
    rng = random.Random(64)
    top = 2**64 - 1
    sizes = [top, 2**63, 2**63 + 1, *(rng.randrange(1, top) for _ in range(300))]
    for size2 in sizes:
        assert len(subtree_ranges_for_inclusion(rng.randrange(size2), size2)) <= 64
        assert len(subtree_ranges_for_inclusion(size2 - 1, size2)) <= 64
        for size1 in (1, 2, 3, size2 - 1, rng.randrange(1, size2 + 1)):
            if size1 >= 1:
                assert len(subtree_ranges_for_consistency(size1, size2)) <= 65


def test_range_helpers_refuse_arguments_outside_the_tree() -> None:
    calls: list[Callable[[], object]] = [
        lambda: subtree_ranges_for_inclusion(3, 3),
        lambda: subtree_ranges_for_inclusion(-1, 3),
        lambda: subtree_ranges_for_consistency(0, 3),
        lambda: subtree_ranges_for_consistency(4, 3),
        lambda: perfect_subtrees(5, 4),
        lambda: root_ranges(-1),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError):
        subtree_ranges_for_inclusion(True, 3)
