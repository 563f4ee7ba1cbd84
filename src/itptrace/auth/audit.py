"""The audit trail: one append-only record per read of pack-level data or refused request.

The service layer writes it, whatever the door: a service reading pack-level data runs
inside :func:`reading`, which checks the caller's right in the permission table (and the
node's purpose requirement), gives the service its transaction, and writes the audit record
as soon as the read's transaction ends and before the service returns, so a caller never
holds an answer whose record is missing. Records of concurrent requests are committed
together (group commit), each durable before its request's answer. A refusal or failure is
recorded the same way (the read's transaction was rolled back).
Each record is also a leaf of the tamper-evident ledger, written with it, so an auditor can
prove later that the trail was not edited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from itptrace.access import PERMISSIONS, Actor, Permission, authorize
from itptrace.auth import store
from itptrace.auth.model import AuditEntry, AuditRow, Unauthenticated
from itptrace.context import Context
from itptrace.errors import DomainError, Forbidden, NotFound
from itptrace.ledger import records as ledger
from itptrace.repository.group_commit import Together

if TYPE_CHECKING:
    from sqlalchemy import Connection


def _values(entry: AuditEntry, now: datetime) -> dict[str, Any]:
    actor = entry.actor
    return {
        "at": now.astimezone(UTC),
        "user_name": actor.name if actor else None,
        "role": actor.role.value if actor else None,
        "operator_id": actor.operator_id if actor else None,
        "purpose": (entry.purpose or "")[:200] or None,
        "method": entry.method[:10],
        "endpoint": entry.endpoint[:200],
        # Values are shortened, never the JSON text, so the stored params stay valid JSON.
        "params": json.dumps(
            {str(k)[:100]: str(v)[:300] for k, v in list(entry.params.items())[:20]},
            sort_keys=True,
        ),
        "result_count": entry.result_count,
        "outcome": entry.outcome,
        "status": entry.status,
    }


def insert(conn: Connection, entry: AuditEntry, now: datetime) -> int:
    """Store one audit record and its ledger leaf in the caller's transaction."""
    return insert_many(conn, [(entry, now)])[0]


def insert_many(conn: Connection, entries: Sequence[tuple[AuditEntry, datetime]]) -> list[int]:
    """Store audit records and their ledger leaves in the caller's transaction, with one
    statement per table whatever their number; their sequence numbers, in order."""
    rows = [_values(entry, now) for entry, now in entries]
    seqs = store.insert_audits(conn, rows)
    for row, seq in zip(rows, seqs, strict=True):
        row["seq"] = seq
    # Each leaf is made from the values just stored (no read back): the same bytes fsck
    # recomputes from the stored row, since ``at`` is in UTC and the rest is text or int.
    ledger.record_audits(conn, rows, max(now for _, now in entries))
    return seqs


def record(ctx: Context, entry: AuditEntry) -> int:
    """Store one audit record (and its ledger leaf), durable when this returns.

    Records of concurrent requests share one commit (``repository.group_commit``) and one
    insert per table (``insert_many``).
    """
    seq: int = ctx.group_commit.run(Together(insert_many, (entry, ctx.clock.now())))
    return seq


@dataclass
class Read:
    """What an audited read tells its record: the transaction it reads in, what it found."""

    conn: Connection
    count: int = 0
    params: dict[str, Any] = field(default_factory=dict)


def _status(exc: DomainError) -> tuple[str, int]:
    if isinstance(exc, Unauthenticated):
        return "denied", 401
    if isinstance(exc, Forbidden):
        return "denied", 403
    if isinstance(exc, NotFound):
        return "error", 404
    return "error", 400


def entry_for(
    actor: Actor | None,
    operation: str,
    params: Mapping[str, Any],
    *,
    count: int = 0,
    failure: DomainError | None = None,
) -> AuditEntry:
    """The record of one operation by ``actor`` through its door."""
    outcome, status = ("ok", 200) if failure is None else _status(failure)
    details = {k: v for k, v in params.items() if v is not None}
    if actor is not None and actor.case_ref:
        details["case"] = actor.case_ref
    if failure is not None:
        details["refusal"] = failure.code
    return AuditEntry(
        actor=actor,
        purpose=actor.purpose if actor else None,
        method=actor.door.value.upper() if actor else "API",
        endpoint=operation,
        params=details,
        result_count=count if failure is None else 0,
        outcome=outcome,
        status=status,
    )


def refusal(ctx: Context, actor: Actor | None, operation: str, failure: DomainError) -> None:
    """Record a refused request (its own transaction): who, what, and the refusal's code."""
    record(ctx, entry_for(actor, operation, {}, failure=failure))


@contextmanager
def reading(
    ctx: Context,
    actor: Actor,
    permission: Permission,
    *,
    subject: str | None = None,
    operator_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    writes: bool = False,
) -> Iterator[Read]:
    """Authorise ``permission`` and run the read it guards, audited (module docstring).

    Permissions not marked ``audited`` in the table are only authorised. ``writes``: the
    guarded work also writes, so it runs in a write transaction.
    """
    details = {"subject": subject, **(details or {})}
    audited = PERMISSIONS[permission].audited
    try:
        authorize(
            actor,
            permission,
            operator_id=operator_id,
            purpose_required=ctx.settings.require_purpose,
        )
        with ctx.db.transaction() if writes else ctx.db.reading() as conn:
            read = Read(conn, params=dict(details))
            yield read
        # The record is written after the read's transaction ends, never by upgrading it to
        # a write (SQLite refuses that at once when another writer went first), and is
        # durable before the service returns: no answer leaves without its record.
        if audited:
            record(ctx, entry_for(actor, permission.value, read.params, count=read.count))
    except DomainError as failure:
        if audited or isinstance(failure, Forbidden):
            record(ctx, entry_for(actor, permission.value, details, failure=failure))
        raise


def list_audit(
    ctx: Context,
    actor: Actor,
    *,
    user: str | None = None,
    endpoint: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    after: int = 0,
) -> list[AuditRow]:
    authorize(actor, Permission.AUDIT_READ)
    filters = {"user": user, "endpoint": endpoint, "since": since, "until": until}
    with ctx.db.transaction() as conn:
        rows = store.audit_rows(conn, filters, min(max(limit, 1), 1000), after)
    return [
        AuditRow(
            int(r.seq),
            r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
            r.user_name,
            r.role,
            r.operator_id,
            r.purpose,
            r.method,
            r.endpoint,
            json.loads(r.params),
            int(r.result_count),
            r.outcome,
            int(r.status),
        )
        for r in rows
    ]
