"""Group commit: concurrent small writes share commits, each returns once durable."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from itptrace.auth import audit
from itptrace.auth.model import AuditEntry
from itptrace.context import Context
from itptrace.repository.group_commit import GroupCommit
from itptrace.repository.schema import audit_log


def _entry(n: int) -> AuditEntry:
    return AuditEntry(None, None, "TEST", f"write {n}", {}, 0, "ok", 200)


def _rows(ctx: Context) -> int:
    with ctx.db.transaction() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())


def test_writes_that_arrive_while_one_commits_share_the_next_commit(ctx: Context) -> None:
    group = GroupCommit(ctx.db)
    first_started, release = threading.Event(), threading.Event()
    now = ctx.clock.now()

    def slow_first(conn: Connection) -> int:
        first_started.set()
        release.wait(10)
        return audit.insert(conn, _entry(0), now)

    before = _rows(ctx)
    with ThreadPoolExecutor(max_workers=9) as pool:
        leader = pool.submit(group.run, slow_first)
        assert first_started.wait(10)
        followers = [
            pool.submit(group.run, lambda c, n=n: audit.insert(c, _entry(n), now))
            for n in range(1, 9)
        ]
        deadline = time.monotonic() + 10
        while len(group._pending) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        seqs = [leader.result(), *(f.result() for f in followers)]
    assert len(set(seqs)) == 9
    assert (group.writes, group.commits) == (9, 2)
    assert _rows(ctx) == before + 9


def test_a_failing_write_fails_alone_and_the_others_are_kept(ctx: Context) -> None:
    group = GroupCommit(ctx.db)
    now = ctx.clock.now()
    started, release = threading.Event(), threading.Event()

    def blocker(conn: Connection) -> int:
        started.set()
        release.wait(10)
        return audit.insert(conn, _entry(0), now)

    def broken(conn: Connection) -> Any:
        audit.insert(conn, _entry(99), now)
        raise RuntimeError("this write is refused")

    before = _rows(ctx)
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(group.run, blocker)
        assert started.wait(10)
        bad = pool.submit(group.run, broken)
        good = pool.submit(group.run, lambda c: audit.insert(c, _entry(1), now))
        deadline = time.monotonic() + 10
        while len(group._pending) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        release.set()
        assert first.result() and good.result()
        with pytest.raises(RuntimeError, match="refused"):
            bad.result()
    assert _rows(ctx) == before + 2


def test_concurrent_audit_records_are_each_stored_once(ctx: Context) -> None:
    before = _rows(ctx)
    with ThreadPoolExecutor(max_workers=16) as pool:
        seqs = list(pool.map(lambda n: audit.record(ctx, _entry(n)), range(64)))
    assert len(set(seqs)) == 64
    assert _rows(ctx) == before + 64
    assert ctx.group_commit.writes == 64
