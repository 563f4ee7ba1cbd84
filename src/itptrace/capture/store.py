"""SQL of the repository's capture side: batch readers for the rules, bulk writers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, func, select, text, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from itptrace.capture.state import FacilityInfo, Issuance, OperatorInfo, StoredEvent, UiState
from itptrace.repository.bulk import among, bulk_insert, bulk_update, insert_rows
from itptrace.repository.db import aware as aware  # re-exported for the services
from itptrace.repository.history import MAX_DEPTH, current_stays, item_links
from itptrace.repository.schema import (
    aggregate_uis,
    code_requests,
    containment,
    custody_alerts,
    epcis_contexts,
    event_items,
    events,
    facilities,
    operators,
    recalls,
    refused_events,
    request_cancellations,
    transactions,
    ui_deactivations,
    ui_state,
    unit_uis,
)


def lock_for_capture(conn: Connection) -> None:
    """Serialise capture transactions (sequence numbers are assigned by the writer).

    Taken first, before any read: on SQLite a transaction that read first cannot become a
    writer once another writer committed ("database is locked"); a write statement at the
    start takes the write lock, waiting up to the busy timeout instead.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))
    else:
        conn.execute(text("DELETE FROM ui_state WHERE 1 = 0"))


def load_states(conn: Connection, uis: list[str]) -> dict[str, UiState]:
    rows = conn.execute(select(ui_state).where(among(conn, ui_state.c.ui, uis))).all()
    return {row.ui: UiState(*row) for row in rows}


def load_issuances(conn: Connection, codes: list[str]) -> dict[str, Issuance]:
    """What the issuer recorded for each of ``codes`` that it issued (unit or aggregated)."""
    found: dict[str, Issuance] = {}
    for kind, table, key in (("unit", unit_uis, "ui"), ("aggregate", aggregate_uis, "aui")):
        pending = [c for c in codes if c not in found] if found else codes
        query = select(table.c[key], table.c.request_id).where(among(conn, table.c[key], pending))
        requested = {str(c): int(r) for c, r in conn.execute(query).all()}
        if not requested:
            continue
        request_ids = sorted(set(requested.values()))
        cancelled = set(
            conn.execute(
                select(request_cancellations.c.request_id).where(
                    among(conn, request_cancellations.c.request_id, request_ids)
                )
            ).scalars()
        )
        # One Issuance per request, copied per code only when the code is deactivated: a
        # production batch shares everything but the code itself.
        shared = {
            int(r.id): Issuance(
                kind,
                r.operator_id,
                r.facility_id,
                r.machine_id,
                r.gtin,
                aware(r.expires_at),
                int(r.id) in cancelled,
                False,
            )
            for r in conn.execute(
                select(code_requests).where(among(conn, code_requests.c.id, request_ids))
            )
        }
        deactivated = set(
            conn.execute(
                select(ui_deactivations.c.ui).where(
                    among(conn, ui_deactivations.c.ui, list(requested))
                )
            ).scalars()
        )
        for code, request_id in requested.items():
            issuance = shared[request_id]
            found[code] = replace(issuance, deactivated=True) if code in deactivated else issuance
    return found


def load_children(conn: Connection, parent: str) -> list[str]:
    """The current children of ``parent``."""
    return [stay.child for stay in current_stays(conn, [parent])]


def load_facility(conn: Connection, facility_id: str) -> FacilityInfo | None:
    row = conn.execute(select(facilities).where(facilities.c.id == facility_id)).first()
    return FacilityInfo(row.id, row.operator_id, row.type, row.country, row.active) if row else None


def load_operator(conn: Connection, operator_id: str) -> OperatorInfo | None:
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
    return OperatorInfo(row.id, tuple(row.roles.split(",")), row.active) if row else None


def load_event(conn: Connection, event_id: str) -> StoredEvent | None:
    row = conn.execute(
        select(
            events.c.seq,
            events.c.originator_id,
            events.c.fingerprint,
            events.c.parent,
            events.c.uis,
            recalls.c.recall_seq,
        )
        .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
        .where(events.c.event_id == event_id)
    ).first()
    if row is None:
        return None
    items = json.loads(row.uis) + ([row.parent] if row.parent is not None else [])
    return StoredEvent(
        event_id,
        row.seq,
        row.originator_id,
        row.fingerprint,
        row.recall_seq is not None,
        tuple(items),
    )


