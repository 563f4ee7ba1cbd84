"""Group commit: many small durable writes from concurrent threads, one commit for them all.

An audited read must not return before its audit record is durable, and on SQLite every
commit is synced to disk (``synchronous=FULL``), so one commit per record caps audited
reads at the disk's sync rate. Here each thread hands its write (a function of a
connection) to :meth:`GroupCommit.run` and waits. The first thread to arrive becomes the
leader: it takes every write waiting at that moment, runs them in one transaction, commits
once, and wakes the others, each with its own result or error. Writes that arrive while it
commits wait for the next round, led by the first of them; nobody waits on purpose, so a
lone write costs one commit as before. The leaders of several processes on one SQLite file
take turns through ``Database.writers_queue`` instead of SQLite's sleeping retries.

A write made with :class:`Together` names a function that stores many items at once (the
audit trail's: every record and its ledger leaf with one statement per table), so a round
of many such writes costs a few statements, not a few per write. A round first runs as a
whole, with no savepoint; if one of its writes fails, that transaction is rolled back and
the round runs again with each write in a savepoint of its own, so the failing write fails
alone and the others are kept. A write may therefore run twice: it must do nothing but
database work in the connection it is given.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Connection

from itptrace.repository.db import Database

Write = Callable[[Connection], Any]
Item = TypeVar("Item")


@dataclass(frozen=True)
class Together(Generic[Item]):
    """A write of one ``item`` by ``store_many(conn, items)``, which returns one result per
    item in order; the writes of one round with the same ``store_many`` share its call."""

    store_many: Callable[[Connection, Sequence[Item]], Sequence[Any]]
    item: Item

    def __call__(self, conn: Connection) -> Any:
        return self.store_many(conn, [self.item])[0]


@dataclass
class _Slot:
    write: Write
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: Any = None
    error: BaseException | None = None


class _WriteFailed(Exception):
    """A write of the round failed (not the commit): run the round again, one by one."""


class GroupCommit:
    """Commits the writes of concurrent callers together; each returns once durable."""

    def __init__(self, db: Database, max_batch: int = 256):
        self._db = db
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._pending: list[_Slot] = []
        self._leading = False
        self.commits = 0  # how many transactions carried the writes (for benchmarks)
        self.writes = 0

    def run(self, write: Write) -> Any:
        """Run ``write`` in a shared transaction; return its result once committed."""
        slot = _Slot(write)
        with self._lock:
            self._pending.append(slot)
            slot.lead = not self._leading
            self._leading = True
        if not slot.lead:
            # Woken once: either its write is committed, or it now leads the next round
            # (a slot waiting for a round is never also in the round being committed).
            slot.done.wait()
        if slot.lead:
            self._lead()
        return self._outcome(slot)

    @staticmethod
    def _outcome(slot: _Slot) -> Any:
        if slot.error is not None:
            raise slot.error
        return slot.result

    def _lead(self) -> None:
        with self._lock:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
        try:
            try:
                self._commit_whole(batch)
            except _WriteFailed as failed:
                if len(batch) == 1:  # alone again, it would fail again
                    batch[0].error = failed.__cause__
                else:
                    self._commit_one_by_one(batch)
        except BaseException as exc:  # the commit itself failed: nothing of the batch holds
            for slot in batch:
                slot.error = slot.error or exc
        with self._lock:
            self.commits += 1
            self.writes += len(batch)
            for slot in batch:
                slot.lead = False
                slot.done.set()
            if self._pending:
                successor = self._pending[0]
                successor.lead = True
                successor.done.set()
            else:
                self._leading = False

    def _commit_whole(self, batch: list[_Slot]) -> None:
        """The round in one transaction, no savepoints; rolled back and ``_WriteFailed`` (the
        write's error as its cause) if a write failed."""
        groups: dict[Any, list[_Slot]] = {}
        for slot in batch:
            key = slot.write.store_many if isinstance(slot.write, Together) else id(slot)
            groups.setdefault(key, []).append(slot)
        results: list[tuple[_Slot, Any]] = []
        with self._db.writers_queue(), self._db.transaction() as conn:
            try:
                for slots in groups.values():
                    first = slots[0].write
                    if isinstance(first, Together):
                        items = [cast(Together[Any], slot.write).item for slot in slots]
                        results.extend(zip(slots, first.store_many(conn, items), strict=True))
                    else:
                        results.append((slots[0], first(conn)))
            except Exception as exc:
                raise _WriteFailed from exc
        for slot, result in results:
            slot.result = result

    def _commit_one_by_one(self, batch: list[_Slot]) -> None:
        with self._db.writers_queue(), self._db.transaction() as conn:
            for slot in batch:
                try:
                    with conn.begin_nested():
                        slot.result = slot.write(conn)
                except Exception as exc:  # this write fails alone; the others go on
                    slot.error = exc
