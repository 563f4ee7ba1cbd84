"""Writing the accepted events of one capture: events, items, state, history, ledger."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from itptrace.capture import store
from itptrace.capture.model import TraceEvent
from itptrace.capture.native import message_to_json
from itptrace.capture.state import StateView
from itptrace.ledger import records as ledger


@dataclass
class Accepted:
    """An accepted event, its sequence number and the flags it carries (e.g. late_report)."""

    event_id: str
    seq: int
    flags: list[str]


def _details(event: TraceEvent, extra: dict[str, Any]) -> str:
    body = message_to_json(event)
    body.pop("uis", None)  # items live in event_items; large documents are not stored twice
    body.update(extra)
    if event.details:
        body["original"] = event.details
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def write_accepted(
    conn: Connection,
    view: StateView,
    accepted: list[tuple[int, TraceEvent, str, dict[str, Any], list[str]]],
    received: datetime,
    recalled: dict[int, tuple[TraceEvent, Any, dict[str, Any]]],
) -> list[Accepted]:
    base = store.next_seq(conn)
    seq_of = {index: base + k for k, (index, *_rest) in enumerate(accepted)}
    event_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    transaction_rows: list[dict[str, Any]] = []
    for index, event, print_, extra, flags in accepted:
        seq = seq_of[index]
        items = list(event.uis)
        if index in recalled:
            items = list(recalled[index][1].uis)
        event_rows.append(
            {
                "seq": seq,
                "event_id": event.event_id,
                "message_type": event.message_type.value,
                "originator_id": event.originator_id,
                "event_time": event.event_time,
                "recorded_at": received,
                "facility_id": event.facility_id,
                "parent": event.parent,
                "item_count": len(items),
                "flags": ",".join(flags),
                "fingerprint": print_,
                "source": event.source,
                "details": _details(event, extra),
            }
        )
        item_rows.extend({"ui": ui, "event_seq": seq, "role": "item"} for ui in items)
        if event.parent is not None:
            item_rows.append({"ui": event.parent, "event_seq": seq, "role": "parent"})
        if event.transaction is not None:
            t = event.transaction
            transaction_rows.append(
                {
                    "event_seq": seq,
                    "kind": t.kind,
                    "number": t.number,
                    "amount": str(t.amount),
                    "currency": t.currency,
                    "seller_id": t.seller_id,
                    "buyer_id": t.buyer_id,
                }
            )
    store.insert_events(conn, event_rows)
    store.insert_items(conn, item_rows)
    items_of: dict[int, list[tuple[str, str]]] = {}
    for item in item_rows:
        items_of.setdefault(item["event_seq"], []).append((item["ui"], item["role"]))
    ledger.record_events(conn, event_rows, items_of, received)
    store.insert_transactions(conn, transaction_rows)
    _write_state(conn, view, seq_of, {index: event.event_time for index, event, *_ in accepted})
    for index, (_recall, target, _old) in recalled.items():
        store.insert_recall(conn, target.seq, seq_of[index])
        if target.seq in view.reverted_from:
            store.drop_containment_from(conn, target.seq)
        if target.seq in view.reopened:
            store.reopen_containment(conn, target.seq)
    return [
        Accepted(event.event_id, seq_of[index], flags) for index, event, _p, _e, flags in accepted
    ]


def _write_state(
    conn: Connection, view: StateView, seq_of: dict[int, int], times: dict[int, datetime]
) -> None:
    new, changed = [], []
    for ui, state in view.changed.items():
        if ui in view.removed:
            continue
        seq = seq_of[view.touched[ui]]
        if ui in view.created:
            first = seq_of[view.created[ui]]
            new.append(state.__class__(**{**state.__dict__, "created_seq": first, "last_seq": seq}))
        else:
            changed.append(state.__class__(**{**state.__dict__, "last_seq": seq}))
    store.write_states(conn, new, changed, sorted(view.removed - set(view.created)))
    store.open_containment(
        conn,
        [
            {
                "child": c.child,
                "parent": c.parent,
                "from_seq": seq_of[c.event_index],
                "from_time": times[c.event_index],
                "to_seq": None,
                "to_time": None,
            }
            for c in view.opened
        ],
    )
    store.close_containment(
        conn,
        [
            {"c": c.child, "p": c.parent, "s": seq_of[c.event_index], "t": times[c.event_index]}
            for c in view.closed
        ],
    )
