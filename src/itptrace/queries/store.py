"""SQL for the queries: index lookups only, so cost follows the depth of the trees."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, func, select

from itptrace.repository import history
from itptrace.repository.schema import (
    containment,
    epcis_contexts,
    events,
    facilities,
    recalls,
    refused_events,
    ui_state,
)

EVENT_COLUMNS = (
    events.c.seq,
    events.c.event_id,
    events.c.message_type,
    events.c.originator_id,
    events.c.event_time,
    events.c.recorded_at,
    events.c.facility_id,
    events.c.parent,
    events.c.item_count,
    events.c.flags,
    events.c.source,
    events.c.details,
    recalls.c.recall_seq,
)


def state(conn: Connection, ui: str) -> Row[Any] | None:
    return conn.execute(select(ui_state).where(ui_state.c.ui == ui)).first()


def event_seqs_of(conn: Connection, ui: str) -> dict[int, str | None]:
    """Events of ``ui`` and of its containers while it was inside them (with the container)."""
    return history.event_seqs_of(conn, ui)


def events_by_seq(conn: Connection, seqs: Sequence[int]) -> list[Row[Any]]:
    rows: list[Row[Any]] = []
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 1000):
        query = (
            select(*EVENT_COLUMNS)
            .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
            .where(events.c.seq.in_(ordered[start : start + 1000]))
        )
        rows.extend(conn.execute(query))
    return sorted(rows, key=lambda r: r.seq)


def moves(conn: Connection, seqs: Sequence[int]) -> list[Row[Any]]:
    """(seq, message_type, originator_id, event_time, recall_seq) of these events: what
    the replay of custody needs, without their details."""
    rows: list[Row[Any]] = []
    ordered = sorted(set(seqs))
    for start in range(0, len(ordered), 1000):
        query = (
            select(
                events.c.seq,
                events.c.message_type,
                events.c.originator_id,
                events.c.event_time,
                recalls.c.recall_seq,
            )
            .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
            .where(events.c.seq.in_(ordered[start : start + 1000]))
        )
        rows.extend(conn.execute(query))
    return rows


def details_of(conn: Connection, seqs: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored details of a few events (the dispatches of one UI's history)."""
    if not seqs:
        return {}
    query = select(events.c.seq, events.c.details).where(events.c.seq.in_(sorted(set(seqs))))
    return {int(seq): json.loads(details) for seq, details in conn.execute(query)}


