"""Proofs for people and auditors: a leaf with its audit path, and a full offline audit.

``audit`` trusts nothing the node stores: signatures are checked with verifier keys the
auditor brings, the node only supplies proofs, and the RFC 9162 verifiers decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from itptrace.access import Actor, Permission, authorize
from itptrace.context import Context
from itptrace.ledger import log, store
from itptrace.ledger.checkpoint import Checkpoint, verify_with_any
from itptrace.ledger.merkle import leaf_hash, verify_inclusion
from itptrace.ledger.model import LedgerEntry, LedgerError, LedgerForked
from itptrace.ledger.service import entry_of
from itptrace.ledger.sources import LeafSource

if TYPE_CHECKING:
    from sqlalchemy import Connection


def _leaf(conn: Connection, seq: int) -> LedgerEntry:
    rows = store.leaves(conn, seq, seq + 1)
    if not rows:
        raise LedgerError(f"leaf {seq} is missing from the ledger: run fsck", subject=str(seq))
    return entry_of(rows[0])


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    kind: str
    ref: str
    leaf_hash: bytes
    size: int
    path: list[bytes]
    checkpoint: str | None  # the signed note of that size, when there is one


def prove(ctx: Context, actor: Actor, seq: int, size: int | None = None) -> InclusionProof:
    """Leaf ``seq`` with its audit path in the latest checkpoint (or the tree of ``size``)."""
    authorize(actor, Permission.LEDGER_READ)
    with ctx.db.transaction() as conn:
        if size is None:
            latest = store.latest_checkpoint(conn)
            if latest is None or seq >= int(latest.size):
                raise LedgerError(
                    f"leaf {seq} is in no checkpoint yet: make a checkpoint first",
                    subject=str(seq),
                )
            size = int(latest.size)
        path = log.inclusion_path(conn, seq, size)
        entry = _leaf(conn, seq)
        signed = store.get_checkpoint(conn, size)
    note = None if signed is None else signed.note
    return InclusionProof(seq, entry.kind, entry.ref, entry.leaf_hash, size, path, note)


@dataclass(frozen=True)
class AuditResult:
    """What an audit checked: both checkpoints' signatures, the consistency proof between
    them (``consistency_hashes`` long; 0 when the sizes are equal or the old tree empty,
    which need none), and with a leaf, its record and its ``inclusion_hashes`` long path."""

    origin: str
    old_size: int
    size: int
    root: bytes
    leaf: LedgerEntry | None
    consistency_hashes: int = 0
    inclusion_hashes: int = 0


def audit(ctx: Context, old_note: str, vkeys: list[str], seq: int | None = None) -> AuditResult:
    """Check the node against an auditor's own material, trusting nothing it stores.

    The node's latest checkpoint and ``old_note`` (an earlier checkpoint the auditor kept)
    must both verify with ``vkeys`` (from an earlier ``export_ledger_key``), name the same
    log, and be consistent. With ``seq``, that leaf is recomputed from its record and its
    inclusion in the latest checkpoint verified. Raises a LedgerError with the reason.
    """
    with ctx.db.transaction() as conn:
        row = store.latest_checkpoint(conn)
        if row is None:
            raise LedgerError("the node has no checkpoint yet")
        new = verify_with_any(row.note, vkeys)
        old = verify_with_any(old_note, vkeys)
        if old.origin != new.origin:
            raise LedgerForked(f"the checkpoints name different logs: {old.origin}, {new.origin}")
        log.check_extends(conn, old, new)
        proved = 0 < old.size < new.size
        consistency = len(log.consistency_path(conn, old.size, new.size)) if proved else 0
        entry = None if seq is None else _audit_leaf(conn, seq, new, ctx.leaf_sources)
        inclusion = 0 if seq is None else len(log.inclusion_path(conn, seq, new.size))
    return AuditResult(new.origin, old.size, new.size, new.root, entry, consistency, inclusion)


def _audit_leaf(
    conn: Connection, seq: int, head: Checkpoint, leaf_sources: Mapping[str, LeafSource]
) -> LedgerEntry:
    if not 0 <= seq < head.size:
        raise LedgerError(f"leaf {seq} is not in the checkpoint of {head.size} leaves")
    entry = _leaf(conn, seq)
    source = leaf_sources.get(entry.kind)
    data = None if source is None else source(conn, entry.ref)
    if data is None or leaf_hash(data) != entry.leaf_hash:
        raise LedgerForked(f"leaf {seq} ({entry.kind} {entry.ref}) differs from its record")
    path = log.inclusion_path(conn, seq, head.size)
    if not verify_inclusion(leaf_hash(data), seq, head.size, path, head.root):
        raise LedgerForked(f"leaf {seq} is not included in the checkpoint of {head.size}")
    return entry