# Events whose accepted, unrecalled report shows that its originator held the items named
# (each needs the items at the originator's facility, in its hands or on their way to it).
CUSTODY_EVENTS = ("EUA", "EPA", "EUD", "EDP", "ERP", "ETL", "EVR", "IDA")
# The flag of an arrival accepted without moving custody: it shows no custody.
NOT_MOVED = "arrival_not_dispatched"


def _containers(conn: Connection, uis: list[str]) -> dict[str, set[str]]:
    """Every container each of ``uis`` is in now or was ever in (through all levels)."""
    parents: dict[str, set[str]] = {}
    frontier, seen = list(uis), set(uis)
    for _level in range(MAX_DEPTH + 1):
        if not frontier:
            break
        now = select(ui_state.c.ui, ui_state.c.parent).where(
            among(conn, ui_state.c.ui, frontier), ui_state.c.parent.is_not(None)
        )
        before = select(containment.c.child, containment.c.parent).where(
            among(conn, containment.c.child, frontier)
        )
        found = []
        for child, parent in conn.execute(union_all(now, before)):
            parents.setdefault(child, set()).add(parent)
            if parent not in seen:
                seen.add(parent)
                found.append(parent)
        frontier = found
    out: dict[str, set[str]] = {}
    for ui in uis:
        chain, todo = set[str](), [ui]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in chain:
                    chain.add(parent)
                    todo.append(parent)
        out[ui] = chain
    return out


def held_before(conn: Connection, operator: str, uis: list[str]) -> set[str]:
    """Those of ``uis`` that ``operator`` held at some time: one of its accepted, unrecalled
    custody events names the UI or a container the UI is or was in. (The stays are not
    matched in time: an operator that held a container counts as having held whatever was
    ever inside it, a deliberate over-approximation that only ever admits a former holder.)
    """
    containers = _containers(conn, uis)
    candidates = sorted(set(uis).union(*containers.values()))
    links = item_links(lambda column: among(conn, column, candidates)).subquery()
    query = (
        select(links.c.ui)
        .distinct()
        .join(events, events.c.seq == links.c.event_seq)
        .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
        .where(
            events.c.originator_id == operator,
            events.c.message_type.in_(CUSTODY_EVENTS),
            ~events.c.flags.contains(NOT_MOVED),
            recalls.c.recall_seq.is_(None),
        )
    )
    shown = {str(ui) for ui in conn.execute(query).scalars()}
    return {ui for ui in uis if ui in shown or containers[ui] & shown}


def dispatch_consignees(conn: Connection, uis: list[str]) -> dict[str, str | None]:
    """The consignee named by the latest dispatch of each of ``uis``."""
    links = item_links(lambda column: among(conn, column, uis)).subquery()
    latest = (
        select(links.c.ui, func.max(events.c.seq).label("seq"))
        .join(events, events.c.seq == links.c.event_seq)
        .where(events.c.message_type == "EDP")
        .group_by(links.c.ui)
        .subquery()
    )
    query = select(latest.c.ui, events.c.details).join(events, events.c.seq == latest.c.seq)
    found: dict[str, str | None] = {}
    for ui, details in conn.execute(query):
        destination = json.loads(details).get("destination") or {}
        found[str(ui)] = destination.get("consignee")
    return found


def known_fingerprints(conn: Connection, event_ids: list[str]) -> dict[str, str]:
    """The fingerprints of those of ``event_ids`` already stored (one query per 5,000)."""
    query = select(events.c.event_id, events.c.fingerprint).where(
        among(conn, events.c.event_id, event_ids)
    )
    return {str(e): str(f) for e, f in conn.execute(query)}


def event_details(conn: Connection, seq: int) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(
        conn.execute(select(events.c.details).where(events.c.seq == seq)).scalar_one()
    )
    return details


def latest_seqs(conn: Connection, uis: list[str]) -> dict[str, int]:
    """The latest event naming each of ``uis`` (as item or parent)."""
    links = item_links(lambda column: among(conn, column, uis)).subquery()
    query = select(links.c.ui, func.max(links.c.event_seq)).group_by(links.c.ui)
    return {ui: int(seq) for ui, seq in conn.execute(query)}