def facility_operators(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The operator of each of these registered facilities."""
    if not ids:
        return {}
    query = select(facilities.c.id, facilities.c.operator_id).where(
        facilities.c.id.in_(sorted(set(ids)))
    )
    return {str(f): str(o) for f, o in conn.execute(query)}


def children_after(conn: Connection, parents: Sequence[str], seq: int) -> list[tuple[str, str]]:
    """(child, parent) pairs of these parents just after the event ``seq``."""
    then = [(s.child, s.parent) for s in history.current_stays(conn, parents) if s.from_seq <= seq]
    query = select(containment.c.child, containment.c.parent).where(
        containment.c.parent.in_(parents),
        containment.c.from_seq <= seq,
        containment.c.to_seq > seq,
    )
    return then + [(str(child), str(parent)) for child, parent in conn.execute(query)]


def children_at(
    conn: Connection, parents: Sequence[str], at: datetime | None
) -> list[tuple[str, str]]:
    """(child, parent) pairs of these parents now or at time ``at``."""
    current = history.current_stays(conn, parents)
    if at is None:
        return [(s.child, s.parent) for s in current]
    then = [(s.child, s.parent) for s in current if s.from_time <= at]
    return then + history.closed_stays_at(conn, parents, at)


def refused(conn: Connection, originator: str | None, limit: int, after: int) -> list[Row[Any]]:
    query = select(refused_events).where(refused_events.c.id > after)
    if originator is not None:
        query = query.where(refused_events.c.originator_id == originator)
    return list(conn.execute(query.order_by(refused_events.c.id).limit(limit)))


def kind_of(conn: Connection, ui: str) -> str | None:
    row = conn.execute(select(ui_state.c.kind).where(ui_state.c.ui == ui)).first()
    return str(row.kind) if row else None


def applied_packs_by_operator(conn: Connection, per_operator: int) -> dict[str, list[str]]:
    """Up to ``per_operator`` recently applied packs of each manufacturer."""
    operators_ = conn.execute(
        select(events.c.originator_id).where(events.c.message_type == "EUA").distinct()
    ).scalars()
    found: dict[str, list[str]] = {}
    for operator in sorted(operators_):
        query = (
            select(events.c.uis)
            .where(events.c.message_type == "EUA", events.c.originator_id == operator)
            .order_by(events.c.seq.desc())
        )
        packs: list[str] = []
        for items in conn.execute(query).scalars():
            packs.extend(sorted(json.loads(items), reverse=True)[: per_operator - len(packs)])
            if len(packs) >= per_operator:
                break
        found[operator] = packs
    return found


def originators(conn: Connection, seqs: Sequence[int]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(seqs), 1000):
        query = select(events.c.originator_id).where(events.c.seq.in_(seqs[start : start + 1000]))
        found.update(conn.execute(query.distinct()).scalars())
    return found


def kinds(conn: Connection, uis: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for start in range(0, len(uis), 1000):
        query = select(ui_state.c.ui, ui_state.c.kind).where(
            ui_state.c.ui.in_(uis[start : start + 1000])
        )
        found.update({str(u): str(k) for u, k in conn.execute(query)})
    return found


@dataclass(frozen=True)
class EventFilter:
    """What the EPCIS query narrows in SQL: reporter, time bounds, items and places."""

    originator: str | None = None
    # (column name, "ge" or "lt", instant): event_time or recorded_at against a bound
    bounds: tuple[tuple[str, str, datetime], ...] = ()
    # (role or None for any role, UIs): events naming one of the UIs in that role
    items: tuple[tuple[str | None, tuple[str, ...]], ...] = ()
    places: tuple[str, ...] = ()
    # EPCIS terms (events.event_type, action, biz_step), each matching any of its values
    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()


def _among(values: Sequence[str], column: ColumnElement[Any]) -> ColumnElement[bool]:
    return column.in_(values)


def matching_events(
    conn: Connection, wanted: EventFilter, after: int, limit: int, until: int | None = None
) -> list[Row[Any]]:
    """Up to ``limit`` stored events past sequence number ``after`` (and up to ``until``)
    that match, in order."""
    query = select(
        events.c.seq,
        events.c.event_id,
        events.c.message_type,
        events.c.recorded_at,
        events.c.details,
        events.c.uis,
    )
    for name, values in wanted.terms:
        query = query.where(events.c[name].in_(values))
    if until is not None:
        query = query.where(events.c.seq <= until)
    if wanted.originator is not None:
        query = query.where(events.c.originator_id == wanted.originator)
    for name, cmp, instant in wanted.bounds:
        column = events.c[name]
        query = query.where(column >= instant if cmp == "ge" else column < instant)
    for role, uis in wanted.items:
        links = history.item_links(functools.partial(_among, list(uis))).subquery()
        sub = select(links.c.event_seq)
        if role is not None:
            sub = sub.where(links.c.role == role)
        query = query.where(events.c.seq.in_(sub))
    if wanted.places:
        query = query.where(events.c.facility_id.in_(wanted.places))
    query = query.where(events.c.seq > after).order_by(events.c.seq).limit(limit)
    return list(conn.execute(query))


def gtins_of(conn: Connection, uis: Sequence[str]) -> dict[str, str]:
    """The GTIN recorded for each of ``uis`` that has one."""
    rows = conn.execute(
        select(ui_state.c.ui, ui_state.c.gtin).where(
            ui_state.c.ui.in_(list(uis)), ui_state.c.gtin.is_not(None)
        )
    )
    return {str(ui): str(gtin) for ui, gtin in rows}


def last_seq(conn: Connection) -> int:
    """The sequence number of the latest stored event (0 when there is none)."""
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())


def contexts(conn: Connection, digests: Sequence[str]) -> dict[str, str]:
    """The stored text of each of these document contexts."""
    if not digests:
        return {}
    query = select(epcis_contexts.c.digest, epcis_contexts.c.context).where(
        epcis_contexts.c.digest.in_(sorted(set(digests)))
    )
    return {str(d): str(c) for d, c in conn.execute(query)}
