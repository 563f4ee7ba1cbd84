"""SQL of the deep check (``capture.rebuild``): a scratch database, the ledgered events in
leaf order, and the state tables read in a form that compares across databases."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from itptrace.repository.bulk import among
from itptrace.repository.db import aware, make_engine
from itptrace.repository.schema import (
    aggregate_uis,
    containment,
    events,
    ledger_head,
    ledger_leaves,
    metadata,
    ui_state,
    unit_uis,
)

CHUNK = 500
STAY = ("child", "parent", "from_seq", "from_time", "to_seq", "to_time")


@contextmanager
def scratch(directory: Path) -> Iterator[Connection]:
    """A new SQLite database in ``directory`` with the node's tables (no triggers), in one
    transaction that is thrown away with it."""
    engine = make_engine(f"sqlite:///{directory / 'state.sqlite'}")
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(ledger_head).values(id=1, size=0))
            yield conn
    finally:
        engine.dispose()


def event_leaves(conn: Connection) -> dict[int, int]:
    """Event seq -> its leaf seq, in leaf order."""
    query = (
        select(ledger_leaves.c.seq, ledger_leaves.c.ref)
        .where(ledger_leaves.c.kind == "event")
        .order_by(ledger_leaves.c.seq)
    )
    return {int(ref): int(seq) for seq, ref in conn.execute(query)}


def event_rows(conn: Connection, seqs: list[int]) -> Iterator[Any]:
    """The event rows of ``seqs`` in that order (missing ones left out)."""
    for start in range(0, len(seqs), CHUNK):
        chunk = seqs[start : start + CHUNK]
        query = select(events).where(events.c.seq.in_(chunk))
        found = {row.seq: row for row in conn.execute(query)}
        yield from (found[seq] for seq in chunk if seq in found)


def insert_placeholder(conn: Connection, seq: int, at: datetime) -> None:
    """An empty event numbered ``seq``, so that the next event written gets ``seq + 1``."""
    conn.execute(
        insert(events).values(
            seq=seq,
            event_id=f"itptrace-rebuild-gap-{seq}",
            message_type="-",
            originator_id="-",
            event_time=at,
            recorded_at=at,
            item_count=0,
            flags="",
            fingerprint="-",
            source="-",
            details="{}",
        )
    )


def request_of(conn: Connection, codes: list[str]) -> dict[str, str]:
    """Code -> the id (as text) of the request that issued it."""
    found: dict[str, str] = {}
    for table, key in ((unit_uis, unit_uis.c.ui), (aggregate_uis, aggregate_uis.c.aui)):
        query = select(key, table.c.request_id).where(among(conn, key, codes))
        found.update({str(c): str(r) for c, r in conn.execute(query).all()})
    return found


def logged_before(conn: Connection, kind: str, refs: list[str], leaf: int) -> set[str]:
    """Those of ``refs`` with a leaf of ``kind`` before leaf ``leaf``."""
    query = select(ledger_leaves.c.ref).where(
        ledger_leaves.c.kind == kind,
        among(conn, ledger_leaves.c.ref, refs),
        ledger_leaves.c.seq < leaf,
    )
    return set(conn.execute(query).scalars())


STATE_COLUMNS = tuple(column.name for column in ui_state.columns)


def all_uis(conn: Connection) -> list[str]:
    return sorted(conn.execute(select(ui_state.c.ui)).scalars())


def state_rows(conn: Connection, uis: list[str]) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute(select(ui_state).where(among(conn, ui_state.c.ui, uis))).all()
    return {row.ui: tuple(row) for row in rows}


def stays(conn: Connection) -> Counter[tuple[Any, ...]]:
    """Every closed stay as a tuple of ``STAY`` (times made aware), counted."""
    columns = [containment.c[name] for name in STAY]
    return Counter(
        tuple(aware(v) if isinstance(v, datetime) else v for v in row)
        for row in conn.execute(select(*columns))
    )
