"""The ledger service: leaves for stored records, tree heads, proofs and signed checkpoints.

Records are logged *inside the transaction that stores them* (:func:`append` and the
``record_*`` helpers take the caller's connection), so a record never exists without its
leaf nor a leaf without its record. Tree heads and proofs are computed from stored
perfect-subtree nodes in O(log n) reads.

Checkpoints are signed with the ledger key, kept apart from the issuer's code-signing keys
(``<key_dir>/ledger``). The node refuses to sign a checkpoint that is not an extension of
its previous one, so it never publishes two inconsistent views of its history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, authorize
from itptrace.context import Context
from itptrace.errors import NotFound
from itptrace.keys.signing import b64url_decode_strict
from itptrace.keys.store import KeyInfo, KeyStore
from itptrace.ledger import log, sources, store
from itptrace.ledger.checkpoint import (
    Checkpoint,
    CheckpointError,
    sign_checkpoint,
    verifier_key,
    verify_with_any,
)
from itptrace.ledger.model import (
    LedgerEntry,
    LedgerError,
    LedgerForked,
    StoredCheckpoint,
    TreeHead,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row

append = log.append  # append(conn, kind, [(ref, leaf data), ...], at=now) -> [seq, ...]

KEY_FORMAT = "itptrace-ledger-key/1"
MAX_ENTRIES = 10_000


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def origin(ctx: Context) -> str:
    """The log's name on checkpoints, and its key name: ``itptrace.KE.KET01/ledger``."""
    return f"itptrace.{ctx.settings.country}.{ctx.settings.issuer_code}/ledger"


def record_issuance(conn: Connection, request_id: int, at: datetime) -> int:
    """Append the ``issuance`` leaf of a code request stored in this transaction."""
    data = sources.issuance_leaf(conn, str(request_id))
    if data is None:
        raise LedgerError(f"code request {request_id} is not stored", subject=str(request_id))
    return append(conn, sources.ISSUANCE, [(str(request_id), data)], at=at)[0]


def record_cancellation(conn: Connection, request_id: int, at: datetime) -> int:
    data = sources.cancellation_leaf(conn, str(request_id))
    if data is None:
        raise LedgerError(f"request {request_id} has no cancellation", subject=str(request_id))
    return append(conn, sources.CANCELLATION, [(str(request_id), data)], at=at)[0]


def record_deactivations(conn: Connection, uis: Sequence[str], at: datetime) -> list[int]:
    """One ``deactivation`` leaf per code, in the order given."""
    found = sources.deactivation_leaves(conn, uis)
    if len(found) != len(uis):
        raise LedgerError("a deactivation to log is not stored")
    return append(conn, sources.DEACTIVATION, found, at=at)


def tree_head(ctx: Context) -> TreeHead:
    """The current size and root, from the stored frontier (unsigned: see checkpoints)."""
    with ctx.db.transaction() as conn:
        size = store.head_size(conn)
        return TreeHead(size, log.root_at(conn, size))


def inclusion_proof(ctx: Context, seq: int, size: int) -> list[bytes]:
    """The audit path of leaf ``seq`` in the tree of ``size`` leaves; verify it against
    the root of a signed checkpoint of that same size."""
    with ctx.db.transaction() as conn:
        return log.inclusion_path(conn, seq, size)


