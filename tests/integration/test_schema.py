"""The migrated database matches the schema the code uses, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from itptrace.context import Context
from itptrace.repository import migrate
from itptrace.repository.db import make_engine
from itptrace.repository.schema import metadata
from tests.conftest import SQLITE_ONLY, Databases
from tests.integration.chain import build_chain


def test_migrations_create_exactly_the_declared_schema(ctx: Context) -> None:
    with ctx.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(ctx: Context) -> None:
    assert migrate.is_current(ctx.db.engine)
    migrate.upgrade(ctx.db.engine)
    assert migrate.is_current(ctx.db.engine)


@SQLITE_ONLY  # PostgreSQL always logs ahead and checks references: see the next test
def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(ctx: Context) -> None:
    assert ctx.db.dialect == "sqlite"
    with ctx.db.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "wal_autocheckpoint")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "wal_autocheckpoint": 10000,
    }


def test_a_reference_to_a_missing_row_is_refused(ctx: Context) -> None:
    with pytest.raises(IntegrityError), ctx.db.transaction() as conn:
        conn.execute(text("INSERT INTO unit_uis (ui, request_id) VALUES ('KET01X', 999999)"))


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    """An empty database, not migrated at all (dropped after the test)."""
    return databases.new(request.param, blank=True)


def test_indexing_event_items_by_event_keeps_every_row_and_the_append_only_guard(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0007")
    rows = [("UI-A", 1, "item"), ("UI-B", 1, "item"), ("UI-A", 2, "parent")]
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO event_items (ui, event_seq, role) VALUES (:u, :s, :r)"),
            [{"u": u, "s": s, "r": r} for u, s, r in rows],
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT ui, event_seq, role FROM event_items")).all()
    assert sorted(tuple(r) for r in stored) == sorted(rows)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM event_items"))
    engine.dispose()


def test_the_items_of_an_event_and_the_events_of_a_ui_are_both_indexed(ctx: Context) -> None:
    found = inspect(ctx.db.engine)
    assert found.get_pk_constraint("event_items")["constrained_columns"] == ["ui", "event_seq"]
    indexes = {i["name"]: i["column_names"] for i in found.get_indexes("event_items")}
    assert indexes["ix_event_items_event"] == ["event_seq"]


def test_moving_current_stays_and_items_keeps_every_link_and_the_append_only_guard(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0008")
    event = (
        "INSERT INTO events (seq, event_id, message_type, originator_id, event_time,"
        " recorded_at, item_count, flags, fingerprint, source, details, parent) VALUES"
        " (:s, :e, :t, 'OP1', '2026-01-05 08:00:00', '2026-01-05 08:00:00', 2, '', 'f',"
        " 'native', '{}', :p)"
    )
    state = (
        "INSERT INTO ui_state (ui, kind, status, parent, created_seq, last_seq)"
        " VALUES (:u, 'unit', 'active', :p, 1, :l)"
    )
    stay = (
        "INSERT INTO containment (child, parent, from_seq, from_time, to_seq, to_time) VALUES"
        " (:c, 'BOX', 2, '2026-01-05 08:00:00', :to, :tt)"
    )
    with engine.begin() as conn:
        conn.execute(text(event), [{"s": 1, "e": "A", "t": "EUA", "p": None},
                                   {"s": 2, "e": "B", "t": "EPA", "p": "BOX"},
                                   {"s": 3, "e": "C", "t": "EUD", "p": "BOX"}])  # fmt: skip
        conn.execute(
            text("INSERT INTO event_items (ui, event_seq, role) VALUES (:u, :s, :r)"),
            [{"u": "P1", "s": 1, "r": "item"}, {"u": "P2", "s": 1, "r": "item"},
             {"u": "P1", "s": 2, "r": "item"}, {"u": "P2", "s": 2, "r": "item"},
             {"u": "BOX", "s": 2, "r": "parent"}, {"u": "P2", "s": 3, "r": "item"}],
        )  # fmt: skip
        conn.execute(text(state), [{"u": "P1", "p": "BOX", "l": 2}, {"u": "P2", "p": None, "l": 3}])
        conn.execute(text(stay), [{"c": "P1", "to": None, "tt": None},
                                  {"c": "P2", "to": 3, "tt": "2026-01-05 09:00:00"}])  # fmt: skip
    migrate.upgrade(engine)
    with engine.connect() as conn:
        uis = dict(conn.execute(text("SELECT seq, uis FROM events")).all())
        since = dict(conn.execute(text("SELECT ui, parent_since_seq FROM ui_state")).all())
        stays = conn.execute(text("SELECT child, from_seq, to_seq FROM containment")).all()
        links = conn.execute(text("SELECT count(*) FROM event_items")).scalar_one()
    assert uis == {1: '["P1", "P2"]', 2: '["P1", "P2"]', 3: '["P2"]'}
    assert since == {"P1": 2, "P2": None}
    assert [tuple(s) for s in stays] == [("P2", 2, 3)]
    assert links == 6
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE events SET uis = '[]'"))
    engine.dispose()


def test_issued_codes_are_keyed_indexed_by_request_and_append_only_without_rowid_on_sqlite(
    ctx: Context,
) -> None:
    """On SQLite the codes live in their key's B-tree (migration 0010); PostgreSQL keeps a
    heap with its primary-key index. Both index the request and refuse edits."""
    build_chain(ctx)  # issues unit and aggregated codes
    with ctx.db.engine.connect() as conn:
        for table, key in (("unit_uis", "ui"), ("aggregate_uis", "aui")):
            found = inspect(conn)
            assert found.get_pk_constraint(table)["constrained_columns"] == [key], table
            indexes = {i["name"]: i["column_names"] for i in found.get_indexes(table)}
            assert indexes[f"ix_{table.removesuffix('_uis')}_uis_request"] == ["request_id"]
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
            if ctx.db.dialect == "sqlite":
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}
                ).scalar_one()
                assert sql.rstrip().endswith("WITHOUT ROWID"), table
            else:
                kind = conn.execute(
                    text("SELECT relkind FROM pg_class WHERE relname = :t"), {"t": table}
                ).scalar_one()
                assert kind == "r", table  # an ordinary (heap) table
    for statement in ("DELETE FROM unit_uis", "UPDATE aggregate_uis SET tag = 'x'"):
        with pytest.raises(IntegrityError, match="append-only"), ctx.db.engine.begin() as conn:
            conn.execute(text(statement))
