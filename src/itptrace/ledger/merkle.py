"""Merkle tree hashing, proofs and proof verification (RFC 6962 section 2.1, RFC 9162 section 2.1).

Pure and stdlib-only. Hashes are raw 32-byte SHA-256 digests (``bytes``); the tree is the
RFC 6962 / RFC 9162 Merkle Tree Hash (MTH) over an ordered list of *leaf hashes*:

* ``MTH({}) = SHA-256()``, ``MTH({d0}) = leaf_hash(d0)``,
* ``MTH(D[n]) = node_hash(MTH(D[0:k]), MTH(D[k:n]))`` with k the largest power of two < n.

The proof generators take the full list of leaf hashes and cost O(n) hashing; a store that keeps
the hashes of perfect subtrees answers proofs in O(log n) reads with :mod:`itptrace.ledger.ranges`
and :func:`root_from_perfect_subtrees`.

The verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2 and are total: for any input, however
malformed, they return ``False`` instead of raising. Well-formed means: hashes are ``bytes``
(exactly that type) of length 32; sizes and indexes are ``int`` (``bool`` is refused) in the
RFC 9162 uint64 range; a proof is a ``list`` or ``tuple`` (exactly) of at most 65 hashes.

A proof binds a leaf (or an older root) to a *(tree size, root)* pair; it does not bind the size to
the root. Re-using a proof with a different size but the same root can be accepted whenever the
hashing pattern is unchanged (e.g. leaf 0 of a 5-leaf tree "verifies" for size 6 against the 5-leaf
root). Callers must take size and root together from one signed tree head.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_from_perfect_subtrees",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# RFC 9162 carries tree_size and leaf_index as uint64 (TreeHeadDataV2, InclusionProofDataV2).
_MAX_TREE_SIZE = 2**64 - 1
# A uint64 tree is at most 64 levels deep: an inclusion path has at most 64 hashes and a
# consistency path at most 64 + 1 (RFC 6962 SUBPROOF adds one node per level, plus MTH(D[0:m])).
# The cap only stops huge inputs early; such proofs fail the RFC algorithm anyway.
_MAX_PROOF_LEN = 65


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || data)``."""
    h = hashlib.sha256(b"\x00")
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``.

    The inputs are not length-checked here (this is the hot loop); the verifiers check theirs.
    """
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return MTH over ``leaf_hashes`` (RFC 6962 section 2.1).

    The empty tree's root is ``SHA-256()``; a one-leaf tree's root is that leaf hash.
    Raises ``TypeError``/``ValueError`` if an element is not a 32-byte ``bytes``.
    """
    return _mth(_checked_hashes(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path PATH(index, D[n]) of RFC 6962 section 2.1.1, leaf side first.

    Raises ``ValueError`` unless ``0 <= index < len(leaf_hashes)``.
    """
    leaves = _checked_hashes(leaf_hashes)
    _check_int(index, "index")
    if not 0 <= index < len(leaves):
        raise ValueError(f"index {index} out of range for a tree of {len(leaves)} leaves")
    siblings: list[bytes] = []
    start, end, m = 0, len(leaves), index
    # Walk from the root down to the leaf; each step records the subtree the leaf is not in.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            siblings.append(_mth(leaves[start + k : end]))
            end = start + k
        else:
            siblings.append(_mth(leaves[start : start + k]))
            start, m = start + k, m - k
    siblings.reverse()  # PATH lists the leaf's sibling first and the root's child last.
    return siblings


def consistency_proof(leaf_hashes: Sequence[bytes], size1: int) -> list[bytes]:
    """Return PROOF(size1, D[n]) = SUBPROOF(size1, D[n], true) of RFC 6962 section 2.1.2.

    Defined for ``0 < size1 <= n``; ``size1 == n`` gives ``[]``. Raises ``ValueError`` otherwise.
    """
    leaves = _checked_hashes(leaf_hashes)
    _check_int(size1, "size1")
    if not 0 < size1 <= len(leaves):
        raise ValueError(f"size1 {size1} out of range for a tree of {len(leaves)} leaves")
    nodes: list[bytes] = []
    start, end, m, whole_old_tree = 0, len(leaves), size1, True
    while end - start != m:
        k = _split(end - start)
        if m <= k:
            nodes.append(_mth(leaves[start + k : end]))
            end = start + k
        else:
            nodes.append(_mth(leaves[start : start + k]))
            start, m, whole_old_tree = start + k, m - k, False
    # SUBPROOF(m, D[m], false) = {MTH(D[m])}; with b = true the verifier already has that root.
    if not whole_old_tree:
        nodes.append(_mth(leaves[start:end]))
    nodes.reverse()  # SUBPROOF puts the deepest node first.
    return nodes


def root_from_perfect_subtrees(hashes: Sequence[bytes]) -> bytes:
    """Fold subtree hashes right to left: ``node_hash(h0, node_hash(h1, ... h_last))``.

    With the hashes of :func:`itptrace.ledger.ranges.root_ranges` (size) this is the root of a
    tree of that size; see :func:`itptrace.ledger.ranges.perfect_subtrees` for which other ranges
    it reproduces. No hashes gives the empty tree's root. Raises on a malformed hash.
    """
    checked = _checked_hashes(hashes)
    if not checked:
        return EMPTY_ROOT
    acc = checked[-1]
    for h in reversed(checked[:-1]):
        acc = node_hash(h, acc)
    return acc


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check an inclusion proof with the algorithm of RFC 9162 section 2.1.3.2.

    Returns ``False`` (never raises) for any wrong or malformed input.
    """
    path = _proof_or_none(proof)
    if path is None or not (_is_hash(leaf_hash) and _is_hash(root)):
        return False
    if not (_is_size(index) and _is_size(size) and index < size):  # step 1
        return False
    fn, sn, r = index, size - 1, leaf_hash  # steps 2-3
    for p in path:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and hmac.compare_digest(r, root)  # step 5


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Check a consistency proof with the algorithm of RFC 9162 section 2.1.4.2.

    * ``size1 == size2``: true iff the proof is empty and ``root1 == root2`` (RFC 6962 2.1.2:
      PROOF(n, D[n]) is empty).
    * ``size1 == 0``: always ``False``. RFC 9162 2.1.4 defines consistency proofs only for
      ``0 < first``; "the empty tree is a prefix of every tree" needs no proof, and a caller
      holding an empty tree head should just accept the new head.

    Returns ``False`` (never raises) for any wrong or malformed input.
    """
    path = _proof_or_none(proof)
    if path is None or not (_is_hash(root1) and _is_hash(root2)):
        return False
    if not (_is_size(size1) and _is_size(size2) and 0 < size1 <= size2):
        return False
    if size1 == size2:
        return not path and hmac.compare_digest(root1, root2)
    if not path:  # step 1
        return False
    if size1 & (size1 - 1) == 0:  # step 2: first is an exact power of 2
        path = [root1, *path]
    fn, sn = size1 - 1, size2 - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    # step 7; compare both digests unconditionally so neither short-circuits the other.
    first_ok = hmac.compare_digest(fr, root1)
    second_ok = hmac.compare_digest(sr, root2)
    return first_ok and second_ok and sn == 0


def _mth(leaves: list[bytes]) -> bytes:
    # Pairing left to right and promoting an odd last node one level builds exactly the RFC 6962
    # shape (split at the largest power of two < n), without recursion.
    if not leaves:
        return EMPTY_ROOT
    level, sha256 = leaves, hashlib.sha256
    while len(level) > 1:
        # node_hash inlined: this loop is where all proof generation time goes.
        pairs = zip(level[::2], level[1::2], strict=False)  # an odd last node is left over
        nxt = [sha256(b"\x01" + a + b).digest() for a, b in pairs]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_hash(value: object) -> bool:
    # Exact type: a bytes subclass or bytearray could override comparison or mutate.
    return type(value) is bytes and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    # Exact type refuses bool (True == 1 would otherwise slip through) and int subclasses.
    return type(value) is int and 0 <= value <= _MAX_TREE_SIZE


def _proof_or_none(proof: object) -> list[bytes] | None:
    # Exact list/tuple: a subclass could override __len__ or __iter__ and raise.
    if not isinstance(proof, list | tuple) or type(proof) not in (list, tuple):
        return None
    if len(proof) > _MAX_PROOF_LEN or not all(_is_hash(p) for p in proof):
        return None
    return list(proof)


def _check_int(value: object, name: str) -> None:
    if type(value) is not int:
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")


def _checked_hashes(hashes: Sequence[bytes]) -> list[bytes]:
    checked = list(hashes)
    for h in checked:
        if not isinstance(h, bytes):
            raise TypeError(f"hashes must be bytes, not {type(h).__name__}")
        if len(h) != HASH_SIZE:
            raise ValueError(f"hashes must be {HASH_SIZE} bytes, got {len(h)}")
    return checked
