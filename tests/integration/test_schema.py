"""The migrated database matches the schema the code uses, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from itptrace.context import Context
from itptrace.repository import migrate
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
