"""``fsck``: recompute the whole ledger from the stored records and report every disagreement.

Three independent views must agree, and every difference is reported, not only the first:

1. each leaf hash recomputed from its *record* (through the kind's leaf source) against
   the leaf hash stored in ``ledger_leaves``;
2. the perfect-subtree nodes rebuilt from the stored leaf hashes against ``ledger_nodes``
   (what proofs are made of);
3. the root rebuilt from the recomputed leaves against the root of the stored nodes and
   against every signed checkpoint, whose signatures are checked too;
4. every stored record of a ledgered kind (events, issuances, cancellations,
   deactivations, scans, alerts and their status changes, audit records) against the
   leaves: a record with no leaf (inserted behind the node's back) or with two is
   reported, as is a leaf whose record is missing (view 1).

The check reads the leaves once, in seq order, in batches, holding only the O(log n)
frontiers in memory; nodes are compared batch by batch with range queries per level.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import groupby
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, authorize
from itptrace.context import Context
from itptrace.ledger import log, records, sources, store
from itptrace.ledger.checkpoint import CheckpointError, verify_with_any
from itptrace.ledger.merkle import leaf_hash
from itptrace.ledger.model import (
    FsckProblem,
    FsckReport,
    LedgerError,
    Node,
    extend_frontier,
    fold,
)
from itptrace.ledger.service import verifier_keys

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection, Row

NODE_BATCH = 4096


def record_keys() -> Mapping[str, Column[Any]]:
    """Where the records of every kind the node ledgers are kept (kind -> key column)."""
    return {**sources.ISSUER_KEYS, **records.RECORD_KEYS}


def _check_records(conn: Connection, keys: Mapping[str, Column[Any]], report: FsckReport) -> None:
    """Report every record of ``keys`` with no leaf, and every record with several."""
    for kind, key in keys.items():
        report.records_checked += store.count_records(conn, key)
        for ref in store.records_without_leaves(conn, kind, key):
            where = f"{kind} {ref} ({key.table.name}.{key.name})"
            report.problems.append(FsckProblem(None, kind, where, "the record has no leaf"))
    for kind, ref, seqs in store.repeated_leaves(conn):
        listed = ", ".join(str(seq) for seq in seqs)
        report.problems.append(
            FsckProblem(
                None, kind, f"{kind} {ref}", f"the record has {len(seqs)} leaves ({listed})"
            )
        )


def _check_nodes(conn: Connection, pending: list[Node], report: FsckReport) -> None:
    """Compare rebuilt nodes with the stored ones, one range query per level."""
    for level, group in groupby(sorted(pending), key=lambda node: node[0]):
        nodes = list(group)
        stored = store.nodes_in_range(conn, level, nodes[0][1], nodes[-1][1])
        for _, idx, digest in nodes:
            found = stored.get(idx)
            if found != digest:
                what = "is missing" if found is None else "differs from the stored leaf hashes"
                report.problems.append(
                    FsckProblem(None, "node", f"node (level {level}, idx {idx})", f"node {what}")
                )
        report.nodes_checked += len(nodes)


def _check_leaf(
    conn: Connection, row: Row[Any], chosen: Mapping[str, sources.LeafSource], report: FsckReport
) -> bytes:
    """The recomputed leaf hash of ``row`` (the stored one when it cannot be recomputed)."""
    stored = bytes(row.leaf_hash)
    source = chosen.get(row.kind)
    problem = None
    if source is None:
        problem = f"no fsck source for kind {row.kind!r}"
        recomputed = stored
    else:
        data = source(conn, row.ref)
        if data is None:
            problem = "its record is missing"
            recomputed = stored
        else:
            recomputed = leaf_hash(data)
            if recomputed != stored:
                problem = (
                    f"its record differs from the logged leaf (stored {stored.hex()[:16]}…, "
                    f"recomputed {recomputed.hex()[:16]}…)"
                )
    if problem is not None:
        report.problems.append(FsckProblem(row.seq, row.kind, row.ref, problem))
    report.leaves_checked += 1
    return recomputed


def _check_checkpoint(
    row: Row[Any], recomputed_root: bytes, vkeys: list[str], report: FsckReport
) -> None:
    where = f"checkpoint of {row.size} leaves"
    problems = []
    try:
        signed = verify_with_any(row.note, vkeys)
        if (signed.size, signed.root) != (int(row.size), bytes(row.root_hash)):
            problems.append("its stored size or root differs from its signed note")
        if signed.root != recomputed_root:
            problems.append("its signed root differs from the root recomputed from records")
    except CheckpointError as exc:
        problems.append(f"its note does not verify: {exc.message}")
    report.problems.extend(FsckProblem(None, "checkpoint", where, p) for p in problems)
    report.checkpoints_checked += 1


def fsck(
    ctx: Context,
    actor: Actor,
    leaf_sources: Mapping[str, sources.LeafSource] | None = None,
    keys: Mapping[str, Column[Any]] | None = None,
) -> FsckReport:
    """Check the whole ledger against the records; see the module docstring.

    ``leaf_sources`` defaults to the node's sources (``ctx.leaf_sources``), ``keys`` (where
    the records of each kind are kept) to :func:`record_keys`.
    """
    authorize(actor, Permission.LEDGER_CHECK)
    chosen = ctx.leaf_sources if leaf_sources is None else leaf_sources
    vkeys = verifier_keys(ctx)
    with ctx.db.transaction() as conn:
        # Leaves appended while this runs lie beyond ``size`` and are left for the next run.
        size = store.head_size(conn)
        report = FsckReport(size)
        checkpoints = {int(row.size): row for row in store.all_checkpoints(conn)}
        for extra in sorted(s for s in checkpoints if s > size):
            report.problems.append(
                FsckProblem(None, "checkpoint", f"checkpoint of {extra} leaves", "beyond the log")
            )
        _check_records(conn, record_keys() if keys is None else keys, report)
        stored_frontier: list[Node] = []
        recomputed_frontier: list[Node] = []
        pending: list[Node] = []
        if 0 in checkpoints:
            _check_checkpoint(checkpoints[0], fold([]), vkeys, report)
        for expected, row in enumerate(store.iter_leaves(conn, size)):
            if row.seq != expected:
                report.problems.append(
                    FsckProblem(expected, "", "", f"leaves {expected}..{row.seq - 1} are missing")
                )
                return report  # the tree cannot be rebuilt past a gap
            recomputed = _check_leaf(conn, row, chosen, report)
            pending += extend_frontier(stored_frontier, expected, [bytes(row.leaf_hash)])
            extend_frontier(recomputed_frontier, expected, [recomputed])
            if expected + 1 in checkpoints:
                root = fold(h for _, _, h in recomputed_frontier)
                _check_checkpoint(checkpoints[expected + 1], root, vkeys, report)
            if len(pending) >= NODE_BATCH:
                _check_nodes(conn, pending, report)
                pending = []
        _check_nodes(conn, pending, report)
        if report.leaves_checked != size:
            report.problems.append(
                FsckProblem(report.leaves_checked, "", "", f"the head says {size} leaves")
            )
            return report
        recomputed_root = fold(h for _, _, h in recomputed_frontier)
        try:
            stored_root = log.root_at(conn, size)
        except LedgerError as exc:
            report.problems.append(FsckProblem(None, "root", "tree head", exc.message))
            return report
        if stored_root != recomputed_root:
            report.problems.append(
                FsckProblem(
                    None,
                    "root",
                    "tree head",
                    "the root of the stored nodes differs from the root recomputed from records",
                )
            )
    return report
