"""Authorities' questions about packs: where is it, what happened to it, what is inside.

``trace`` follows a pack through every container it stayed in: the events of a carton, a
case or a pallet count for the pack only while the pack was inside it. Every lookup goes
through an index, so the cost follows the nesting depth, not the repository's size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, Role, authorize
from itptrace.auth import audit
from itptrace.capture.store import aware
from itptrace.context import Context
from itptrace.errors import NotFound
from itptrace.queries import scope, store

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row


@dataclass(frozen=True)
class Where:
    ui: str
    kind: str
    status: str
    facility_id: str | None
    custodian_id: str | None
    parent: str | None
    top: str
    destination_facility_id: str | None
    destination_kind: str | None
    destination_country: str | None
    gtin: str | None


@dataclass(frozen=True)
class TraceEntry:
    seq: int
    event_id: str
    message_type: str
    event_time: datetime
    recorded_at: datetime
    originator_id: str
    facility_id: str | None
    via: str | None  # the container the pack was in when this happened, if any
    flags: tuple[str, ...]
    recalled: bool
    details: dict[str, Any] = field(compare=False)


def _where(conn: Connection, ui: str) -> Where:
    own = store.state(conn, ui)
    if own is None:
        raise unknown(ui)
    top, seen = own, {ui}
    while top.parent is not None and top.parent not in seen:
        seen.add(top.parent)
        parent = store.state(conn, top.parent)
        if parent is None:
            break
        top = parent
    status = own.status if own.status == "deactivated" else top.status
    return Where(
        ui,
        own.kind,
        status,
        top.facility_id,
        top.custodian_id,
        own.parent,
        top.ui,
        top.destination_facility_id,
        top.destination_kind,
        top.destination_country,
        own.gtin,
    )


def unknown(ui: str) -> NotFound:
    """The answer about a UI nobody reported, given too outside the caller's sight."""
    return NotFound(f"no recorded event concerns {ui}", subject=ui)


def sight_of(
    conn: Connection,
    actor: Actor,
    ui: str,
    seqs: dict[int, str | None] | None = None,
    rows: list[Row[Any]] | None = None,
) -> scope.Sight | None:
    """What an operator may read of ``ui`` (None: the caller is no operator and reads all).

    Outside its sight an operator gets the answer for a UI nobody reported: it never learns
    whether the UI exists elsewhere. See :mod:`itptrace.queries.scope`.
    """
    if actor.role is not Role.OPERATOR:
        return None
    assert actor.operator_id is not None
    if seqs is None:
        seqs = store.event_seqs_of(conn, ui)
    found = scope.sight(conn, actor.operator_id, ui, seqs, rows)
    if not found.visible:
        raise unknown(ui)
    return found


def _withheld(conn: Connection, ui: str) -> Where:
    """``where`` for an operator that may know the UI but not where it is now."""
    own = store.state(conn, ui)
    if own is None:
        raise unknown(ui)
    return Where(
        ui, own.kind, scope.NOT_IN_CUSTODY, None, None, None, ui, None, None, None, own.gtin
    )


def _where_for(conn: Connection, actor: Actor, ui: str) -> Where:
    sight = sight_of(conn, actor, ui)
    if sight is not None and not sight.current:
        return _withheld(conn, ui)
    return _where(conn, ui)


def where(ctx: Context, actor: Actor, ui: str) -> Where:
    """Current status, location and custodian (those of the outermost container)."""
    with audit.reading(ctx, actor, Permission.QUERY_WHERE, subject=ui) as read:
        found = _where_for(read.conn, actor, ui)
        read.count = 1
    return found


def where_unaudited(conn: Connection, actor: Actor, ui: str) -> Where:
    """``where`` inside a caller's transaction, for a service that authorised and audits
    its own read (verification reads several facts at once)."""
    authorize(actor, Permission.QUERY_WHERE)
    return _where_for(conn, actor, ui)


