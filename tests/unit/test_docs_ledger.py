"""docs/ledger.md names the leaf kinds, their refs and their fields as the code writes them.

The kinds come from the registered leaf sources (what ``fsck`` recomputes). Refs and fields
are checked by behaviour: a record is put in the table the document names, in an
in-memory SQLite database with the node's schema, and the kind's leaf source must find it
by the documented ref and encode exactly the documented fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Table, create_engine, insert

from itptrace.ledger import records, sources
from itptrace.ledger.encoding import decode_record
from itptrace.repository.schema import metadata
from tests.unit.markdown import DOCS, only_code, section, table_with

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def leaf_table() -> list[dict[str, str]]:
    text = section((DOCS / "ledger.md").read_text(), "## Leaf data")
    return table_with(text, "kind", "ref", "written when", "fields")


def documented_fields(cell: str) -> list[str]:
    """`a b c`, plus `d` and `e` -> [a, b, c, d, e]."""
    return [name for span in re.findall(r"`([^`]+)`", cell) for name in span.split()]


def registered_sources() -> dict[str, sources.LeafSource]:
    # what the composition root gives the node: the issuer's kinds, events and audit records
    return dict(sources.leaf_sources(sources.ISSUER_SOURCES, records.RECORD_SOURCES))


def test_the_ledger_document_lists_every_kind_of_leaf_the_code_writes_and_no_other() -> None:
    documented = [only_code(row["kind"]) for row in leaf_table()]
    assert len(documented) == len(set(documented)), "a kind is listed twice"
    assert set(documented) == set(registered_sources())


@pytest.fixture
def conn() -> Iterator[Connection]:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        yield connection
    engine.dispose()


def sample_value(column: Column[Any]) -> Any:
    """Some valid value for ``column`` (foreign keys are not enforced here)."""
    constrained = {
        "kind": "unit",  # code_requests allows 'unit' or 'aggregate'
        "verdict": "authentic",  # scans
        "severity": "high",  # alerts
        "status": "open",  # alert_status (audit_log's status is an integer)
    }
    if column.name in constrained and column.type.python_type is str:
        return constrained[column.name]
    python_type = column.type.python_type
    if python_type is str:
        # Text columns hold JSON (an event's items, an audit record's parameters).
        return "[]" if type(column.type).__name__ == "Text" else f"{column.name}-1"
    samples: dict[type, Any] = {
        int: 1,
        bool: False,
        datetime: NOW,
        Decimal: Decimal(1),
        bytes: b"x",
        float: 1.0,
    }
    return samples[python_type]


def stored_sample(conn: Connection, table: Table) -> dict[str, Any]:
    row = {column.name: sample_value(column) for column in table.columns}
    conn.execute(insert(table).values(row))
    return row


@pytest.mark.parametrize("row", leaf_table(), ids=lambda row: only_code(row["kind"]))
def test_each_leaf_source_finds_its_record_by_the_documented_ref(
    conn: Connection, row: dict[str, str]
) -> None:
    kind = only_code(row["kind"])
    table_name, _, column = only_code(row["ref"]).partition(".")
    table = metadata.tables[table_name]
    stored = stored_sample(conn, table)
    source = registered_sources()[kind]
    assert source(conn, str(stored[column])) is not None, f"{kind} is not found by {row['ref']}"
    assert source(conn, "999") is None and source(conn, "no-such-record") is None


@pytest.mark.parametrize("row", leaf_table(), ids=lambda row: only_code(row["kind"]))
def test_each_leaf_holds_exactly_the_documented_fields(
    conn: Connection, row: dict[str, str]
) -> None:
    kind = only_code(row["kind"])
    table_name, _, column = only_code(row["ref"]).partition(".")
    stored = stored_sample(conn, metadata.tables[table_name])
    data = registered_sources()[kind](conn, str(stored[column]))
    assert data is not None
    leaf_kind, fields = decode_record(data)
    assert leaf_kind == kind
    assert sorted(fields) == sorted(documented_fields(row["fields"]))
