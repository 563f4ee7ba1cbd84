"""Group commit: concurrent small writes share commits, each returns once durable."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, event, func, select

from itptrace.access import Actor, Role, local_authority
from itptrace.auth import audit
from itptrace.auth.model import AuditEntry
from itptrace.context import Context
from itptrace.ledger.fsck import fsck
from itptrace.repository.group_commit import GroupCommit, Together
from itptrace.repository.schema import audit_log, ledger_leaves, scans
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from itptrace.verify.model import Place, ScanInput
from itptrace.verify.service import verify


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


def _queue_behind_a_slow_write(
    group: GroupCommit, pool: ThreadPoolExecutor, writes: list[Any]
) -> tuple[Any, list[Any], threading.Event]:
    """Start a write that waits, queue ``writes`` behind it (one round), and return the
    futures and the event that lets the first write finish."""
    started, release = threading.Event(), threading.Event()

    def slow(_conn: Connection) -> None:
        started.set()
        release.wait(10)

    first = pool.submit(group.run, slow)
    assert started.wait(10)
    queued = [pool.submit(group.run, write) for write in writes]
    deadline = time.monotonic() + 10
    while len(group._pending) < len(writes) and time.monotonic() < deadline:
        time.sleep(0.01)
    return first, queued, release


def test_a_round_of_audit_records_costs_a_few_statements_whatever_its_size(
    ctx: Context,
) -> None:
    group = GroupCommit(ctx.db)
    now = ctx.clock.now()
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.current_thread() is not main:
            statements.append(statement)

    main = threading.current_thread()
    with ThreadPoolExecutor(max_workers=33) as pool:
        writes = [Together(audit.insert_many, (_entry(n), now)) for n in range(32)]
        first, queued, release = _queue_behind_a_slow_write(group, pool, writes)
        event.listen(ctx.db.engine, "before_cursor_execute", count)
        try:
            release.set()
            first.result()
            seqs = [f.result() for f in queued]
        finally:
            event.remove(ctx.db.engine, "before_cursor_execute", count)
    assert len(set(seqs)) == 32 and group.commits == 2
    # The slow write's commit, then one round: the records, the ledger head, its frontier,
    # the leaves and the new nodes (and BEGIN/COMMIT), not several statements per record.
    assert len(statements) <= 10, statements
    with ctx.db.transaction() as conn:
        leaves = conn.execute(
            select(func.count())
            .select_from(ledger_leaves)
            .where(ledger_leaves.c.kind == "audit", ledger_leaves.c.ref.in_([str(s) for s in seqs]))
        ).scalar_one()
    assert leaves == 32
    assert fsck(ctx, local_authority()).ok


def test_a_failing_item_of_a_shared_write_fails_alone(ctx: Context) -> None:
    group = GroupCommit(ctx.db)
    now = ctx.clock.now()

    def store_many(conn: Connection, items: Sequence[int]) -> list[int]:
        if 13 in items:
            raise RuntimeError("item 13 is refused")
        return audit.insert_many(conn, [(_entry(n), now) for n in items])

    before = _rows(ctx)
    with ThreadPoolExecutor(max_workers=6) as pool:
        writes = [Together(store_many, n) for n in (1, 2, 13, 4)]
        first, queued, release = _queue_behind_a_slow_write(group, pool, writes)
        release.set()
        first.result()
        outcomes = [f.exception() or f.result() for f in queued]
    assert [isinstance(o, RuntimeError) for o in outcomes] == [False, False, True, False]
    assert _rows(ctx) == before + 3
    assert fsck(ctx, local_authority()).ok


def test_concurrent_audit_records_are_each_stored_once(ctx: Context) -> None:
    before = _rows(ctx)
    with ThreadPoolExecutor(max_workers=16) as pool:
        seqs = list(pool.map(lambda n: audit.record(ctx, _entry(n)), range(64)))
    assert len(set(seqs)) == 64
    assert _rows(ctx) == before + 64
    assert ctx.group_commit.writes == 64


def test_concurrent_verifications_are_stored_and_audited_once_each_even_with_a_resubmission(
    ctx: Context,
) -> None:
    run = run_supply_chain(ServiceDriver(ctx), lambda _text: None)
    inspector, at = Actor("inspector-wanjiru", Role.INSPECTOR), ctx.clock.now()
    resent = str(uuid.uuid4())

    def scan(n: int) -> ScanInput:
        if n < 4:  # the same scan, sent four times at once
            return ScanInput(run.packs[0], Place("KE", None), at, resent)
        return ScanInput(run.packs[n % 5], Place("KE", None), at, str(uuid.uuid4()))

    before = _rows(ctx)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda n: verify(ctx, inspector, scan(n)), range(24)))
    assert sum(not r.repeated for r in results) == 21  # 20 new scan ids and the resent one
    with ctx.db.transaction() as conn:
        stored = conn.execute(select(func.count()).select_from(scans)).scalar_one()
    assert stored == 21
    assert _rows(ctx) == before + 24  # a record for every verification, repeated or not
    assert fsck(ctx, local_authority()).ok