def _entry(row: Row[Any], via: str | None) -> TraceEntry:
    return TraceEntry(
        int(row.seq),
        row.event_id,
        row.message_type,
        aware(row.event_time),
        aware(row.recorded_at),
        row.originator_id,
        row.facility_id,
        via,
        tuple(f for f in row.flags.split(",") if f),
        row.recall_seq is not None,
        _shown(json.loads(row.details), row.message_type),
    )


def _shown(details: dict[str, Any], message_type: str) -> dict[str, Any]:
    """A trace shows a tobacco message's own fields; the event as captured (its EPCs again,
    perhaps many) is served by the EPCIS query. An event of no tobacco kind keeps it."""
    if message_type != "OTHER":
        details.pop("epcis", None)
        details.pop("epcis_context", None)
    return details


def full_trace(ctx: Context, ui: str) -> list[TraceEntry]:
    """Every event of a pack, unscoped: for other services that already checked the caller."""
    with ctx.db.reading() as conn:
        seqs = store.event_seqs_of(conn, ui)
        if not seqs:
            raise unknown(ui)
        rows = store.events_by_seq(conn, list(seqs))
    return sorted((_entry(r, seqs[int(r.seq)]) for r in rows), key=lambda e: (e.event_time, e.seq))


def trace(ctx: Context, actor: Actor, ui: str) -> list[TraceEntry]:
    """The chronological history of a pack, including its containers' events while inside.

    An operator sees only the events of its spans of custody, and of transactions only the
    ones it declared (:mod:`itptrace.queries.scope`).
    """
    with audit.reading(ctx, actor, Permission.QUERY_TRACE, subject=ui) as read:
        seqs = store.event_seqs_of(read.conn, ui)
        rows = store.events_by_seq(read.conn, list(seqs))
        sight = sight_of(read.conn, actor, ui, seqs, rows)
        if not seqs:
            raise unknown(ui)
        if sight is not None:
            rows = [r for r in rows if sight.readable(r.seq, r.message_type, r.originator_id)]
        read.count = len(rows)
    return sorted((_entry(r, seqs[int(r.seq)]) for r in rows), key=lambda e: (e.event_time, e.seq))


@dataclass
class Node:
    ui: str
    children: list[Node] = field(default_factory=list)
    kind: str = "aggregate"

    @property
    def unit_count(self) -> int:
        """Unit packs in the tree: an empty container holds none."""
        return 1 if self.kind == "unit" else sum(c.unit_count for c in self.children)


def contents(ctx: Context, actor: Actor, aggregate: str, at: datetime | None = None) -> Node:
    """The full tree under a container, down to unit packs, now or at time ``at``.

    An operator reads it only as it was in its own custody (:func:`scope.moment`).
    """
    moment = {"at": at.isoformat() if at else None}
    with audit.reading(
        ctx, actor, Permission.QUERY_CONTENTS, subject=aggregate, details=moment
    ) as read:
        conn = read.conn
        sight = sight_of(conn, actor, aggregate)
        if store.kind_of(conn, aggregate) is None:
            raise unknown(aggregate)
        # An operator reads the tree only at a moment of its own custody.
        when = scope.moment(sight, at) if sight is not None else scope.Moment(at)
        root = Node(aggregate)
        level, nodes = ([] if when.nothing else [aggregate]), {aggregate: root}
        for _depth in range(16):
            if not level:
                break
            if when.after_seq is not None:
                pairs = store.children_after(conn, level, when.after_seq)
            else:
                pairs = store.children_at(conn, level, when.at)
            level = []
            for child, parent in sorted(pairs):
                node = Node(child)
                nodes[parent].children.append(node)
                nodes[child] = node
                level.append(child)
        kinds = store.kinds(conn, list(nodes))
        for ui, node in nodes.items():
            node.kind = kinds.get(ui, "aggregate")
        read.count = root.unit_count
    return root
