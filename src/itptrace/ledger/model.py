"""The ledger's pure parts: errors, records, who may do what, and frontier arithmetic.

The log stores the hash of every complete aligned perfect subtree, a *node* ``(level, idx)``
covering leaves ``[idx * 2**level, (idx + 1) * 2**level)``. The *frontier* of a tree of
``n`` leaves is the list of nodes of :func:`itptrace.ledger.ranges.root_ranges` (n): one
per set bit of ``n``, largest first, at most log2(n) + 1 of them. Folding their hashes
gives the root, and appending a leaf only ever merges nodes at the right end of it, so an
append reads the frontier once and writes the new nodes, never touching older ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from itptrace.errors import DomainError
from itptrace.ledger.merkle import node_hash, root_from_perfect_subtrees
from itptrace.ledger.ranges import perfect_subtrees

NodeKey = tuple[int, int]
Node = tuple[int, int, bytes]  # level, idx, hash


class LedgerError(DomainError):
    """The ledger cannot do this: a size or index out of range, a missing node or key."""

    code = "ledger"


class LedgerForked(LedgerError):
    """A new tree head is not an extension of an earlier signed one: history was changed."""

    code = "ledger_fork"


class TreeHead(NamedTuple):
    """An unsigned tree head; published ones come from signed checkpoints."""

    size: int
    root: bytes


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    kind: str
    ref: str
    leaf_hash: bytes
    appended_at: datetime


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    note: str
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class FsckProblem:
    """One disagreement: ``seq`` is None for problems of the tree rather than of a leaf."""

    seq: int | None
    kind: str
    ref: str
    problem: str

    def __str__(self) -> str:
        if self.seq is None:
            return f"{self.ref}: {self.problem}"
        record = f" ({self.kind} {self.ref})" if self.kind else ""
        return f"leaf {self.seq}{record}: {self.problem}"


@dataclass
class FsckReport:
    size: int
    leaves_checked: int = 0
    nodes_checked: int = 0
    checkpoints_checked: int = 0
    records_checked: int = 0  # stored records looked up for their leaf
    problems: list[FsckProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def node_key(start: int, end: int) -> NodeKey:
    """The node of a perfect aligned block ``[start, end)``."""
    level = (end - start).bit_length() - 1
    return level, start >> level


def range_keys(start: int, end: int) -> list[NodeKey]:
    """The stored nodes whose fold is MTH(D[start:end]) for an RFC 6962 tree node range."""
    return [node_key(s, e) for s, e in perfect_subtrees(start, end)]


def fold(hashes: Iterable[bytes]) -> bytes:
    return root_from_perfect_subtrees(list(hashes))


def extend_frontier(frontier: list[Node], size: int, leaf_hashes: Iterable[bytes]) -> list[Node]:
    """Append leaves to a tree of ``size`` leaves whose frontier is ``frontier`` (updated in
    place); return every node completed on the way, level 0 nodes included, in order."""
    created: list[Node] = []
    index = size
    for digest in leaf_hashes:
        node: Node = (0, index, digest)
        created.append(node)
        # Two nodes of equal level at the end are siblings: merge them into their parent.
        while frontier and frontier[-1][0] == node[0]:
            left = frontier.pop()
            node = (node[0] + 1, left[1] >> 1, node_hash(left[2], node[2]))
            created.append(node)
        frontier.append(node)
        index += 1
    return created