def next_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()) + 1


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, events, rows)


def insert_contexts(conn: Connection, rows: dict[str, str]) -> None:
    """Document contexts by digest; one already stored (same digest, same text) is kept."""
    if rows:
        dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
        statement = dialect_insert(epcis_contexts).on_conflict_do_nothing()
        conn.execute(statement, [{"digest": d, "context": c} for d, c in sorted(rows.items())])


def insert_items(conn: Connection, rows: Sequence[tuple[str, int, str]]) -> None:
    """``(ui, event_seq, role)`` rows."""
    insert_rows(conn, event_items, ("ui", "event_seq", "role"), sorted(rows))


def insert_links(conn: Connection, pairs: Sequence[tuple[str, int]]) -> None:
    """``(ui, event_seq)`` item links of an event whose links the state no longer holds; a
    link already there (written before migration 0009) is kept as it is."""
    if pairs:
        dialect_insert = sqlite_insert if conn.dialect.name == "sqlite" else pg_insert
        statement = dialect_insert(event_items).on_conflict_do_nothing()
        conn.execute(statement, [{"ui": u, "event_seq": s, "role": "item"} for u, s in pairs])


def write_states(
    conn: Connection, new: Sequence[tuple[Any, ...]], changed: list[UiState], removed: list[str]
) -> None:
    """``new`` rows are in the order of ``UiState._fields``."""
    # Sorted by key: UIs are random by design, and inserting them in key order touches
    # each index page once instead of jumping around the whole index.
    insert_rows(conn, ui_state, UiState._fields, sorted(new, key=itemgetter(0)))
    bulk_update(conn, ui_state, "ui", [s._asdict() for s in changed])
    if removed:
        conn.execute(ui_state.delete().where(among(conn, ui_state.c.ui, removed)))


CONTAINMENT = ("child", "parent", "from_seq", "from_time", "to_seq", "to_time")


@dataclass
class StoredStays:
    seqs: dict[str, int]  # child -> the event that opened its current stay
    times: dict[int, datetime]  # that event's time


def stored_stays(conn: Connection, children: list[str]) -> StoredStays:
    """Where the stored current stays of ``children`` began."""
    if not children:
        return StoredStays({}, {})
    query = select(ui_state.c.ui, ui_state.c.parent_since_seq, events.c.event_time).join(
        events, events.c.seq == ui_state.c.parent_since_seq
    )
    rows = conn.execute(query.where(among(conn, ui_state.c.ui, children))).all()
    return StoredStays(
        {r.ui: int(r.parent_since_seq) for r in rows},
        {int(r.parent_since_seq): aware(r.event_time) for r in rows},
    )


def insert_closed_stays(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows in the order of ``CONTAINMENT``."""
    insert_rows(conn, containment, CONTAINMENT, sorted(rows, key=itemgetter(0)))


def drop_containment_from(conn: Connection, seq: int) -> None:
    """Undo the closed stays an aggregation opened (its recall)."""
    conn.execute(containment.delete().where(containment.c.from_seq == seq))


def reopen_containment(conn: Connection, seq: int) -> None:
    """Undo the stays a disaggregation closed (its recall): each is current again."""
    reopened = containment.c.to_seq == seq
    for child, from_seq in conn.execute(
        select(containment.c.child, containment.c.from_seq).where(reopened)
    ):
        conn.execute(
            update(ui_state).where(ui_state.c.ui == child).values(parent_since_seq=from_seq)
        )
    conn.execute(containment.delete().where(reopened))


def insert_transactions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, transactions, rows)


def insert_recall(conn: Connection, recalled_seq: int, recall_seq: int) -> None:
    bulk_insert(conn, recalls, [{"recalled_seq": recalled_seq, "recall_seq": recall_seq}])


def insert_refused(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, refused_events, rows)


def insert_custody_alerts(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, custody_alerts, rows)


def list_custody_alerts(conn: Connection, after: int, limit: int) -> list[Any]:
    query = select(custody_alerts).where(custody_alerts.c.id > after)
    return list(conn.execute(query.order_by(custody_alerts.c.id).limit(limit)))
