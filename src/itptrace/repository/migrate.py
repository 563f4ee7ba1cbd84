"""Bring a database to the current schema with Alembic, and tell whether it is there.

Only ``itptrace init``, ``itptrace db upgrade`` and ``itptrace serve --migrate`` migrate
(tests and tools may too, by asking); every other command calls :func:`require_current`,
which refuses a missing, empty, older or unknown schema with ``SchemaNotReady`` naming the
command to run, and creates nothing (a missing SQLite file is not opened at all).

Migrations of one database are serialised by the database itself, so node processes
starting together with ``--migrate`` neither race nor fail: the first migrates, the others
wait, then find the schema at head and do nothing.

* PostgreSQL: a transaction-scoped advisory lock (``pg_advisory_xact_lock``) taken in the
  migration's transaction before Alembic reads its version table; released at commit or
  rollback, so a crashed migration leaves no lock behind. The migrations run in that one
  transaction (PostgreSQL DDL is transactional and none of them commits on its own).
* SQLite: ``BEGIN IMMEDIATE``, which takes the database's write lock before Alembic reads
  its version table; the others wait in SQLite's busy handler (up to ``MIGRATION_WAIT``,
  enough for the largest rebuild). A lock file beside the database was the alternative: it
  would be one more file to create with the right rights and to leave behind, and would
  not stop a process that ignores it, whereas every writer must take the write lock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from itptrace.errors import DomainError
from itptrace.repository.db import BUSY_TIMEOUT_MS, SQLITE_BEGIN_IMMEDIATE

# pg_advisory_xact_lock key for migrations: "itpt" in ASCII, so it names this program.
MIGRATION_LOCK_KEY = 0x69747074
# How long (seconds) a migration waits for another one on SQLite before giving up.
MIGRATION_WAIT = 3600


class SchemaNotReady(DomainError):
    """The database is missing, empty or at a schema this program cannot use as it is."""

    code = "schema_not_ready"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", "itptrace.repository:migrations")
    return config


def head() -> str:
    """The newest revision this program knows."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None, "the migrations have one head"
    return revision


@contextmanager
def _serialised(connection: Connection) -> Iterator[None]:
    """One transaction on ``connection`` that no other migration of the database overlaps."""
    if connection.dialect.name == "postgresql":
        with connection.begin():
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
            yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={MIGRATION_WAIT * 1000}")
    try:
        connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
        with connection.begin():
            yield
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration not yet applied (up to ``revision``, for tests of a migration);
    a no-op on an up-to-date database. Safe to run from several processes at once."""
    config = _config()
    for attempt in range(20):
        try:
            with engine.connect() as connection, _serialised(connection):
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            return
        except OperationalError as exc:
            # SQLite: another process created the same new file at the same instant and
            # its first lock was not waited for; the migration itself is all or nothing.
            if engine.dialect.name != "sqlite" or "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.25)


def downgrade(engine: Engine, revision: str) -> None:
    """Undo the migrations after ``revision`` (for tests of a migration's way back)."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The database's revision: None when it has no schema, or is an SQLite file that does
    not exist (which is then not created)."""
    path = _sqlite_file(engine)
    if path is not None and not path.exists():
        return None
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration."""
    return current_revision(engine) == head()


def _sqlite_file(engine: Engine) -> Path | None:
    """The file of an SQLite database (None for in-memory ones and other databases)."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(url.database)


def _shown(engine: Engine) -> str:
    path = _sqlite_file(engine)
    return str(path) if path is not None else engine.url.render_as_string(hide_password=True)


def require_current(engine: Engine) -> None:
    """Refuse, with the command to run, a database this program may not use as it is.

    Nothing is created or changed: a missing SQLite file is not opened (opening creates
    it), and the schema is only read.
    """
    where = _shown(engine)
    path = _sqlite_file(engine)
    if path is not None and not path.exists():
        raise SchemaNotReady(
            f"there is no itptrace database at {where}: run `itptrace init` to create it"
        )
    try:
        found = current_revision(engine)
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise SchemaNotReady(
            f"cannot open the database {where}: {reason}", code="database_unavailable"
        ) from None
    newest = head()
    if found == newest:
        return
    if found is None:
        raise SchemaNotReady(
            f"the database {where} has no itptrace schema: run `itptrace init` to create it"
        )
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if found in known:
        raise SchemaNotReady(
            f"the database {where} is at schema {found} and this itptrace needs {newest}: "
            "run `itptrace db upgrade`"
        )
    raise SchemaNotReady(
        f"the database {where} is at schema {found}, newer than this itptrace knows "
        f"(its newest is {newest}): run the itptrace that migrated it"
    )
