"""Signed checkpoints made periodically while the node serves (as well as on demand).

A thread signs a checkpoint every ``ITPTRACE_CHECKPOINT_INTERVAL`` seconds when the log has
grown since the last one; 0 turns it off. A refusal (an inconsistent view) is logged and
the thread goes on: the node never signs two inconsistent views, and an operator must look.
"""

from __future__ import annotations

import logging
import threading

from itptrace.access import local_issuer
from itptrace.context import Context
from itptrace.ledger import service as ledger

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, ctx: Context, interval_seconds: float):
        self.ctx = ctx
        self.interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.made = 0

    def tick(self) -> bool:
        """Sign a checkpoint if the log grew since the latest one; True when one was made."""
        latest = ledger.latest_checkpoint(self.ctx)
        if latest is not None and ledger.tree_head(self.ctx).size == latest.size:
            return False
        ledger.make_checkpoint(self.ctx, local_issuer())
        self.made += 1
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # logged and retried next period; the server keeps serving
                log.exception("periodic ledger checkpoint failed")

    def start(self) -> None:
        if self.interval > 0:
            self._thread = threading.Thread(
                target=self._run, name="itptrace-checkpoints", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
