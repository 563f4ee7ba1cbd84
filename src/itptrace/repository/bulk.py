"""Bulk writes behind one call: COPY on PostgreSQL, the driver's executemany on SQLite.

Both paths convert values with the columns' own SQLAlchemy type processors, so what they
store reads back exactly as rows written through SQLAlchemy do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, insert, update

COPY_THRESHOLD = 2_000
DRIVER_THRESHOLD = 200


def _processors(
    conn: Connection, table: Table, columns: list[str]
) -> list[Callable[[Any], Any] | None]:
    dialect = conn.dialect
    return [table.c[name].type.bind_processor(dialect) for name in columns]


def bulk_insert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the caller's transaction."""
    if not rows:
        return
    columns = list(rows[0])
    name = conn.dialect.name
    if name == "postgresql" and len(rows) >= COPY_THRESHOLD:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
        return
    if name == "sqlite" and len(rows) >= DRIVER_THRESHOLD:
        # SQLAlchemy's executemany builds and checks parameters row by row; for large
        # batches the driver call with pre-converted tuples is several times faster.
        processors = _processors(conn, table, columns)
        marks = ", ".join("?" for _ in columns)
        # Table and column names come from our own schema, never from input.
        statement = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        data = [
            tuple(
                p(row[c]) if p is not None and row[c] is not None else row[c]
                for c, p in zip(columns, processors, strict=True)
            )
            for row in rows
        ]
        conn.connection.driver_connection.cursor().executemany(statement, data)  # type: ignore[union-attr]
        return
    conn.execute(insert(table), list(rows))


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
