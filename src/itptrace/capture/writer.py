"""Writing the accepted events of one capture: events, items, state, history, ledger."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itptrace.capture import store
from itptrace.capture.epcis_map import event_terms
from itptrace.capture.model import MessageType, TraceEvent
from itptrace.capture.state import StateView, UiState
from itptrace.ledger import records as ledger

if TYPE_CHECKING:
    from sqlalchemy import Connection

# Events whose items event_items does not list while the event stands: an application's
# packs are linked by ui_state.created_seq, an aggregation's children by their stays.
LINKED_ELSEWHERE = frozenset({MessageType.EUA, MessageType.EPA})


@dataclass
class Checked:
    """An event that passed the rules, waiting to be written with the others of its report.

    ``body`` is its native JSON form (made once: it gives both the fingerprint and the
    stored details), ``extra`` what the rule adds to the details, ``flags`` its soft flags.
    """

    index: int
    event: TraceEvent
    fingerprint: str
    body: dict[str, Any]
    extra: dict[str, Any]
    flags: list[str]


@dataclass
class Accepted:
    """An accepted event, its sequence number and the flags it carries (e.g. late_report)."""

    event_id: str
    seq: int
    flags: list[str]


def _details(
    body: dict[str, Any], event: TraceEvent, extra: dict[str, Any], contexts: _Contexts
) -> str:
    body.pop("uis", None)  # items live in event_items; large documents are not stored twice
    body.update(extra)
    if event.details and "epcis" in event.details:
        # An EPCIS event is kept as captured; its document's context once, by digest.
        body["epcis"] = event.details["epcis"]
        context = event.details.get("context")
        if context is not None:
            body["epcis_context"] = contexts.digest(context)
    elif event.details:
        body["original"] = event.details
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


class _Contexts:
    """The distinct document contexts of one capture, by digest of their stored text."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self._by_object: dict[int, tuple[Any, str]] = {}

    def digest(self, context: Any) -> str:
        # The events of one document share its context object: serialise it once.
        known = self._by_object.get(id(context))
        if known is not None and known[0] is context:
            return known[1]
        text = json.dumps(context, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(text.encode()).hexdigest()
        self.rows[digest] = text
        self._by_object[id(context)] = (context, digest)
        return digest


def write_accepted(
    conn: Connection,
    view: StateView,
    accepted: list[Checked],
    received: datetime,
    recalled: dict[int, tuple[TraceEvent, Any, dict[str, Any]]],
    submitter: str | None = None,
) -> list[Accepted]:
    """Write ``accepted``; ``submitter`` is who sent them (stored beside each originator)."""
    base = store.next_seq(conn)
    seq_of = {checked.index: base + k for k, checked in enumerate(accepted)}
    event_rows: list[dict[str, Any]] = []
    item_rows: list[tuple[str, int, str]] = []
    transaction_rows: list[dict[str, Any]] = []
    items_of: dict[int, list[tuple[str, str]]] = {}
    contexts = _Contexts()
    for checked in accepted:
        event, seq = checked.event, seq_of[checked.index]
        items = list(event.uis)
        if checked.index in recalled:
            items = list(recalled[checked.index][1].uis)
        event_type, action, biz_step = event_terms(event)
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
                "flags": ",".join(checked.flags),
                "fingerprint": checked.fingerprint,
                "source": event.source,
                "details": _details(checked.body, event, checked.extra, contexts),
                "uis": json.dumps(items, separators=(",", ":")),
                "event_type": event_type,
                "action": action,
                "biz_step": biz_step,
                "submitter": submitter,
            }
        )
        pairs = [(ui, "item") for ui in items]
        if event.parent is not None:
            pairs.append((event.parent, "parent"))
            item_rows.append((event.parent, seq, "parent"))
        items_of[seq] = pairs
        if event.message_type not in LINKED_ELSEWHERE:
            item_rows.extend((ui, seq, "item") for ui in items)
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
    store.insert_contexts(conn, contexts.rows)
    store.insert_events(conn, event_rows)
    store.insert_items(conn, item_rows)
    ledger.record_events(conn, event_rows, items_of, received)
    store.insert_transactions(conn, transaction_rows)
    _write_state(conn, view, seq_of, {c.index: c.event.event_time for c in accepted})
    for index, (_recall, target, details) in recalled.items():
        store.insert_recall(conn, target.seq, seq_of[index])
        if details["message_type"] in LINKED_ELSEWHERE:
            # The state no longer links the recalled event's items: event_items keeps them.
            parent = details.get("parent")
            store.insert_links(conn, [(ui, target.seq) for ui in target.uis if ui != parent])
        if target.seq in view.reverted_from:
            store.drop_containment_from(conn, target.seq)
        if target.seq in view.reopened:
            store.reopen_containment(conn, target.seq)
    return [Accepted(c.event.event_id, seq_of[c.index], c.flags) for c in accepted]


def _write_state(
    conn: Connection, view: StateView, seq_of: dict[int, int], times: dict[int, datetime]
) -> None:
    since, closed = _stays(conn, view, seq_of, times)
    new: list[tuple[Any, ...]] = []
    changed: list[UiState] = []
    created, removed, touched, stay_of = view.created, view.removed, view.touched, since.get
    # One row per changed UI, possibly hundreds of thousands: plain tuples, no field names.
    # A state's first ten fields are kept; its sequence numbers (the last three) are set here.
    for ui, state in view.changed.items():
        if ui in removed:
            continue
        stay = stay_of(ui, state.parent_since_seq) if state.parent is not None else None
        if ui in created:
            new.append((*state[:10], seq_of[created[ui]], seq_of[touched[ui]], stay))
        else:
            changed.append(UiState(*state[:10], state.created_seq, seq_of[touched[ui]], stay))
    store.write_states(conn, new, changed, sorted(removed - set(created)))
    store.insert_closed_stays(conn, closed)


def _stays(
    conn: Connection, view: StateView, seq_of: dict[int, int], times: dict[int, datetime]
) -> tuple[dict[str, int], list[tuple[Any, ...]]]:
    """The stays this report opened and are still open (child -> the opening event's seq),
    and the stays it closed, as containment rows in the order of ``store.CONTAINMENT``."""
    if not view.closed:  # the common case: a report that only fills containers
        return {c.child: seq_of[c.event_index] for c in view.opened}, []
    moves = sorted(
        [(c.event_index, True, c) for c in view.opened]
        + [(c.event_index, False, c) for c in view.closed],
        key=lambda move: move[0],
    )
    since: dict[str, int] = {}
    opened_at: dict[int, datetime] = {}
    closing: list[tuple[str, str, int | None, int]] = []
    for index, opening, c in moves:
        if opening:
            since[c.child] = seq_of[index]
            opened_at[seq_of[index]] = times[index]
        else:
            closing.append((c.child, c.parent, since.pop(c.child, None), index))
    if not closing:
        return since, []
    # Stays opened by an earlier report: their start is in the stored state.
    stored = store.stored_stays(conn, [child for child, _p, start, _i in closing if start is None])
    opened_at.update(stored.times)
    closed = []
    for child, parent, start, index in closing:
        # A stay with no recorded start (never expected) is closed as it opens, not lost.
        first = start if start is not None else stored.seqs.get(child, seq_of[index])
        began = opened_at.get(first, times[index])
        closed.append((child, parent, first, began, seq_of[index], times[index]))
    return since, closed
