"""Which events concern a UI, and its stays in containers, from the tables that link them.

A capture writes one random-keyed row per pack where it can (see migration 0009), so the
links between a UI and its events live in three places:

- ``event_items``: every (ui, event) an event names, except while they stand an
  application's packs and an aggregation's children;
- ``ui_state``: a unit's ``created_seq`` is its application; ``parent_since_seq`` the
  aggregation that put it in its current container;
- ``containment``: closed stays, each opened by an aggregation.

Every reader asks here, so the split is known in one place. Each part of a union is
filtered on its own key column, so each is an index lookup on both databases.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    bindparam,
    cast,
    literal,
    null,
    select,
    union_all,
)

from itptrace.repository.schema import containment, event_items, events, ui_state

Match = Callable[[ColumnElement[Any]], ColumnElement[bool]]
MAX_DEPTH = 16  # containers inside containers, deeper than any real packaging


def item_links(match: Match) -> CompoundSelect[Any]:
    """(ui, event_seq, role) of every event naming a UI that ``match`` accepts (a UI may
    come twice for one event; readers take sets)."""
    item = literal("item")
    return union_all(
        select(event_items.c.ui, event_items.c.event_seq, event_items.c.role).where(
            match(event_items.c.ui)
        ),
        select(ui_state.c.ui, ui_state.c.created_seq, item).where(
            match(ui_state.c.ui), ui_state.c.kind == "unit"
        ),
        select(ui_state.c.ui, ui_state.c.parent_since_seq, item).where(
            match(ui_state.c.ui), ui_state.c.parent_since_seq.is_not(None)
        ),
        select(containment.c.child, containment.c.from_seq, item).where(match(containment.c.child)),
    )


def stays(match: Match, *, by_parent: bool = False) -> CompoundSelect[Any]:
    """(child, parent, from_seq, from_time, to_seq, to_time) of every stay, closed or current,
    whose child (or parent, with ``by_parent``) ``match`` accepts."""
    current = (
        select(
            ui_state.c.ui.label("child"),
            ui_state.c.parent,
            ui_state.c.parent_since_seq.label("from_seq"),
            events.c.event_time.label("from_time"),
            null().label("to_seq"),
            null().label("to_time"),
        )
        .join(events, events.c.seq == ui_state.c.parent_since_seq)
        .where(match(ui_state.c.parent if by_parent else ui_state.c.ui))
    )
    closed = select(
        containment.c.child,
        containment.c.parent,
        containment.c.from_seq,
        containment.c.from_time,
        containment.c.to_seq,
        containment.c.to_time,
    ).where(match(containment.c.parent if by_parent else containment.c.child))
    return union_all(closed, current)


def _one(column: ColumnElement[Any]) -> ColumnElement[bool]:
    return column == bindparam("ui")


@functools.cache
def _steps_of_one() -> CompoundSelect[Any]:
    """(parent, seq, to_seq) rows of the UI ``ui``: with no parent, an event naming it; with
    a parent, a stay from the event ``seq`` (which names the UI too) until ``to_seq``. One
    statement per level of the walk instead of two."""
    # Typed NULLs: PostgreSQL infers a union's column types from its first part.
    no_parent = cast(null(), ui_state.c.parent.type)
    no_end = cast(null(), containment.c.to_seq.type)
    return union_all(
        select(no_parent, event_items.c.event_seq, no_end).where(_one(event_items.c.ui)),
        select(no_parent, ui_state.c.created_seq, no_end).where(
            _one(ui_state.c.ui), ui_state.c.kind == "unit"
        ),
        select(ui_state.c.parent, ui_state.c.parent_since_seq, no_end).where(
            _one(ui_state.c.ui), ui_state.c.parent_since_seq.is_not(None)
        ),
        select(containment.c.parent, containment.c.from_seq, containment.c.to_seq).where(
            _one(containment.c.child)
        ),
    )


def event_seqs_of(conn: Connection, ui: str) -> dict[int, str | None]:
    """Every event of ``ui`` and of its containers while it was inside them, each with the
    container it came through (None for the UI's own events)."""
    return _walk(conn, ui, 0, None, 0)


def _walk(
    conn: Connection, ui: str, lower: int, upper: int | None, depth: int
) -> dict[int, str | None]:
    """Events of ``ui`` in (lower, upper], and of its containers while it was inside them."""
    found: dict[int, str | None] = {}
    if depth > MAX_DEPTH:
        return found
    stays = []
    for parent, seq, to_seq in conn.execute(_steps_of_one(), {"ui": ui}):
        # (lower, upper]: the event that took the item out of a container still concerns it.
        if seq > lower and (upper is None or seq <= upper):
            found.setdefault(int(seq), None)
        if parent is not None:
            stays.append((int(seq), parent, to_seq))
    for from_seq, parent, to_seq in sorted(stays):
        start = max(lower, from_seq)
        end = to_seq if upper is None else (upper if to_seq is None else min(upper, to_seq))
        if end is not None and start > end:
            continue
        for seq, via in _walk(conn, parent, start, end, depth + 1).items():
            found.setdefault(seq, via or parent)
    return found
