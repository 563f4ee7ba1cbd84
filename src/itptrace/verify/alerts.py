"""Alerts for the authorities, raised by verifications; their status is an append-only trail.

A finding raises an alert of the type its reason belongs to (``ALERT_OF``). While an alert
of that type about the same UI is open or under investigation, later scans do not raise
another one: the scans themselves stay on record. An alert is never rewritten; each status
change (open, investigating, closed) is a row of its own, and the latest one counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission
from itptrace.auth import audit
from itptrace.context import Context
from itptrace.errors import Conflict, NotFound
from itptrace.ledger import records as ledger
from itptrace.registry.model import parse_enum
from itptrace.verify import store
from itptrace.verify.model import Finding, ReasonCode, ScanInput

if TYPE_CHECKING:
    from sqlalchemy import Connection

R = ReasonCode
#: Which alert (type, severity) each reason raises; reasons not listed raise none.
ALERT_OF: dict[ReasonCode, tuple[str, str]] = {
    **{r: ("counterfeit", "high") for r in (R.UNKNOWN_KEY, R.BAD_SIGNATURE, R.NEVER_ISSUED)},
    **{r: ("counterfeit", "high") for r in (R.GTIN_MISMATCH, R.PRODUCT_MISMATCH)},
    **{r: ("clone", "high") for r in (R.IMPOSSIBLE_TRAVEL, R.TOO_MANY_SIGHTINGS)},
    **{r: ("stolen_or_lost", "high") for r in (R.STOLEN, R.LOST)},
    **{r: ("revoked_code", "medium") for r in (R.RECALLED, R.DESTROYED, R.DEACTIVATED)},
    **{r: ("unapplied_code", "medium") for r in (R.NEVER_APPLIED, R.EXPIRED, R.CANCELLED)},
    **{r: ("diversion", "medium") for r in (R.DIVERTED, R.SEEN_AFTER_EXPORT)},
    **{r: ("custody", "medium") for r in (R.SEEN_AFTER_RETAIL_ELSEWHERE, R.CUSTODY_MISMATCH)},
    R.UNKNOWN_ISSUER: ("foreign_code", "low"),
}


class AlertStatus(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    CLOSED = "closed"


@dataclass(frozen=True)
class Alert:
    id: int
    type: str
    severity: str
    ui: str | None
    uis: tuple[str, ...]
    evidence: dict[str, Any]
    scan_id: str
    raised_at: datetime
    status: AlertStatus
    status_by: str
    status_at: datetime
    note: str


def raise_alerts(
    conn: Connection,
    actor: Actor,
    scan: ScanInput,
    ui: str | None,
    findings: list[Finding],
    now: datetime,
) -> tuple[int, ...]:
    """Store the alerts ``findings`` call for, with their ledger leaves, inside the scan's
    transaction."""
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.code in ALERT_OF:
            grouped.setdefault(ALERT_OF[finding.code], []).append(finding)
    raised: list[int] = []
    statuses: list[int] = []
    for (type_, severity), found in grouped.items():
        if ui is not None and store.unclosed_alert(conn, ui, type_) is not None:
            continue
        evidence = {
            "scan_id": scan.scan_id,
            "scanned_at": scan.scanned_at.isoformat(),
            "country": scan.place.country,
            "place": scan.place.name,
            "position": [scan.place.lat, scan.place.lon] if scan.place.has_position else None,
            "reasons": [{"code": f.code.value, "message": f.message, **f.evidence} for f in found],
        }
        alert_id = store.insert_alert(
            conn,
            {
                "type": type_,
                "severity": severity,
                "ui": ui,
                "uis": json.dumps([ui] if ui else []),
                "evidence": json.dumps(evidence, sort_keys=True, default=str),
                "scan_id": scan.scan_id,
                "raised_at": now,
            },
        )
        statuses.append(
            store.insert_status(
                conn, alert_id, "open", actor.name, now, f"raised by scan {scan.scan_id}"
            )
        )
        raised.append(alert_id)
    if raised:
        ledger.record_alerts(conn, raised, statuses, now)
    return tuple(raised)


def _alert(row: Any) -> Alert:
    return Alert(
        int(row.id),
        row.type,
        row.severity,
        row.ui,
        tuple(json.loads(row.uis)),
        json.loads(row.evidence),
        row.scan_id,
        store.aware(row.raised_at),
        AlertStatus(row.status),
        row.changed_by,
        store.aware(row.changed_at),
        row.note,
    )


def list_alerts(
    ctx: Context,
    actor: Actor,
    *,
    status: str | None = None,
    type_: str | None = None,
    limit: int = 100,
    after: int = 0,
) -> list[Alert]:
    """Alerts in the order they were raised, optionally of one status or type."""
    wanted = parse_enum(AlertStatus, status, "alert status").value if status else None
    shown = {"status": wanted, "type": type_, "after": after}
    with audit.reading(ctx, actor, Permission.ALERTS_READ, details=shown) as read:
        rows = store.list_alerts(read.conn, wanted, type_, min(max(limit, 1), 1000), max(after, 0))
        read.count = len(rows)
    return [_alert(r) for r in rows]


def get_alert(ctx: Context, actor: Actor, alert_id: int) -> Alert:
    with audit.reading(ctx, actor, Permission.ALERTS_READ, subject=str(alert_id)) as read:
        row = store.get_alert(read.conn, alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id}", subject=str(alert_id))
        read.count = 1
    return _alert(row)


def set_alert_status(
    ctx: Context, actor: Actor, alert_id: int, status: str, note: str = ""
) -> Alert:
    """Record a status change (who and when); the alert's earlier statuses stay on record."""
    new = parse_enum(AlertStatus, status, "alert status")
    shown = {"status": new.value}
    with audit.reading(
        ctx, actor, Permission.ALERTS_MANAGE, subject=str(alert_id), details=shown, writes=True
    ) as read:
        conn = read.conn
        row = store.get_alert(conn, alert_id)
        if row is None:
            raise NotFound(f"no alert {alert_id}", subject=str(alert_id))
        if row.status == new.value:
            raise Conflict(f"alert {alert_id} is already {new.value}", subject=str(alert_id))
        now = ctx.clock.now()
        status_id = store.insert_status(conn, alert_id, new.value, actor.name, now, note[:500])
        ledger.record_alert_statuses(conn, [status_id], now)
        changed = store.get_alert(conn, alert_id)
        read.count = 1
    return _alert(changed)
