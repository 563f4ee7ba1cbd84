"""Group commit: many small durable writes from concurrent threads, one commit for them all.

An audited read must not return before its audit record is durable, and on SQLite every
commit is synced to disk (``synchronous=FULL``), so one commit per record caps audited
reads at the disk's sync rate. Here each thread hands its write (a function of a
connection) to :meth:`GroupCommit.run` and waits. The first thread to arrive becomes the
leader: it takes every write waiting at that moment, runs each in a savepoint of one
transaction, commits once, and wakes the others, each with its own result or error. Writes
that arrive while it commits wait for the next round, led by the first of them; nobody
waits on purpose, so a lone write costs one commit as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from itptrace.repository.db import Database

Write = Callable[[Connection], Any]


@dataclass
class _Slot:
    write: Write
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: Any = None
    error: BaseException | None = None


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
            with self._db.transaction() as conn:
                for slot in batch:
                    try:
                        with conn.begin_nested():
                            slot.result = slot.write(conn)
                    except Exception as exc:  # this write fails alone; the others go on
                        slot.error = exc
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
