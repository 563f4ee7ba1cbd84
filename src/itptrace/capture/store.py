"""SQL of the repository's capture side: batch readers for the rules, bulk writers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, text, update

from itptrace.capture.state import FacilityInfo, Issuance, OperatorInfo, StoredEvent, UiState
from itptrace.repository.bulk import bulk_insert
from itptrace.repository.schema import (
    aggregate_uis,
    code_requests,
    containment,
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

CHUNK = 5_000
STATE_COLUMNS = [c.name for c in ui_state.columns]


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def lock_for_capture(conn: Connection) -> None:
    """Serialise capture transactions (sequence numbers are assigned by the writer)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE events IN EXCLUSIVE MODE"))


def load_states(conn: Connection, uis: list[str]) -> dict[str, UiState]:
    found: dict[str, UiState] = {}
    for start in range(0, len(uis), CHUNK):
        rows = conn.execute(select(ui_state).where(ui_state.c.ui.in_(uis[start : start + CHUNK])))
        for row in rows:
            found[row.ui] = UiState(**row._asdict())
    return found


def load_issuances(conn: Connection, codes: list[str]) -> dict[str, Issuance]:
    found: dict[str, Issuance] = {}
    for kind, table, key in (("unit", unit_uis, "ui"), ("aggregate", aggregate_uis, "aui")):
        for start in range(0, len(codes), CHUNK):
            chunk = codes[start : start + CHUNK]
            query = (
                select(
                    table.c[key].label("code"),
                    code_requests.c.operator_id,
                    code_requests.c.facility_id,
                    code_requests.c.machine_id,
                    code_requests.c.gtin,
                    code_requests.c.expires_at,
                    request_cancellations.c.request_id.label("cancelled"),
                    ui_deactivations.c.ui.label("deactivated"),
                )
                .join(code_requests, code_requests.c.id == table.c.request_id)
                .outerjoin(
                    request_cancellations, request_cancellations.c.request_id == code_requests.c.id
                )
                .outerjoin(ui_deactivations, ui_deactivations.c.ui == table.c[key])
                .where(table.c[key].in_(chunk))
            )
            for row in conn.execute(query):
                found[row.code] = Issuance(
                    row.code,
                    kind,
                    row.operator_id,
                    row.facility_id,
                    row.machine_id,
                    row.gtin,
                    aware(row.expires_at),
                    row.cancelled is not None,
                    row.deactivated is not None,
                )
        codes = [c for c in codes if c not in found]
        if not codes:
            break
    return found


def load_children(conn: Connection, parent: str) -> list[str]:
    return list(conn.execute(select(ui_state.c.ui).where(ui_state.c.parent == parent)).scalars())


def load_facility(conn: Connection, facility_id: str) -> FacilityInfo | None:
    row = conn.execute(select(facilities).where(facilities.c.id == facility_id)).first()
    return FacilityInfo(row.id, row.operator_id, row.type, row.country, row.active) if row else None


def load_operator(conn: Connection, operator_id: str) -> OperatorInfo | None:
    row = conn.execute(select(operators).where(operators.c.id == operator_id)).first()
    return OperatorInfo(row.id, tuple(row.roles.split(",")), row.active) if row else None


def load_event(conn: Connection, event_id: str) -> StoredEvent | None:
    row = conn.execute(
        select(events.c.seq, events.c.originator_id, events.c.fingerprint, recalls.c.recall_seq)
        .outerjoin(recalls, recalls.c.recalled_seq == events.c.seq)
        .where(events.c.event_id == event_id)
    ).first()
    if row is None:
        return None
    items = conn.execute(
        select(event_items.c.ui).where(event_items.c.event_seq == row.seq)
    ).scalars()
    return StoredEvent(
        event_id,
        row.seq,
        row.originator_id,
        row.fingerprint,
        row.recall_seq is not None,
        tuple(items),
    )


def event_details(conn: Connection, seq: int) -> dict[str, Any]:
    details: dict[str, Any] = json.loads(
        conn.execute(select(events.c.details).where(events.c.seq == seq)).scalar_one()
    )
    return details


def latest_seqs(conn: Connection, uis: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(uis), CHUNK):
        query = (
            select(event_items.c.ui, func.max(event_items.c.event_seq))
            .where(event_items.c.ui.in_(uis[start : start + CHUNK]))
            .group_by(event_items.c.ui)
        )
        found.update({ui: int(seq) for ui, seq in conn.execute(query)})
    return found


def next_seq(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one()) + 1


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, events, rows)


def insert_items(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, event_items, rows)


def write_states(
    conn: Connection, new: list[UiState], changed: list[UiState], removed: list[str]
) -> None:
    bulk_insert(conn, ui_state, [s.__dict__ for s in new])
    if changed:
        values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in STATE_COLUMNS if c != "ui"}
        statement = update(ui_state).where(ui_state.c.ui == bindparam("v_ui")).values(values)
        conn.execute(statement, [{f"v_{k}": v for k, v in s.__dict__.items()} for s in changed])
    for start in range(0, len(removed), CHUNK):
        conn.execute(ui_state.delete().where(ui_state.c.ui.in_(removed[start : start + CHUNK])))


def open_containment(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, containment, rows)


def close_containment(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        statement = (
            update(containment)
            .where(
                and_(
                    containment.c.child == bindparam("c"),
                    containment.c.parent == bindparam("p"),
                    containment.c.to_seq.is_(None),
                )
            )
            .values(to_seq=bindparam("s"), to_time=bindparam("t"))
        )
        conn.execute(statement, list(rows))


def drop_containment_from(conn: Connection, seq: int) -> None:
    """Undo the intervals an aggregation opened (its recall)."""
    conn.execute(containment.delete().where(containment.c.from_seq == seq))


def reopen_containment(conn: Connection, seq: int) -> None:
    """Undo the intervals a disaggregation closed (its recall)."""
    conn.execute(
        update(containment).where(containment.c.to_seq == seq).values(to_seq=None, to_time=None)
    )


def insert_transactions(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, transactions, rows)


def insert_recall(conn: Connection, recalled_seq: int, recall_seq: int) -> None:
    bulk_insert(conn, recalls, [{"recalled_seq": recalled_seq, "recall_seq": recall_seq}])


def insert_refused(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    bulk_insert(conn, refused_events, rows)
