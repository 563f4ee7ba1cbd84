"""SQL of verification: scans, alerts and their status history, and the revocation list."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    bindparam,
    case,
    func,
    insert,
    select,
)

from itptrace.repository import history
from itptrace.repository.db import aware as aware  # re-exported for the services
from itptrace.repository.schema import (
    alert_status,
    alerts,
    event_items,
    events,
    recalls,
    scans,
    ui_deactivations,
    ui_state,
)
from itptrace.verify.model import Sighting

MAX_SIGHTINGS_READ = 1000
CHUNK = 5_000


def find_scan(conn: Connection, scan_id: str) -> Row[Any] | None:
    return conn.execute(select(scans).where(scans.c.scan_id == scan_id)).first()


def insert_scans(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store scans with one statement (an executemany)."""
    conn.execute(insert(scans), rows)


def sightings(conn: Connection, ui: str) -> tuple[Sighting, ...]:
    """The latest authenticated scans of ``ui`` (at most ``MAX_SIGHTINGS_READ``)."""
    query = (
        select(scans.c.scan_id, scans.c.scanned_at, scans.c.country, scans.c.lat, scans.c.lon)
        .where(scans.c.ui == ui, scans.c.sighting.is_(True))
        .order_by(scans.c.scanned_at.desc())
        .limit(MAX_SIGHTINGS_READ)
    )
    return tuple(
        Sighting(r.scan_id, aware(r.scanned_at), r.country, r.lat, r.lon)
        for r in conn.execute(query)
    )


def scan_page(conn: Connection, after: datetime | None, limit: int) -> list[Row[Any]]:
    query = select(scans).order_by(scans.c.recorded_at, scans.c.scan_id).limit(limit)
    if after is not None:
        query = query.where(scans.c.recorded_at > after)
    return list(conn.execute(query))


def insert_alert(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(alerts).values(**values).returning(alerts.c.id))
    return int(result.scalar_one())


def insert_status(
    conn: Connection, alert_id: int, status: str, by: str, at: datetime, note: str
) -> int:
    result = conn.execute(
        insert(alert_status)
        .values(alert_id=alert_id, status=status, changed_by=by, changed_at=at, note=note)
        .returning(alert_status.c.id)
    )
    return int(result.scalar_one())


def _latest_status() -> Any:
    """Alerts joined to their latest status row (a correlated, indexed lookup per alert)."""
    newer = alert_status.alias("newer")
    latest = select(func.max(newer.c.id)).where(newer.c.alert_id == alerts.c.id).scalar_subquery()
    return select(
        alerts,
        alert_status.c.status,
        alert_status.c.changed_by,
        alert_status.c.changed_at,
        alert_status.c.note,
    ).select_from(alerts.join(alert_status, alert_status.c.id == latest))


def unclosed_alert(conn: Connection, ui: str, type_: str) -> int | None:
    """The id of an alert of this type about ``ui`` that is not closed, if any."""
    query = _latest_status().where(alerts.c.ui == ui, alerts.c.type == type_)
    for row in conn.execute(query.order_by(alerts.c.id.desc())):
        if row.status != "closed":
            return int(row.id)
    return None


def list_alerts(
    conn: Connection, status: str | None, type_: str | None, limit: int, after: int
) -> list[Row[Any]]:
    query = _latest_status().where(alerts.c.id > after)
    if status is not None:
        query = query.where(alert_status.c.status == status)
    if type_ is not None:
        query = query.where(alerts.c.type == type_)
    return list(conn.execute(query.order_by(alerts.c.id).limit(limit)))


def get_alert(conn: Connection, alert_id: int) -> Row[Any] | None:
    return conn.execute(_latest_status().where(alerts.c.id == alert_id)).first()


def alerts_of_scan(conn: Connection, scan_id: str) -> tuple[int, ...]:
    query = select(alerts.c.id).where(alerts.c.scan_id == scan_id).order_by(alerts.c.id)
    return tuple(int(i) for i in conn.execute(query).scalars())


def revoked_codes(conn: Connection) -> Iterator[tuple[str, str]]:
    """(UI, reason) of every code deactivated by the issuer or by a captured IDA, and of every
    item recorded inside a deactivated container."""
    yield from conn.execute(select(ui_deactivations.c.ui, ui_deactivations.c.reason))
    reasons: dict[str, str] = {}
    ida = (
        select(event_items.c.ui, events.c.details)
        .join(events, events.c.seq == event_items.c.event_seq)
        .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
        .where(events.c.message_type == "IDA", recalls.c.recall_seq.is_(None))
        .order_by(events.c.seq)
    )
    for ui, details in conn.execute(ida):
        reasons[ui] = str(json.loads(details).get("reason") or "deactivated")
    level = list(
        conn.execute(select(ui_state.c.ui).where(ui_state.c.status == "deactivated")).scalars()
    )
    seen: set[str] = set()
    for _depth in range(16):
        if not level:
            break
        children: list[str] = []
        for ui in level:
            if ui not in seen:
                seen.add(ui)
                yield ui, reasons.get(ui, "deactivated")
        for start in range(0, len(level), CHUNK):
            chunk = level[start : start + CHUNK]
            for stay in history.current_stays(conn, chunk):
                child, parent = stay.child, stay.parent
                reasons.setdefault(child, reasons.get(parent, "deactivated"))
                children.append(child)
        level = children


def trace_summary(conn: Connection, ui: str) -> list[Row[Any]]:
    """(seq, message_type, event_time, recalled, details) of the pack's events, oldest first;
    ``details`` is read only for applications and deactivations (small), else None."""
    seqs = sorted(history.event_seqs_of(conn, ui))
    rows: list[Row[Any]] = []
    for start in range(0, len(seqs), CHUNK):
        chunk = seqs[start : start + CHUNK]
        rows.extend(conn.execute(_trace_summary_query(), {"seqs": chunk}))
    return sorted(rows, key=lambda row: (aware(row.event_time), row.seq))


@functools.cache
def _trace_summary_query() -> Select[Any]:
    """Built once; the events are the expanding bound parameter ``seqs``."""
    small = events.c.message_type.in_(("EUA", "IDA"))
    return (
        select(
            events.c.seq,
            events.c.message_type,
            events.c.event_time,
            recalls.c.recall_seq.is_not(None).label("recalled"),
            case((small, events.c.details), else_=None).label("details"),
        )
        .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
        .where(events.c.seq.in_(bindparam("seqs", expanding=True)))
    )


def dispatch_destinations(conn: Connection, seqs: list[int]) -> list[dict[str, Any]]:
    """The ``destination`` of each of these dispatch events."""
    query = select(events.c.details).where(events.c.seq.in_(seqs))
    return [json.loads(d).get("destination") or {} for d in conn.execute(query).scalars()]
