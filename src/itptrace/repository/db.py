"""Engines for SQLite (embedded default) and PostgreSQL (scale path), same code on both.

SQLite runs in WAL mode with ``synchronous=FULL`` and foreign keys on, so an accepted
write survives a power cut and references are enforced as on PostgreSQL. A database file
it creates, and its WAL, are readable and writable by their owner only (0600).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

# Services catch a unique-key clash by this name, so only the repository imports SQLAlchemy.
__all__ = ["Database", "IntegrityError", "aware", "make_engine"]

# How long an SQLite connection waits for another writer before "database is locked".
BUSY_TIMEOUT_MS = 30_000
# Connections kept open between requests, and how many more may open under load: together
# the API's 40 request threads (anyio's default), so none waits for a connection. Beyond
# the kept ones a connection is closed when returned, so too few kept would open (and set
# up) a new connection for most requests under load.
POOL_SIZE, MAX_OVERFLOW = 16, 24
# Connection execution option: begin this connection's transactions with BEGIN IMMEDIATE,
# taking the write lock at once (migrations use it to run one at a time).
SQLITE_BEGIN_IMMEDIATE = "itptrace_begin_immediate"


def _owner_only(cursor: Any) -> None:
    """Make a database file this connection has just created readable by its owner only.

    The file holds every record and the issuer's history, so it is created 0600 whatever
    the umask. SQLite creates the ``-wal`` and ``-shm`` files with the database file's
    permissions, so this is done before the switch to WAL below creates them. An existing
    file (not empty) keeps the permissions its operator gave it.
    """
    for _seq, name, path in cursor.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            with contextlib.suppress(OSError):
                if os.path.getsize(path) == 0:
                    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    _owner_only(cursor)
    # First, so that the switch to WAL below waits for a process creating the same file.
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    # Switching a brand-new file to WAL takes an exclusive lock that SQLite's busy handler
    # does not always wait for when another process is creating the same file: try again
    # for a few seconds, then let the error through.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # 64 MiB of page cache per connection (the default is 2 MiB): UIs are random, so the
    # indexes keyed on them are written all over, and re-reading pages dominates a capture.
    cursor.execute("PRAGMA cache_size=-65536")
    # Copy the WAL into the database every ~40 MB of log rather than every 4 MB: a large
    # capture rewrites the same index pages commit after commit, and each checkpoint writes
    # a page once however many commits changed it. Every commit is still synced (FULL);
    # the log file is cut back to 64 MB after a checkpoint.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.execute("PRAGMA journal_size_limit=67108864")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; ``postgresql://`` URLs use psycopg 3."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=MAX_OVERFLOW
        )
    if parsed.get_backend_name() != "sqlite":
        raise ValueError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    in_memory = parsed.database in (None, "", ":memory:")  # one connection per thread
    pool = {} if in_memory else {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    engine = create_engine(parsed, **pool)
    event.listen(engine, "connect", _sqlite_pragmas)
    # The sqlite3 module opens transactions on its own and knows no SAVEPOINT nesting;
    # letting SQLAlchemy emit BEGIN itself makes transactions and savepoints behave as on
    # PostgreSQL (the recipe from SQLAlchemy's SQLite dialect documentation).
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_begin(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(SQLITE_BEGIN_IMMEDIATE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def aware(value: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they are stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Database:
    """The node's database: one engine and a way to run a unit of work in one transaction."""

    def __init__(self, engine: Engine):
        self.engine = engine
        path = engine.url.database if self.dialect == "sqlite" else None
        self._writers_lock = f"{path}-writers.lock" if path and path != ":memory:" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A unit of work that may write, in one transaction: committed on success, rolled
        back on error. On SQLite it takes the write lock at its start (BEGIN IMMEDIATE),
        waiting for it up to the busy timeout: a transaction that read first and wrote later
        would be refused at once if another writer committed in between."""
        with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                connection.execution_options(**{SQLITE_BEGIN_IMMEDIATE: True})
            with connection.begin():
                yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A unit of work that only reads: one consistent snapshot, concurrent with writers
        (WAL on SQLite). Writing in it is a mistake (SQLite may refuse the upgrade)."""
        with self.engine.begin() as connection:
            yield connection

    @contextmanager
    def writers_queue(self) -> Iterator[None]:
        """On an SQLite file, wait in the kernel for the other processes' writers that queue
        here too (an exclusive ``flock`` of ``<database>-writers.lock``); elsewhere nothing.

        A writer that finds the database locked is otherwise woken by SQLite's busy handler,
        which sleeps 1, 2, 5, 10 ... 100 ms between tries: two API processes committing
        audit records in turn would mostly sleep. A lock released here wakes the next writer
        at once. Hold it only around one write transaction that waits for nobody else.
        """
        if self._writers_lock is None:
            yield
            return
        fd = os.open(self._writers_lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the file lets the lock go

    def dispose(self) -> None:
        self.engine.dispose()
