"""Auditing a node from the outside, over HTTP, trusting only what can be verified.

The auditor holds the node's ledger key (exported earlier) and an older checkpoint. It
fetches the node's latest checkpoint and the proofs, and checks every signature and
proof itself with the RFC 9162 verifiers: a node that rewrote history cannot pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from itptrace.ledger.checkpoint import verify_with_any
from itptrace.ledger.merkle import verify_consistency, verify_inclusion
from itptrace.ledger.model import LedgerError, LedgerForked


@dataclass(frozen=True)
class RemoteAudit:
    origin: str
    old_size: int
    size: int
    leaf: int | None
    consistency_hashes: int = 0  # 0: no proof was needed (equal sizes, or an empty old tree)
    inclusion_hashes: int = 0


def _get(
    client: httpx.Client, path: str, params: dict[str, int] | None = None
) -> dict[str, object]:
    response = client.get(path, params=params)
    if response.status_code != 200:
        raise LedgerError(
            f"the node answered {response.status_code} for {path}: {response.text[:200]}"
        )
    data: dict[str, object] = response.json()
    return data


def audit_remote(
    client: httpx.Client, old_note: str, vkeys: list[str], seq: int | None = None
) -> RemoteAudit:
    """Verify the node's latest checkpoint extends ``old_note``, and that leaf ``seq`` is in it."""
    latest = _get(client, "/ledger/checkpoint")
    new = verify_with_any(str(latest["note"]), vkeys)
    old = verify_with_any(old_note, vkeys)
    if old.origin != new.origin:
        raise LedgerForked(f"the checkpoints name different logs: {old.origin}, {new.origin}")
    if new.size < old.size:
        raise LedgerForked(f"the log shrank from {old.size} to {new.size} leaves")
    consistency = inclusion = 0
    if old.size and new.size > old.size:
        proof = _get(client, "/ledger/proof/consistency", {"from": old.size, "to": new.size})
        path = [bytes.fromhex(str(h)) for h in proof["path"]]  # type: ignore[attr-defined]
        if not verify_consistency(old.size, new.size, old.root, new.root, path):
            raise LedgerForked(
                f"the checkpoint of {new.size} does not extend the one of {old.size}"
            )
        consistency = len(path)
    elif new.size == old.size and new.root != old.root:
        raise LedgerForked(f"two different roots for the same size {new.size}")
    if seq is not None:
        proof = _get(client, "/ledger/proof/inclusion", {"seq": seq, "size": new.size})
        path = [bytes.fromhex(str(h)) for h in proof["path"]]  # type: ignore[attr-defined]
        leaf = bytes.fromhex(str(proof["leaf_hash"]))
        if not verify_inclusion(leaf, seq, new.size, path, new.root):
            raise LedgerForked(f"leaf {seq} is not included in the checkpoint of {new.size}")
        inclusion = len(path)
    return RemoteAudit(new.origin, old.size, new.size, seq, consistency, inclusion)
