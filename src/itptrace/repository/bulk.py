"""Bulk writes behind one call: COPY on PostgreSQL, the driver's executemany on SQLite.

Both paths convert values with the columns' own SQLAlchemy type processors, so what they
store reads back exactly as rows written through SQLAlchemy do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

COPY_THRESHOLD = 2_000
DRIVER_THRESHOLD = 200


def _processors(
    conn: Connection, table: Table, columns: list[str]
) -> list[Callable[[Any], Any] | None]:
    dialect = conn.dialect
    found: list[Callable[[Any], Any] | None] = [
        table.c[name].type.bind_processor(dialect) for name in columns
    ]
    if dialect.name == "sqlite":
        # Dates reach SQLite through the sqlite3 module's own adapter (ISO 8601 with a
        # space); doing the same here lets a batch convert each distinct date once.
        found = [
            _iso_with_space if p is None and isinstance(table.c[name].type, DateTime) else p
            for name, p in zip(columns, found, strict=True)
        ]
    return found


def _iso_with_space(value: Any) -> Any:
    return value.isoformat(" ") if isinstance(value, datetime) else value


def among(
    conn: Connection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """``column IN (values)`` with the values bound as one parameter (an array on
    PostgreSQL, JSON read by ``json_each`` on SQLite): the statement text does not grow with
    the list, so it is compiled once and cached, and there is no limit on bound variables."""
    if conn.dialect.name == "postgresql":
        return column == any_(literal(list(values), ARRAY(column.type)))
    each = func.json_each(literal(json.dumps(list(values)))).table_valued("value")
    return column.in_(select(each.c.value))


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the caller's transaction."""
    if not rows:
        return
    columns = list(rows[0])
    insert_rows(conn, table, columns, [tuple(row[c] for c in columns) for row in rows])


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (value tuples in the order of ``columns``): the fastest bulk path."""
    if not rows:
        return
    name = conn.dialect.name
    names = ", ".join(columns)
    if name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    if name == "sqlite" and len(rows) >= DRIVER_THRESHOLD:
        # SQLAlchemy's executemany builds and checks parameters row by row; for large
        # batches the driver call with pre-converted tuples is several times faster. Only
        # the columns whose type converts values (dates, on SQLite) are touched.
        convert = [
            (i, _remembered(p))
            for i, p in enumerate(_processors(conn, table, list(columns)))
            if p is not None
        ]
        data: Iterable[Sequence[Any]] = rows
        if convert:
            data = (_converted(row, convert) for row in rows)
        marks = ", ".join("?" for _ in columns)
        # Table and column names come from our own schema, never from input.
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608
        conn.connection.driver_connection.cursor().executemany(statement, data)  # type: ignore[union-attr]
        return
    conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def _remembered(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``process`` with its answers kept for one batch: its rows mostly share the same few
    date objects (the event time of each event), converted once each. Keyed by identity,
    not equality (equal instants in two time zones are stored differently); the rows keep
    every value alive for the whole batch, so an identity is never reused meanwhile."""
    seen: dict[int, Any] = {}

    def convert(value: Any) -> Any:
        key = id(value)
        try:
            return seen[key]
        except KeyError:
            seen[key] = result = process(value)
            return result

    return convert


def _converted(row: Sequence[Any], convert: list[tuple[int, Callable[[Any], Any]]]) -> list[Any]:
    values = list(row)
    for i, process in convert:
        if values[i] is not None:
            values[i] = process(values[i])
    return values


def bulk_update(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]]) -> None:
    """Update rows by their ``key`` column; every row sets the same other columns."""
    if not rows:
        return
    columns = [c for c in rows[0] if c != key]
    if conn.dialect.name == "sqlite" and len(rows) >= DRIVER_THRESHOLD:
        processors = _processors(conn, table, [*columns, key])
        assignments = ", ".join(f"{c} = ?" for c in columns)
        statement = f"UPDATE {table.name} SET {assignments} WHERE {key} = ?"  # noqa: S608
        data = [
            tuple(
                p(row[c]) if p is not None and row[c] is not None else row[c]
                for c, p in zip([*columns, key], processors, strict=True)
            )
            for row in rows
        ]
        conn.connection.driver_connection.cursor().executemany(statement, data)  # type: ignore[union-attr]
        return
    values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns}
    statement_ = update(table).where(table.c[key] == bindparam(f"v_{key}")).values(values)
    conn.execute(statement_, [{f"v_{k}": v for k, v in row.items()} for row in rows])
