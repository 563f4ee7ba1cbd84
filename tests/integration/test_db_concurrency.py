"""The database under many concurrent requests: pooled connections and writers' turns."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import event, text

from itptrace.context import Context
from itptrace.repository.db import Database, make_engine
from itptrace.repository.group_commit import GroupCommit


def test_sixteen_concurrent_requests_reuse_their_connections_instead_of_opening_new_ones(
    ctx: Context,
) -> None:
    opened: list[object] = []
    event.listen(ctx.db.engine, "connect", lambda conn, _record: opened.append(conn))
    barrier = threading.Barrier(16)

    def request(_n: int) -> None:
        with ctx.db.reading() as conn:
            barrier.wait(30)  # all sixteen hold a connection at once
            conn.execute(text("SELECT 1"))

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(request, range(16)))
        first = len(opened)
        list(pool.map(request, range(16)))
    assert len(opened) == first, "the second round opened connections again"


def test_group_commit_leaders_of_two_nodes_on_one_sqlite_file_take_turns_through_a_lock(
    ctx: Context,
) -> None:
    if ctx.db.dialect != "sqlite":
        pytest.skip("the writers' lock file is SQLite's (PostgreSQL queues on row locks)")
    other = Database(make_engine(ctx.settings.database_url))  # as another process would
    began: list[float] = []
    event.listen(other.engine, "begin", lambda _conn: began.append(time.monotonic()), insert=True)
    group = GroupCommit(other)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        with ctx.db.writers_queue():
            write = pool.submit(group.run, lambda conn: conn.execute(text("SELECT 1")))
            time.sleep(0.3)
            assert began == [], "the other node's leader began while the lock was held"
            released = time.monotonic()
        write.result(timeout=30)
        assert began and began[0] >= released
    finally:
        pool.shutdown()
        other.dispose()
