"""Leaves for the scans, alerts and alert status changes a node stored before it ledgered them.

Scans, alerts and their status changes became ledger leaves in issue #12; a node upgraded
from before holds such records without a leaf, and ``ledger fsck`` reports each one. A
migration cannot append leaves (it imports no ledger), so :func:`adopt_unledgered` does it
once, after the upgrade: it appends a leaf, in record order (scans, then alerts, then
status changes), for every such record lacking one, and leaves an audit record saying how
many it adopted. Running it again adopts nothing. Appending commits the node to a history,
so it takes the right to sign checkpoints, the node's own operation.

Adopting also hides a row inserted behind the node's back among the upgraded ones: run
``ledger fsck`` first and read what it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from itptrace.access import Actor, Permission, authorize
from itptrace.auth import audit
from itptrace.context import Context
from itptrace.errors import DomainError
from itptrace.ledger import records

OPERATION = "ledger.adopt"
PERMISSION = Permission.LEDGER_CHECKPOINT
# Records adopted per transaction: each commits on its own, so a long adoption holds the
# ledger head only briefly at a time and an interrupted one resumes where it stopped.
BATCH = 1000


@dataclass
class Adopted:
    """How many records of each kind got their leaf."""

    counts: dict[str, int] = field(
        default_factory=lambda: {kind: 0 for kind, *_ in records.ADOPTED}
    )

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def adopt_unledgered(ctx: Context, actor: Actor, batch: int = BATCH) -> Adopted:
    """Append the missing leaves of scans, alerts and alert status changes (module docstring)."""
    adopted = Adopted()
    try:
        authorize(actor, PERMISSION)
        while True:
            with ctx.db.transaction() as conn:
                done = records.adopt_batch(conn, ctx.clock.now(), batch)
            if done is None:
                break
            kind, count = done
            adopted.counts[kind] += count
    except DomainError as failure:
        audit.record(ctx, audit.entry_for(actor, OPERATION, adopted.counts, failure=failure))
        raise
    audit.record(ctx, audit.entry_for(actor, OPERATION, adopted.counts, count=adopted.total))
    return adopted
