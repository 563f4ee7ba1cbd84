"""Leaves for accepted events and audit records, and how ``fsck`` recomputes them.

An event's leaf holds its stored row (the fields below) and a digest of its items (UI and
role, sorted), so editing the event, dropping an item or adding one all change the leaf.
An audit record's leaf holds every column of its row.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

from sqlalchemy import Connection, select

from itptrace.ledger.encoding import encode_flat_record, encode_record, lines_digest, rfc3339
from itptrace.ledger.log import append
from itptrace.ledger.sources import LeafSource
from itptrace.repository.schema import audit_log, events

EVENT = "event"
AUDIT = "audit"
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


def record_audit(conn: Connection, seq: int, at: datetime) -> int:
    data = audit_leaf(conn, str(seq))
    assert data is not None, "the audit record is stored in this transaction"
    return append(conn, AUDIT, [(str(seq), data)], at=at)[0]


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
    return encode_record(AUDIT, {n: row._mapping[n] for n in AUDIT_FIELDS}) if row else None


# How fsck recomputes event and audit leaves; the composition root adds these to the node.
RECORD_SOURCES: Mapping[str, LeafSource] = MappingProxyType(
    {EVENT: stored_event_leaf, AUDIT: audit_leaf}
)
