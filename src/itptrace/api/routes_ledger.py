"""The tamper-evident ledger over HTTP: signed checkpoints, proofs and entries.

Auditors and authorities read; making a checkpoint is a node operation. Proofs carry only
hashes; entries name the kind and reference of each record, so they need the reader role
too. The ledger's public key is public: anyone may check a checkpoint with it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from itptrace.access import Actor
from itptrace.api.deps import Node, caller
from itptrace.ledger import audit as ledger_audit
from itptrace.ledger import service as ledger
from itptrace.ledger.model import LedgerError, StoredCheckpoint

router = APIRouter(prefix="/ledger", tags=["ledger"])
Reader, Operator = caller("ledger.read"), caller("ledger.checkpoint")
Size = Annotated[int, Query(ge=0, le=2**53)]


class CheckpointOut(BaseModel):
    size: int
    root_hash: str
    note: str


class InclusionOut(BaseModel):
    seq: int
    size: int
    kind: str
    ref: str
    leaf_hash: str
    path: list[str]
    checkpoint: str | None


class ConsistencyOut(BaseModel):
    size1: int
    size2: int
    path: list[str]


class EntryOut(BaseModel):
    seq: int
    kind: str
    ref: str
    leaf_hash: str
    appended_at: str


def _checkpoint_out(stored: StoredCheckpoint) -> CheckpointOut:
    return CheckpointOut(size=stored.size, root_hash=stored.root.hex(), note=stored.note)


@router.get("/checkpoint", response_model=CheckpointOut)
def latest_checkpoint(ctx: Node, actor: Annotated[Actor, Reader]) -> CheckpointOut:
    """The latest signed checkpoint (C2SP tlog-checkpoint note)."""
    return _checkpoint_out(ledger.read_latest_checkpoint(ctx, actor))


@router.post("/checkpoint", response_model=CheckpointOut, status_code=201)
def new_checkpoint(ctx: Node, actor: Annotated[Actor, Operator]) -> CheckpointOut:
    """Sign a checkpoint of the current tree (refused if inconsistent with the previous)."""
    return _checkpoint_out(ledger.make_checkpoint(ctx, actor))


@router.get("/proof/inclusion", response_model=InclusionOut)
def inclusion(
    ctx: Node, actor: Annotated[Actor, Reader], seq: Size, size: Size | None = None
) -> InclusionOut:
    """The audit path of leaf ``seq`` in the tree of ``size`` (default: latest checkpoint)."""
    proof = ledger_audit.prove(ctx, actor, seq, size)
    return InclusionOut(
        seq=proof.seq,
        size=proof.size,
        kind=proof.kind,
        ref=proof.ref,
        leaf_hash=proof.leaf_hash.hex(),
        path=[h.hex() for h in proof.path],
        checkpoint=proof.checkpoint,
    )


@router.get("/proof/consistency", response_model=ConsistencyOut)
def consistency(
    ctx: Node,
    actor: Annotated[Actor, Reader],
    size1: Annotated[int, Query(alias="from", ge=1, le=2**53)],
    size2: Annotated[int, Query(alias="to", ge=1, le=2**53)],
) -> ConsistencyOut:
    """Proof that the tree of ``from`` leaves is a prefix of the tree of ``to`` leaves."""
    if size1 > size2:
        raise LedgerError("from must not be larger than to", subject="from")
    path = ledger.consistency_proof(ctx, size1, size2)
    return ConsistencyOut(size1=size1, size2=size2, path=[h.hex() for h in path])


@router.get("/entries", response_model=list[EntryOut])
def entries(ctx: Node, actor: Annotated[Actor, Reader], start: Size, end: Size) -> list[EntryOut]:
    """Leaves ``start <= seq < end`` (at most 10,000)."""
    return [
        EntryOut(
            seq=e.seq,
            kind=e.kind,
            ref=e.ref,
            leaf_hash=e.leaf_hash.hex(),
            appended_at=e.appended_at.isoformat(),
        )
        for e in ledger.entries(ctx, actor, start, end)
    ]


@router.get("/key")
def ledger_key(ctx: Node) -> dict[str, Any]:
    """The ledger's public verification key(s); needs no token."""
    return ledger.export_ledger_key(ctx)
