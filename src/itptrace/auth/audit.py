"""The audit trail: one append-only record per read of pack-level data or denied request.

Each record is also a leaf of the tamper-evident ledger, written in the same transaction,
so an auditor can prove later that the trail was not edited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from itptrace.access import Actor, require
from itptrace.auth import store
from itptrace.auth.model import AuditEntry, AuditRow
from itptrace.context import Context
from itptrace.ledger import records as ledger


def record(ctx: Context, entry: AuditEntry) -> int:
    """Store one audit record (and its ledger leaf); returns its sequence number."""
    actor = entry.actor
    now = ctx.clock.now()
    values = {
        "at": now,
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
    with ctx.db.transaction() as conn:
        seq = store.insert_audit(conn, values)
        ledger.record_audit(conn, seq, now)
    return seq


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
    require(actor, "audit.read")
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