def consistency_proof(ctx: Context, size1: int, size2: int) -> list[bytes]:
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2``."""
    with ctx.db.transaction() as conn:
        return log.consistency_path(conn, size1, size2)


def entry_of(row: Row[Any]) -> LedgerEntry:
    return LedgerEntry(row.seq, row.kind, row.ref, bytes(row.leaf_hash), _aware(row.appended_at))


def entries(ctx: Context, actor: Actor, start: int, end: int) -> list[LedgerEntry]:
    """Leaves ``start <= seq < end`` (at most 10,000 at a time): kinds and record refs."""
    authorize(actor, Permission.LEDGER_READ)
    if not 0 <= start <= end or end - start > MAX_ENTRIES:
        raise LedgerError(f"ask for 0 <= start <= end with at most {MAX_ENTRIES} entries")
    with ctx.db.transaction() as conn:
        return [entry_of(row) for row in store.leaves(conn, start, end)]


# --- keys ---


def ledger_keys(ctx: Context) -> KeyStore:
    """The ledger's own keyring, beside but apart from the issuer's code-signing keys."""
    return KeyStore(ctx.settings.key_dir / "ledger")


def ensure_ledger_key(ctx: Context, actor: Actor) -> KeyInfo:
    authorize(actor, Permission.LEDGER_CHECKPOINT)
    keys = ledger_keys(ctx)
    kid = keys.active_kid()
    if kid is not None:
        return next(k for k in keys.keys() if k.kid == kid)
    return keys.generate(ctx.clock.now())


def _raw(info: KeyInfo) -> bytes:
    raw = b64url_decode_strict(info.public_key)
    if raw is None or len(raw) != 32:
        raise LedgerError(f"ledger key {info.kid} has a malformed public key", subject=info.kid)
    return raw


def verifier_keys(ctx: Context) -> list[str]:
    """Every ledger key (active first, then retired) as a note verifier key."""
    infos = sorted(ledger_keys(ctx).keys(), key=lambda k: k.retired_at is not None)
    return [verifier_key(origin(ctx), _raw(info)) for info in infos]


def export_ledger_key(ctx: Context) -> dict[str, Any]:
    """The public material an auditor needs to check checkpoints offline. No secrets."""
    infos = ledger_keys(ctx).keys()
    if not infos:
        raise LedgerError("there is no ledger key yet: make a checkpoint first", code="no_key")
    name = origin(ctx)
    return {
        "format": KEY_FORMAT,
        "origin": name,
        "keys": [
            {
                "kid": k.kid,
                "alg": "Ed25519",
                "public_key": k.public_key,
                "vkey": verifier_key(name, _raw(k)),
                "status": k.status,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
            }
            for k in infos
        ],
    }


# --- checkpoints ---


def _stored(row: Row[Any]) -> StoredCheckpoint:
    return StoredCheckpoint(
        int(row.size), bytes(row.root_hash), row.note, _aware(row.created_at), row.created_by
    )


def _trusted(row: Row[Any], vkeys: list[str]) -> Checkpoint:
    """A stored checkpoint, believed only if its note verifies and matches its columns."""
    try:
        signed = verify_with_any(row.note, vkeys)
    except CheckpointError as exc:
        raise LedgerForked(f"stored checkpoint {row.size} does not verify: {exc.message}") from None
    if (signed.size, signed.root) != (int(row.size), bytes(row.root_hash)):
        raise LedgerForked(f"stored checkpoint {row.size} differs from its signed note")
    return signed


def make_checkpoint(ctx: Context, actor: Actor) -> StoredCheckpoint:
    """Sign and store a checkpoint of the current tree (or return the latest if unchanged).

    Raises LedgerForked, signing nothing, when the current tree does not extend the
    previous checkpoint.
    """
    authorize(actor, Permission.LEDGER_CHECKPOINT)
    info = ensure_ledger_key(ctx, actor)
    vkeys = verifier_keys(ctx)
    with ctx.db.transaction() as conn:
        size = store.advance_head(conn, 0)  # locks out appends until this commits
        current = Checkpoint(origin(ctx), size, log.root_at(conn, size))
        previous = store.latest_checkpoint(conn)
        if previous is not None:
            log.check_extends(conn, _trusted(previous, vkeys), current)
            if int(previous.size) == size:
                return _stored(previous)
        key = ledger_keys(ctx).private_key(info.kid)
        note = sign_checkpoint(current, origin(ctx), key)
        now = ctx.clock.now()
        store.insert_checkpoint(conn, size, current.root, note, now, actor.name)
    return StoredCheckpoint(size, current.root, note, now, actor.name)


def latest_checkpoint(ctx: Context) -> StoredCheckpoint | None:
    with ctx.db.transaction() as conn:
        row = store.latest_checkpoint(conn)
    return None if row is None else _stored(row)


def read_checkpoint(ctx: Context, actor: Actor) -> StoredCheckpoint:
    """The latest signed checkpoint, for a ledger reader; NotFound before the first one."""
    authorize(actor, Permission.LEDGER_READ)
    stored = latest_checkpoint(ctx)
    if stored is None:
        raise NotFound("the node has no checkpoint yet")
    return stored


def prove_consistency(ctx: Context, actor: Actor, size1: int, size2: int) -> list[bytes]:
    """Proof that the tree of ``size1`` leaves is a prefix of the tree of ``size2``."""
    authorize(actor, Permission.LEDGER_READ)
    if size1 > size2:
        raise LedgerError("from must not be larger than to", subject="from")
    return consistency_proof(ctx, size1, size2)
