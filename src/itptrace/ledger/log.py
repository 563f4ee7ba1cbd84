"""The Merkle log on a database connection: append, roots and proofs from stored nodes.

Everything here runs inside the caller's transaction and costs O(log n) node reads per
call (an append also writes about two nodes per leaf), never a pass over the leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from itptrace.ledger import store
from itptrace.ledger.checkpoint import Checkpoint
from itptrace.ledger.merkle import leaf_hash, verify_consistency
from itptrace.ledger.model import (
    LedgerError,
    LedgerForked,
    Node,
    NodeKey,
    extend_frontier,
    fold,
    range_keys,
)
from itptrace.ledger.ranges import (
    root_ranges,
    subtree_ranges_for_consistency,
    subtree_ranges_for_inclusion,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

Range = tuple[int, int]


def append(
    conn: Connection, kind: str, refs_and_data: Sequence[tuple[str, bytes]], *, at: datetime
) -> list[int]:
    """Append one leaf per ``(ref, leaf data)`` pair, in order; return their sequence numbers.

    Runs in the caller's transaction, so a record and its leaf commit or roll back together.
    Appends serialise on the ledger head row until that transaction ends: keep the append
    near the end of it. One executemany per table, whatever the number of leaves.
    """
    if not refs_and_data:
        return []
    first = store.advance_head(conn, len(refs_and_data))
    keys = frontier_keys(first)
    stored = store.get_nodes(conn, keys)
    missing = [key for key in keys if key not in stored]
    if missing:
        raise LedgerError(f"the ledger is missing frontier node(s) {missing}: run fsck")
    frontier: list[Node] = [(level, idx, stored[(level, idx)]) for level, idx in keys]
    hashes = [(ref, leaf_hash(data)) for ref, data in refs_and_data]
    created = extend_frontier(frontier, first, (digest for _, digest in hashes))
    store.insert_leaves(conn, first, kind, hashes, at)
    store.insert_nodes(conn, created)
    return list(range(first, first + len(hashes)))


def range_hashes(conn: Connection, ranges: Sequence[Range]) -> list[bytes]:
    """MTH of each RFC 6962 node range, from stored nodes read with one query."""
    per_range = [range_keys(s, e) for s, e in ranges]
    wanted = {key for keys in per_range for key in keys}
    stored = store.get_nodes(conn, wanted)
    missing = sorted(wanted - stored.keys())
    if missing:
        raise LedgerError(f"the ledger is missing node(s) {missing[:5]}: run fsck")
    return [fold(stored[key] for key in keys) for keys in per_range]


def _check_size(conn: Connection, size: int) -> None:
    current = store.head_size(conn)
    if not 0 <= size <= current:
        raise LedgerError(f"tree size {size} is outside 0..{current}", subject=str(size))


def root_at(conn: Connection, size: int) -> bytes:
    """The root of the first ``size`` leaves (any size up to the current one)."""
    _check_size(conn, size)
    return fold(range_hashes(conn, root_ranges(size)) if size else [])


def inclusion_path(conn: Connection, seq: int, size: int) -> list[bytes]:
    """PATH(seq, D[size]) of RFC 6962 section 2.1.1."""
    _check_size(conn, size)
    if not 0 <= seq < size:
        raise LedgerError(f"leaf {seq} is not in a tree of {size} leaves", subject=str(seq))
    return range_hashes(conn, subtree_ranges_for_inclusion(seq, size))


def consistency_path(conn: Connection, size1: int, size2: int) -> list[bytes]:
    """PROOF(size1, D[size2]) of RFC 6962 section 2.1.2 (defined for 0 < size1 <= size2)."""
    _check_size(conn, size2)
    if not 0 < size1 <= size2:
        raise LedgerError(f"no consistency proof from size {size1} to {size2}")
    return range_hashes(conn, subtree_ranges_for_consistency(size1, size2))


def frontier_keys(size: int) -> list[NodeKey]:
    """The nodes whose fold is the root of a tree of ``size`` leaves."""
    return [key for s, e in root_ranges(size) for key in range_keys(s, e)]


def check_extends(conn: Connection, old: Checkpoint, new: Checkpoint) -> None:
    """Refuse unless ``new`` extends ``old``, by a consistency proof from stored nodes."""
    if old.size > new.size:
        raise LedgerForked(f"the log shrank from {old.size} to {new.size} leaves")
    if old.size == new.size:
        consistent = old.root == new.root
    elif old.size == 0:
        consistent = True  # the empty tree is a prefix of every tree
    else:
        proof = consistency_path(conn, old.size, new.size)
        consistent = verify_consistency(old.size, new.size, old.root, new.root, proof)
    if not consistent:
        raise LedgerForked(
            f"the tree of {new.size} leaves is not an extension of the checkpoint of "
            f"{old.size} leaves: stored history was changed"
        )
