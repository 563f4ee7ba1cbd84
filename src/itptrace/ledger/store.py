"""SQL for the ledger: leaves, perfect-subtree nodes, checkpoints and the head lock.

A node ``(level, idx)`` is the hash of leaves ``[idx * 2**level, (idx + 1) * 2**level)``,
stored once that subtree is complete; level 0 nodes are the leaf hashes themselves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Row,
    Select,
    String,
    Update,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from itptrace.repository.bulk import insert_rows
from itptrace.repository.schema import (
    ledger_checkpoints,
    ledger_head,
    ledger_leaves,
    ledger_nodes,
)

NodeKey = tuple[int, int]

# Keeps each statement's parameter list short (SQLite allows 32,766 parameters).
_CHUNK = 400


class HeadMissing(RuntimeError):
    """The one-row ledger_head table is empty: the database was not migrated."""


def advance_head(conn: Connection, added: int) -> int:
    """Lock the head row, add ``added`` to the size and return the size *before*.

    The UPDATE takes the row lock on PostgreSQL (as ``SELECT ... FOR UPDATE`` would) and
    the database write lock on SQLite, so appends and checkpoints serialise here until the
    caller's transaction ends. ``added=0`` only locks.
    """
    new_size = conn.execute(_advance_head(), {"added": added}).scalar()
    if new_size is None:
        raise HeadMissing("the ledger_head row is missing: run the migrations")
    return int(new_size) - added


@functools.lru_cache(maxsize=1)
def _advance_head() -> Update:
    """Built once (an immutable statement): every append runs it."""
    return (
        update(ledger_head)
        .where(ledger_head.c.id == 1)
        .values(size=ledger_head.c.size + bindparam("added"))
        .returning(ledger_head.c.size)
    )


def head_size(conn: Connection) -> int:
    size = conn.execute(select(ledger_head.c.size).where(ledger_head.c.id == 1)).scalar()
    if size is None:
        raise HeadMissing("the ledger_head row is missing: run the migrations")
    return int(size)


def get_nodes(conn: Connection, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    """The stored hashes of the given nodes (missing ones are simply absent)."""
    wanted = sorted(set(keys))
    found: dict[NodeKey, bytes] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        statement = _nodes_statement(len(chunk))
        for level, idx, digest in conn.execute(statement, _node_params(chunk)):
            found[(int(level), int(idx))] = bytes(digest)
    return found


def nodes_query(keys: Sequence[NodeKey]) -> Select[Any]:
    """Nodes by key as an OR of (level, idx) pairs: SQLite searches the primary key for each
    pair, whereas a row-value ``IN`` list makes it scan the whole table (at ten million
    packs that scan, on every append, halved the capture rate)."""
    return _nodes_statement(len(keys)).params(_node_params(keys))


def _node_params(keys: Sequence[NodeKey]) -> dict[str, int]:
    params: dict[str, int] = {}
    for n, (level, idx) in enumerate(keys):
        params[f"l{n}"], params[f"i{n}"] = level, idx
    return params


@functools.lru_cache(maxsize=_CHUNK)
def _nodes_statement(count: int) -> Select[Any]:
    """The statement of :func:`nodes_query` for ``count`` keys, bound as ``l<n>``/``i<n>``:
    built once per count, as every append reads its frontier (an immutable statement, so
    sharing it between nodes and threads is safe)."""
    condition = or_(
        *(
            and_(
                ledger_nodes.c.level == bindparam(f"l{n}"), ledger_nodes.c.idx == bindparam(f"i{n}")
            )
            for n in range(count)
        )
    )
    return select(ledger_nodes.c.level, ledger_nodes.c.idx, ledger_nodes.c.hash).where(condition)


def nodes_in_range(conn: Connection, level: int, first: int, last: int) -> dict[int, bytes]:
    """Nodes of one level with ``first <= idx <= last`` (fsck reads the tree this way)."""
    query = select(ledger_nodes.c.idx, ledger_nodes.c.hash).where(
        ledger_nodes.c.level == level, ledger_nodes.c.idx.between(first, last)
    )
    return {int(idx): bytes(digest) for idx, digest in conn.execute(query)}


def count_nodes(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(ledger_nodes)).scalar_one())


def insert_leaves(
    conn: Connection,
    first_seq: int,
    kind: str,
    refs_and_hashes: Sequence[tuple[str, bytes]],
    at: datetime,
) -> None:
    rows = [
        (first_seq + i, kind, ref, digest, at) for i, (ref, digest) in enumerate(refs_and_hashes)
    ]
    insert_rows(conn, ledger_leaves, ("seq", "kind", "ref", "leaf_hash", "appended_at"), rows)


def insert_nodes(conn: Connection, nodes: Sequence[tuple[int, int, bytes]]) -> None:
    insert_rows(conn, ledger_nodes, ("level", "idx", "hash"), nodes)


def leaves(conn: Connection, start: int, end: int) -> list[Row[Any]]:
    """Leaf rows with ``start <= seq < end``, in order."""
    query = (
        select(ledger_leaves)
        .where(ledger_leaves.c.seq >= start, ledger_leaves.c.seq < end)
        .order_by(ledger_leaves.c.seq)
    )
    return list(conn.execute(query))


def iter_leaves(conn: Connection, end: int, batch: int = 1000) -> Iterator[Row[Any]]:
    """Every leaf row with ``seq < end`` in order, read in batches by seq range."""
    for start in range(0, end, batch):
        yield from leaves(conn, start, min(start + batch, end))


def count_leaves_below(conn: Connection, end: int) -> int:
    query = select(func.count()).select_from(ledger_leaves).where(ledger_leaves.c.seq < end)
    return int(conn.execute(query).scalar_one())


def latest_checkpoint(conn: Connection) -> Row[Any] | None:
    query = select(ledger_checkpoints).order_by(ledger_checkpoints.c.size.desc()).limit(1)
    return conn.execute(query).first()


def get_checkpoint(conn: Connection, size: int) -> Row[Any] | None:
    query = select(ledger_checkpoints).where(ledger_checkpoints.c.size == size)
    return conn.execute(query).first()


def all_checkpoints(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(ledger_checkpoints).order_by(ledger_checkpoints.c.size)))


def insert_checkpoint(
    conn: Connection, size: int, root: bytes, note: str, at: datetime, by: str
) -> None:
    conn.execute(
        insert(ledger_checkpoints).values(
            size=size, root_hash=root, note=note, created_at=at, created_by=by
        )
    )


def records_without_leaves(conn: Connection, kind: str, key: Column[Any]) -> list[str]:
    """Keys (as text, in key order) of the records of ``key``'s table with no leaf of
    ``kind``; the leaf index on (kind, ref) answers each."""
    ref = cast(key, String)
    leaf = ledger_leaves.c
    logged = exists().where(leaf.kind == kind, leaf.ref == ref)
    return [str(text) for text in conn.execute(select(ref).where(~logged).order_by(key)).scalars()]


def first_records_without_leaves(
    conn: Connection, kind: str, key: Column[Any], order: Sequence[Column[Any]], limit: int
) -> list[str]:
    """Keys (as text) of at most ``limit`` records of ``key``'s table with no leaf of
    ``kind``, the first in ``order`` (then key order)."""
    ref = cast(key, String)
    leaf = ledger_leaves.c
    logged = exists().where(leaf.kind == kind, leaf.ref == ref)
    query = select(ref).where(~logged).order_by(*order, key).limit(limit)
    return [str(text) for text in conn.execute(query).scalars()]


def count_records(conn: Connection, key: Column[Any]) -> int:
    return int(conn.execute(select(func.count()).select_from(key.table)).scalar_one())


def repeated_leaves(conn: Connection) -> list[tuple[str, str, list[int]]]:
    """(kind, ref, seqs) of every record with more than one leaf."""
    leaf = ledger_leaves.c
    twice = select(leaf.kind, leaf.ref).group_by(leaf.kind, leaf.ref).having(func.count() > 1)
    found = []
    for kind, ref in conn.execute(twice).all():
        seqs = conn.execute(
            select(leaf.seq).where(leaf.kind == kind, leaf.ref == ref).order_by(leaf.seq)
        ).scalars()
        found.append((str(kind), str(ref), [int(s) for s in seqs]))
    return found
