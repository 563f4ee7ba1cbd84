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
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
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

from itptrace.repository.bulk import among
from itptrace.repository.db import aware
from itptrace.repository.schema import containment, event_items, events, ui_state

Match = Callable[[ColumnElement[Any]], ColumnElement[bool]]
MAX_DEPTH = 16  # containers inside containers, deeper than any real packaging
CHUNK = 5_000


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


@dataclass(frozen=True)
class Stay:
    """A child's current stay in a container, since the event ``from_seq`` at ``from_time``."""

    child: str
    parent: str
    from_seq: int
    from_time: datetime


def current_stays(conn: Connection, parents: Sequence[str]) -> list[Stay]:
    """The current stays in any of ``parents``.

    ``ui_state.parent`` has no index: it would be one more random-keyed insert per pack. A
    UI only ever enters a container by an aggregation naming that container, so the
    candidates are the items of the aggregations naming ``parents``; a candidate is inside
    now when its state still says so (a later disaggregation or recall took the others out).
    """
    wanted, candidates = set(parents), set[str]()
    for start in range(0, len(parents), CHUNK):
        query = (
            select(events.c.uis)
            .join(event_items, event_items.c.event_seq == events.c.seq)
            .where(
                among(conn, event_items.c.ui, parents[start : start + CHUNK]),
                event_items.c.role == "parent",
                events.c.message_type == "EPA",
            )
        )
        for uis in conn.execute(query).scalars():
            candidates.update(json.loads(uis))
    ordered, found = sorted(candidates), list[Stay]()
    for start in range(0, len(ordered), CHUNK):
        query = (
            select(
                ui_state.c.ui, ui_state.c.parent, ui_state.c.parent_since_seq, events.c.event_time
            )
            .join(events, events.c.seq == ui_state.c.parent_since_seq)
            .where(among(conn, ui_state.c.ui, ordered[start : start + CHUNK]))
        )
        found.extend(
            Stay(ui, parent, int(seq), aware(at))
            for ui, parent, seq, at in conn.execute(query)
            if parent in wanted
        )
    return found


def closed_stays_at(
    conn: Connection, parents: Sequence[str], at: datetime
) -> list[tuple[str, str]]:
    """(child, parent) of the closed stays in ``parents`` that held at time ``at``."""
    query = select(containment.c.child, containment.c.parent).where(
        containment.c.parent.in_(parents),
        containment.c.from_time <= at,
        containment.c.to_time > at,
    )
    return [(str(child), str(parent)) for child, parent in conn.execute(query)]


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
