"""What an operator may read of a UI: the spans of custody it had, never what it wrote.

An operator reads a UI's state and history only for the spans in which it held the item or
was the consignee of a shipment of it; the manufacturer or importer of record also learns
that the UI exists. The spans come from replaying the UI's history (its own events and its
containers' events while it was inside them) along the rules of possession:

- an application makes its reporter the holder; so does the aggregation that first packs a
  new container;
- a dispatch names a consignee (the operator of the destination facility, or the consignee
  the dispatch names); the holder keeps the goods until they arrive;
- an arrival moves custody only to the consignee of the shipment (or leaves it with the
  holder arriving at another of its places). An arrival that no dispatch announced, an
  order, an invoice, a payment or any other event moves nothing, so writing about goods
  never makes an operator their reader.

A span includes the event that opened it and the one that closed it (the dispatch to an
operator and the arrival that ends its custody), and nothing else outside. Inside its spans
an operator reads the events of others; of transactions it reads only its own declarations
(its side of the deal): the counterparty's declaration is not its to read. A recalled event
counts for nothing. Everyone else gets the answer given for a UI nobody ever reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itptrace.capture.model import TRANSACTION_KINDS, MessageType
from itptrace.capture.store import aware
from itptrace.codes import store as codes_store
from itptrace.queries import store

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row

NOT_IN_CUSTODY = "not_in_your_custody"  # the status ``where`` gives outside the reader's spans
_TRANSACTIONS = frozenset(t.value for t in TRANSACTION_KINDS)


@dataclass(frozen=True)
class Move:
    """What the replay needs of one event of a UI's history."""

    seq: int
    message_type: str
    originator_id: str
    event_time: datetime
    consignee_id: str | None = None  # a dispatch's consignee operator, if any
    recalled: bool = False


@dataclass(frozen=True)
class Sight:
    """The part of one UI's history one operator may read."""

    reader: str  # the operator
    seqs: frozenset[int]  # the events inside its spans
    spans: tuple[tuple[int, int | None], ...]  # (opening, closing event or None if open)
    times: tuple[tuple[datetime, datetime | None], ...]  # the same spans in event time
    of_record: bool = False  # the manufacturer or importer named by the UI's issuance

    @property
    def current(self) -> bool:
        """Whether it holds the UI now, or the UI is on its way to it."""
        return bool(self.spans) and self.spans[-1][1] is None

    @property
    def visible(self) -> bool:
        """Whether the operator may know the UI at all."""
        return bool(self.seqs) or self.of_record

    def readable(self, seq: int, message_type: str, originator_id: str) -> bool:
        """Whether the event ``seq`` is the operator's to read: inside its spans; of the
        transactions, its own declarations only (wherever they fall)."""
        if message_type in _TRANSACTIONS:
            return originator_id == self.reader
        return seq in self.seqs


def replay(moves: Sequence[Move], operator_id: str, *, of_record: bool = False) -> Sight:
    """The spans of ``operator_id`` in a UI's history (``moves`` in any order)."""
    holder: str | None = None
    consignee: str | None = None
    inside: set[int] = set()
    spans: list[tuple[int, int | None]] = []
    times: list[tuple[datetime, datetime | None]] = []
    for move in sorted(moves, key=lambda m: m.seq):
        before = operator_id in (holder, consignee)
        if move.recalled:  # it moved nothing, but stays in the history of who held it then
            if before:
                inside.add(move.seq)
            continue
        kind, by = move.message_type, move.originator_id
        if kind == MessageType.EUA or (kind == MessageType.EPA and holder is None):
            holder, consignee = by, None
        elif kind == MessageType.EDP and by == holder:
            consignee = move.consignee_id
        elif kind == MessageType.ERP and by in (holder, consignee) and consignee is not None:
            holder, consignee = by, None
        after = operator_id in (holder, consignee)
        if before or after:
            inside.add(move.seq)
        if after and not before:
            spans.append((move.seq, None))
            times.append((move.event_time, None))
        elif before and not after:
            spans[-1] = (spans[-1][0], move.seq)
            times[-1] = (times[-1][0], move.event_time)
    return Sight(operator_id, frozenset(inside), tuple(spans), tuple(times), of_record)


def consignee_of(details: dict[str, Any], operators: dict[str, str]) -> str | None:
    """The operator a dispatch sends its goods to: its destination facility's operator, else
    the consignee it names (``operators`` maps facility ids to their operators)."""
    destination = details.get("destination") or {}
    facility = destination.get("facility")
    if facility:
        return operators.get(facility)
    consignee = destination.get("consignee")
    return str(consignee) if consignee else None


def sight(
    conn: Connection,
    operator_id: str,
    ui: str,
    seqs: Iterable[int],
    rows: Sequence[Row[Any]] | None = None,
) -> Sight:
    """What ``operator_id`` may read of ``ui``, whose history holds the events ``seqs``.

    ``rows`` are those events with their details when the caller already read them (a
    trace); otherwise only their kinds and reporters are read, and the dispatches' details.
    """
    if rows is None:
        rows = store.moves(conn, list(seqs))
        dispatches = [int(r.seq) for r in rows if r.message_type == MessageType.EDP]
        details = store.details_of(conn, dispatches)
    else:
        details = {int(r.seq): r.details for r in rows if r.message_type == MessageType.EDP}
        details = {s: json.loads(d) if isinstance(d, str) else d for s, d in details.items()}
    places = [
        str(d["destination"]["facility"])
        for d in details.values()
        if (d.get("destination") or {}).get("facility")
    ]
    operators = store.facility_operators(conn, places)
    moves = [
        Move(
            int(r.seq),
            r.message_type,
            r.originator_id,
            aware(r.event_time),
            consignee_of(details[int(r.seq)], operators) if int(r.seq) in details else None,
            r.recall_seq is not None,
        )
        for r in rows
    ]
    return replay(moves, operator_id, of_record=of_record(conn, operator_id, ui))


def of_record(conn: Connection, operator_id: str, ui: str) -> bool:
    """Whether the UI's issuance names the operator as its manufacturer or importer."""
    found = codes_store.find_code(conn, ui)
    return found is not None and operator_id in (found[1].operator_id, found[1].importer_id)


@dataclass(frozen=True)
class Moment:
    """When an operator reads a container's contents: at an instant (None: now), just after
    the event ``after_seq`` that closed one of its spans, or never (``nothing``)."""

    at: datetime | None = None
    after_seq: int | None = None
    nothing: bool = False


def moment(sight: Sight, at: datetime | None) -> Moment:
    """The moment of the contents an operator asking for time ``at`` (None: now) reads.

    Inside one of its spans, the moment asked. After a span, the tree as it left the
    operator's custody (it held all of it then, and nothing later). Before its first span,
    nothing.
    """
    latest: int | None = None
    for (_start, end), (since, until) in zip(sight.spans, sight.times, strict=True):
        if until is None and (at is None or since <= at):
            return Moment(at)
        if until is not None and (at is None or until <= at):
            latest = end
        elif at is not None and since <= at:
            return Moment(at)
    return Moment(after_seq=latest) if latest is not None else Moment(nothing=True)
