"""Custody alerts: what capture tells the authorities about arrivals of others' goods.

An operator that reports the arrival of goods neither in transit to it nor held by it
(``rules_moves.check_arrival``) is refused, or by the Party's setting accepted without
moving custody; either way an alert is stored, in the capture's transaction, naming the
reporter and each holder with its UIs. The verification alerts (``verify.alerts``) hang on
inspectors' scans, a layer above capture, so these have a table of their own
(``custody_alerts``, append-only); the authorities list them with ``list_custody_alerts``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itptrace.access import Actor, Permission
from itptrace.auth import audit
from itptrace.capture import store
from itptrace.capture.model import Problem, TraceEvent
from itptrace.capture.rules_moves import NOT_DISPATCHED
from itptrace.capture.state import StateView
from itptrace.context import Context


@dataclass(frozen=True)
class CustodyAlert:
    id: int
    raised_at: datetime
    event_id: str
    reporter_id: str
    facility_id: str | None
    holders: dict[str, list[str]]  # holder operator -> its UIs the reporter claimed
    outcome: str  # refused, or flagged (accepted without moving custody)


def alert_rows(
    events: list[TraceEvent], problems: list[Problem], view: StateView, raised: datetime
) -> list[dict[str, Any]]:
    """An alert row per arrival that claimed goods outside the reporter's custody."""
    by_event: dict[str, list[Problem]] = {}
    for p in problems:
        if p.code == NOT_DISPATCHED and p.event_id is not None:
            by_event.setdefault(p.event_id, []).append(p)
    rows = []
    for event in events:
        found = by_event.pop(event.event_id, None)
        if not found:
            continue
        holders: dict[str, list[str]] = {}
        for p in found:
            top = view.top(p.subject or "")
            holder = (top.custodian_id or "") if top is not None else ""
            holders.setdefault(holder, []).append(p.subject or "")
        rows.append(
            {
                "raised_at": raised,
                "event_id": event.event_id[:200],
                "reporter_id": event.originator_id[:32],
                "facility_id": (event.facility_id or "")[:32] or None,
                "holders": json.dumps(holders, sort_keys=True),
                "outcome": "flagged" if found[0].flag_only else "refused",
            }
        )
    return rows


def list_custody_alerts(
    ctx: Context, actor: Actor, *, after: int = 0, limit: int = 100
) -> list[CustodyAlert]:
    """Custody alerts in the order they were raised (the authorities' right to alerts)."""
    shown = {"after": after, "kind": "custody"}
    with audit.reading(ctx, actor, Permission.ALERTS_READ, details=shown) as read:
        rows = store.list_custody_alerts(read.conn, max(after, 0), min(max(limit, 1), 1000))
        read.count = len(rows)
    return [
        CustodyAlert(
            int(r.id),
            store.aware(r.raised_at),
            r.event_id,
            r.reporter_id,
            r.facility_id,
            json.loads(r.holders),
            r.outcome,
        )
        for r in rows
    ]
