"""The node's job worker: a thread that claims jobs one at a time and runs their handlers.

It belongs to the node (``ctx.worker``, made by ``bootstrap``); the API app's lifespan
starts and stops it. Nothing is shared between workers but the database: any number of
them, in one process or many, claim jobs with ``service.claim`` and never run the same
one twice at once. While a handler runs, the worker renews its lease every third of the
lease; if the process dies, the lease runs out and another worker takes the job again.
``run_next`` is one turn of the loop, called directly by tests.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from itptrace.context import Context
from itptrace.errors import DomainError
from itptrace.jobs import service
from itptrace.jobs.model import Claim, JobKinds, JobProblem, LeaseLost, Outcome

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
INTERNAL = JobProblem("internal_error", "the job could not be processed")


class _Finish:
    """The ``Finish`` a handler gets: records the outcome under the run's claim."""

    def __init__(self, ctx: Context, claim: Claim):
        self.ctx = ctx
        self.claim = claim
        self.called = False

    def __call__(self, conn: Any, outcome: Outcome) -> None:
        service.complete(self.ctx, conn, self.claim, outcome)
        self.called = True


@contextmanager
def _renewing(ctx: Context, claim: Claim, lease: timedelta) -> Iterator[None]:
    """Renew the claim's lease every third of ``lease`` until the block ends."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease.total_seconds() / 3):
            try:
                if not service.extend_lease(ctx, claim, lease):
                    log.warning("job %s: lease lost; its outcome will not count", claim.job.id)
                    return
            except Exception as exc:  # e.g. SQLite busy while the handler writes: next time
                log.warning("job %s: lease not renewed (%s)", claim.job.id, exc)

    thread = threading.Thread(target=renew, name=f"itptrace-lease-{claim.job.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)  # a renewal still waiting for the database changes nothing


def run_next(ctx: Context, kinds: JobKinds[Context], *, lease: timedelta = LEASE) -> int | None:
    """Claim and run the oldest runnable job of ``kinds``; its id, or None if there was none.

    The submitter's rights are checked again first: refused, the job fails with the reason
    and its handler never runs. A refusal by the handler (``DomainError``) fails the job;
    another error queues it again while attempts remain.
    """
    claim = service.claim(ctx, kinds.names, lease=lease) if kinds.names else None
    if claim is None:
        return None
    job, kind = claim.job, kinds.get(claim.job.kind)
    try:
        try:
            actor = service.recheck(ctx, kind, job)
        except DomainError as exc:
            log.info("job %s refused: %s", job.id, exc.message)
            service.fail(ctx, claim, JobProblem.of(exc))
            return job.id
        finish = _Finish(ctx, claim)
        try:
            with _renewing(ctx, claim, lease):
                outcome = kind.handler(ctx, actor, job, claim.payload, finish)
            if not finish.called:
                service.finish(ctx, claim, outcome)
        except LeaseLost:
            raise
        except DomainError as exc:  # refused before anything was stored
            service.fail(ctx, claim, JobProblem.of(exc))
        except Exception:
            log.exception("job %s (%s) failed on attempt %s", job.id, kind.name, job.attempts)
            service.retry_or_fail(ctx, kind, claim, INTERNAL)
    except LeaseLost:
        log.warning("job %s was claimed again or finished elsewhere; this run is void", job.id)
    return job.id


class Worker:
    """The node's job thread: started with the server, stopped cleanly with it."""

    def __init__(
        self,
        ctx: Context,
        kinds: JobKinds[Context] | None = None,
        *,
        poll_seconds: float = 0.5,
        lease: timedelta = LEASE,
    ):
        self.ctx = ctx
        self.kinds = kinds if kinds is not None else ctx.jobs
        self.poll_seconds = poll_seconds
        self.lease = lease
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def status(self) -> str:
        """``off`` (not started), ``running``, or ``stopped`` (its thread died)."""
        if self._thread is None:
            return "off"
        return "running" if self._thread.is_alive() else "stopped"

    def start(self) -> None:
        """Start processing; pending jobs (queued, or abandoned by a dead worker) resume."""
        if self.alive:
            raise RuntimeError("the job worker is running already")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="itptrace-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the current job (up to ``timeout`` seconds) and stop."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ran = run_next(self.ctx, self.kinds, lease=self.lease)
            except Exception:  # the database is unreachable: try again shortly
                log.exception("job worker: a job could not be claimed or recorded")
                self._stop.wait(1.0)
                continue
            if ran is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
