"""Leaf ranges behind RFC 6962 proofs, so a store can answer them from stored subtree hashes.

Pure integer arithmetic, no hashing. A range is a half-open ``(start, end)`` pair of leaf indexes;
its value is MTH(D[start:end]) (RFC 6962 section 2.1).

A store that keeps the hash of every *perfect* subtree (``[j * 2**h, (j + 1) * 2**h)``, complete
in the log) answers a proof without loading leaves::

    def range_hash(start, end):
        blocks = perfect_subtrees(start, end)
        return root_from_perfect_subtrees([stored[b] for b in blocks])

    proof = [range_hash(s, e) for s, e in subtree_ranges_for_inclusion(index, size)]
    root = range_hash(0, size)   # i.e. the blocks of root_ranges(size)

Every range these functions return is a node of the RFC 6962 tree, so ``range_hash`` is exact for
it (see :func:`perfect_subtrees`). The ranges of one proof are disjoint and only a node holding
the last leaf can be imperfect, so at most one range per proof needs more than one stored hash
and a proof costs O(log n) reads.
"""

from __future__ import annotations

__all__ = [
    "perfect_subtrees",
    "root_ranges",
    "subtree_ranges_for_consistency",
    "subtree_ranges_for_inclusion",
]

Range = tuple[int, int]


def perfect_subtrees(start: int, end: int) -> list[Range]:
    """Cover ``[start, end)`` with aligned power-of-two blocks, left to right.

    Each block is ``[s, s + 2**h)`` with ``s`` a multiple of ``2**h``, the largest such block that
    starts where the previous one ended and fits before ``end``. With n = end - start and
    P the largest power of two <= n, folding the blocks' hashes right to left
    (``merkle.root_from_perfect_subtrees``) equals MTH(D[start:end]) exactly when

    * ``start % P == 0`` (the blocks are then the binary decomposition of n, largest first), or
    * n is a power of two >= 2 and ``start % (n // 2) == 0`` (two equal halves).

    Otherwise the blocks grow then shrink and the fold builds a different tree. Every node of the
    RFC 6962 tree, hence every proof range, starts at a multiple of the smallest power of two
    >= n, which satisfies the first case. An empty range gives ``[]``.
    """
    _check_int(start, "start")
    _check_int(end, "end")
    if not 0 <= start <= end:
        raise ValueError(f"need 0 <= start <= end, got [{start}, {end})")
    blocks: list[Range] = []
    while start < end:
        size = _floor_pow2(end - start)
        if start:
            size = min(size, start & -start)  # start & -start: largest power of two dividing it
        blocks.append((start, start + size))
        start += size
    return blocks


def root_ranges(size: int) -> list[Range]:
    """Perfect subtrees whose hashes, folded right to left, give the root of a ``size`` tree.

    The binary decomposition of ``size``, largest block first; ``[]`` for the empty tree.
    """
    _check_int(size, "size")
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    return perfect_subtrees(0, size)


def subtree_ranges_for_inclusion(index: int, size: int) -> list[Range]:
    """Ranges whose MTH values form PATH(index, D[size]) (RFC 6962 section 2.1.1), in proof order.

    Raises ``ValueError`` unless ``0 <= index < size``.
    """
    _check_int(index, "index")
    _check_int(size, "size")
    if not 0 <= index < size:
        raise ValueError(f"index {index} out of range for a tree of {size} leaves")
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        mid = start + _split(end - start)
        if index < mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start = mid
    ranges.reverse()
    return ranges


def subtree_ranges_for_consistency(size1: int, size2: int) -> list[Range]:
    """Ranges whose MTH values form PROOF(size1, D[size2]) (RFC 6962 section 2.1.2), in order.

    Defined for ``0 < size1 <= size2``; equal sizes give ``[]``. Raises ``ValueError`` otherwise.
    """
    _check_int(size1, "size1")
    _check_int(size2, "size2")
    if not 0 < size1 <= size2:
        raise ValueError(f"need 0 < size1 <= size2, got {size1}, {size2}")
    if size1 == size2:
        return []
    ranges: list[Range] = []
    start, end, old_root_known = 0, size2, True
    # Invariant: [start, end) is the current subtree and the old tree ends at size1 inside it.
    while end != size1:
        mid = start + _split(end - start)
        if size1 <= mid:
            ranges.append((mid, end))
            end = mid
        else:
            ranges.append((start, mid))
            start, old_root_known = mid, False
    if not old_root_known:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _floor_pow2(n: int) -> int:
    """Largest power of two ``<= n`` (``n >= 1``)."""
    return 1 << (n.bit_length() - 1)


def _check_int(value: object, name: str) -> None:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
