"""The migrated database matches the schema the code uses, on both databases."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from itptrace.context import Context
from itptrace.repository import migrate
from itptrace.repository.db import make_engine
from itptrace.repository.schema import metadata


def test_migrations_create_exactly_the_declared_schema(ctx: Context) -> None:
    with ctx.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(ctx: Context) -> None:
    assert migrate.is_current(ctx.db.engine)
    migrate.upgrade(ctx.db.engine)
    assert migrate.is_current(ctx.db.engine)


def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(ctx: Context) -> None:
    if ctx.db.dialect != "sqlite":
        return
    with ctx.db.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys")
        }
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not migrated at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    admin: str = request.getfixturevalue("pg_admin_url")
    name = f"blank{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{admin}/{name}"


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
