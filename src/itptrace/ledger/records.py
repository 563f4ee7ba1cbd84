"""Leaves for accepted events, audit records, scans and alerts, and how ``fsck`` recomputes them.

An event's leaf holds its stored row (the fields below) and a digest of its items (UI and
role, sorted), so editing the event, dropping an item or adding one all change the leaf.
An audit record's leaf holds every column of its row; so do the leaves of an inspector's
scan, of an alert it raised and of each status change of an alert (a float, a scan's
position, is written as the shortest decimal text that reads back as the same number).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from sqlalchemy import Column, Connection, Row, select

from itptrace.ledger import store
from itptrace.ledger.encoding import encode_flat_record, encode_record, lines_digest, rfc3339
from itptrace.ledger.log import append
from itptrace.ledger.sources import LeafSource
from itptrace.repository.schema import alert_status, alerts, audit_log, events, scans

EVENT = "event"
AUDIT = "audit"
SCAN = "scan"
ALERT = "alert"
ALERT_STATUS = "alert_status"
EVENT_FIELDS = (
    "seq",
    "event_id",
    "message_type",
    "originator_id",
    "event_time",
    "recorded_at",
    "facility_id",
    "parent",
    "item_count",
    "flags",
    "fingerprint",
    "source",
    "details",
)
AUDIT_FIELDS = (
    "seq",
    "at",
    "user_name",
    "role",
    "operator_id",
    "purpose",
    "method",
    "endpoint",
    "params",
    "result_count",
    "outcome",
    "status",
)


SCAN_FIELDS = (
    "scan_id",
    "recorded_at",
    "scanned_at",
    "ui",
    "text",
    "country",
    "place",
    "lat",
    "lon",
    "source",
    "user_name",
    "role",
    "observed_gtin",
    "observed_brand",
    "fingerprint",
    "verdict",
    "sighting",
    "reasons",
    "facts",
)
ALERT_FIELDS = ("id", "type", "severity", "ui", "uis", "evidence", "scan_id", "raised_at")
ALERT_STATUS_FIELDS = ("id", "alert_id", "status", "changed_by", "changed_at", "note")


def event_leaf(row: Mapping[str, Any], items: Iterable[tuple[str, str]]) -> bytes:
    """The leaf data of an event row with its (ui, role) items."""
    # An event row holds only strings, integers, None and datetimes: converting the dates
    # here gives the canonical form directly (the same bytes as ``encode_record``, which
    # the tests check) without walking every value.
    fields = {
        name: _rfc3339(value) if isinstance(value := row[name], datetime) else value
        for name in EVENT_FIELDS
    }
    fields["items_sha256"] = lines_digest([f"{ui}\t{role}\n" for ui, role in items])
    # Recorded since migration 0013; an event without one keeps the leaf it always had.
    if (submitter := row.get("submitter")) is not None:
        fields["submitter"] = submitter
    return encode_flat_record(EVENT, fields)


def _rfc3339(value: datetime) -> str:
    """:func:`rfc3339`, remembered for naive and fixed-offset datetimes.

    The events of one report share their recording time and mostly their event time, so
    the same text would be formatted again for every leaf. Two such datetimes that compare
    equal are the same instant, hence the same text; a zone with daylight saving time is
    not cached, because there equal wall times may be different instants (PEP 495 fold).
    """
    zone = value.tzinfo
    if zone is None or type(zone) is timezone:
        return _fixed_offset_rfc3339(value)
    return rfc3339(value)


_fixed_offset_rfc3339 = functools.lru_cache(maxsize=1024)(rfc3339)


def record_events(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]],
    items: Mapping[int, list[tuple[str, str]]],
    at: datetime,
) -> list[int]:
    """Append one leaf per accepted event, in sequence order, inside the capture transaction."""
    pairs = [(str(row["seq"]), event_leaf(row, items.get(int(row["seq"]), []))) for row in rows]
    return append(conn, EVENT, pairs, at=at)


def record_audits(conn: Connection, rows: Sequence[Mapping[str, Any]], at: datetime) -> list[int]:
    """Append one leaf per audit row (its ``seq`` and the values just stored), in order, with
    one append for them all, inside the transaction that stores the rows."""
    return append(conn, AUDIT, [(str(row["seq"]), audit_row_leaf(row)) for row in rows], at=at)


def audit_row_leaf(row: Mapping[str, Any]) -> bytes:
    """The leaf of an audit row, from its stored row or from the values it was stored with
    (the same bytes: every value is a string, an integer, None or a UTC datetime)."""
    return encode_record(AUDIT, {name: row[name] for name in AUDIT_FIELDS})


def stored_event_leaf(conn: Connection, ref: str) -> bytes | None:
    if not ref.isdigit():
        return None
    row = conn.execute(select(events).where(events.c.seq == int(ref))).first()
    if row is None:
        return None
    return event_leaf(dict(row._mapping), stored_items(row.uis, row.parent))


def stored_items(items: str, parent: str | None) -> list[tuple[str, str]]:
    """The (ui, role) items of a stored event: its ``uis`` column and its parent."""
    pairs = [(ui, "item") for ui in json.loads(items)]
    return [*pairs, (parent, "parent")] if parent is not None else pairs


def audit_leaf(conn: Connection, ref: str) -> bytes | None:
    if not ref.isdigit():
        return None
    row = conn.execute(select(audit_log).where(audit_log.c.seq == int(ref))).first()
    return audit_row_leaf(dict(row._mapping)) if row else None


def _row_leaf(kind: str, row: Row[Any] | None, names: Sequence[str]) -> bytes | None:
    if row is None:
        return None
    values = row._mapping
    # A float has no canonical JSON spelling: its shortest round-trip text stands for it.
    fields = {n: repr(v) if isinstance(v := values[n], float) else v for n in names}
    return encode_record(kind, fields)


def scan_leaf(conn: Connection, ref: str) -> bytes | None:
    row = conn.execute(select(scans).where(scans.c.scan_id == ref)).first()
    return _row_leaf(SCAN, row, SCAN_FIELDS)


def alert_leaf(conn: Connection, ref: str) -> bytes | None:
    if not ref.isascii() or not ref.isdigit():
        return None
    row = conn.execute(select(alerts).where(alerts.c.id == int(ref))).first()
    return _row_leaf(ALERT, row, ALERT_FIELDS)


def alert_status_leaf(conn: Connection, ref: str) -> bytes | None:
    if not ref.isascii() or not ref.isdigit():
        return None
    row = conn.execute(select(alert_status).where(alert_status.c.id == int(ref))).first()
    return _row_leaf(ALERT_STATUS, row, ALERT_STATUS_FIELDS)


def _leaves(
    conn: Connection, source: LeafSource, refs: Iterable[str | int]
) -> list[tuple[str, bytes]]:
    pairs = [(str(ref), source(conn, str(ref))) for ref in refs]
    missing = [ref for ref, data in pairs if data is None]
    assert not missing, f"records {missing} are stored in this transaction"
    return [(ref, data) for ref, data in pairs if data is not None]


def record_scans(conn: Connection, scan_ids: Sequence[str], at: datetime) -> None:
    """Append the leaves of the scans stored in this transaction, in their order."""
    append(conn, SCAN, _leaves(conn, scan_leaf, scan_ids), at=at)


def record_alerts(
    conn: Connection, alert_ids: Sequence[int], status_ids: Sequence[int], at: datetime
) -> None:
    """Append the leaves of alerts stored in this transaction and of their first status."""
    append(conn, ALERT, _leaves(conn, alert_leaf, alert_ids), at=at)
    record_alert_statuses(conn, status_ids, at)


def record_alert_statuses(conn: Connection, status_ids: Sequence[int], at: datetime) -> None:
    """Append the leaves of alert status changes stored in this transaction."""
    append(conn, ALERT_STATUS, _leaves(conn, alert_status_leaf, status_ids), at=at)


# The kinds first ledgered in issue #12, with where their records are kept and their
# record order: a scan before the alerts it raised, an alert before its status changes.
ADOPTED: Sequence[tuple[str, LeafSource, Column[Any], tuple[Column[Any], ...]]] = (
    (SCAN, scan_leaf, scans.c.scan_id, (scans.c.recorded_at,)),
    (ALERT, alert_leaf, alerts.c.id, ()),
    (ALERT_STATUS, alert_status_leaf, alert_status.c.id, ()),
)


def adopt_batch(conn: Connection, at: datetime, limit: int) -> tuple[str, int] | None:
    """Append the leaves of up to ``limit`` records of the first adopted kind that still
    has records without a leaf, in record order; (that kind, how many), or None when every
    scan, alert and alert status change has its leaf."""
    for kind, source, key, order in ADOPTED:
        refs = store.first_records_without_leaves(conn, kind, key, order, limit)
        if refs:
            append(conn, kind, _leaves(conn, source, refs), at=at)
            return kind, len(refs)
    return None


# How fsck recomputes the leaves of this module; the composition root adds these to the node.
RECORD_SOURCES: Mapping[str, LeafSource] = MappingProxyType(
    {
        EVENT: stored_event_leaf,
        AUDIT: audit_leaf,
        SCAN: scan_leaf,
        ALERT: alert_leaf,
        ALERT_STATUS: alert_status_leaf,
    }
)

# Where the records of each kind of this module are kept: the table and the column a
# leaf's ref names. ``fsck`` reports every record there without its leaf.
RECORD_KEYS: Mapping[str, Column[Any]] = MappingProxyType(
    {
        EVENT: events.c.seq,
        AUDIT: audit_log.c.seq,
        SCAN: scans.c.scan_id,
        ALERT: alerts.c.id,
        ALERT_STATUS: alert_status.c.id,
    }
)
