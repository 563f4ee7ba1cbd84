"""Capture of whole documents: at once (``POST /events``, ``/messages``) or queued (``/capture``).

A queued document is one row of ``capture_jobs``: accepting it is one insert, however large
the document. One worker thread per node takes jobs oldest first and captures them with
the submitter's identity. The job's outcome is written by the capture's ``on_commit`` hook,
inside the transaction that stores the events: a crash before that commit leaves the job
pending and nothing stored, so the job runs again on restart; a crash after it leaves the
job finished. A job is therefore applied exactly once, and capture being idempotent by
event id, even a second worker racing for it would store nothing twice.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from itptrace.access import Actor, Role, require
from itptrace.capture import jobs_store as store
from itptrace.capture.formats import MalformedDocument, Shape, check_shape
from itptrace.capture.model import Problem
from itptrace.capture.service import CaptureResult, capture_document
from itptrace.capture.store import aware
from itptrace.context import Context
from itptrace.errors import DomainError, Forbidden, NotFound

log = logging.getLogger(__name__)
MAX_STORED_ERRORS = 10_000
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class JobProblem:
    code: str
    message: str
    event_id: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class Job:
    id: int
    status: str  # queued, running, done or failed
    user: str
    operator_id: str | None
    received_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    accepted: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[JobProblem] = field(default_factory=list)
    flags: list[JobProblem] = field(default_factory=list)


class _AlreadyFinished(Exception):
    """Another worker finished the job first; this run's transaction is rolled back."""


def submit(ctx: Context, actor: Actor, body: bytes | str) -> Job:
    """Queue a document for capture (one insert); it must be a JSON object or array."""
    require(actor, "capture.report")
    try:
        document_text = body.decode("utf-8") if isinstance(body, bytes) else body
        document = json.loads(document_text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedDocument(f"the body is not valid UTF-8 JSON: {exc}") from None
    check_shape(document, Shape.ANY)
    now = ctx.clock.now()
    values = {
        "status": "queued",
        "user_name": actor.name,
        "role": actor.role.value,
        "operator_id": actor.operator_id,
        "tobacco_industry": actor.tobacco_industry,
        "received_at": now,
        "attempts": 0,
        "document": document_text,
    }
    with ctx.db.transaction() as conn:
        job_id = store.insert_job(conn, values)
    return Job(job_id, "queued", actor.name, actor.operator_id, now)


def _job(row: Any) -> Job:
    result = json.loads(row.result) if row.result else {}
    return Job(
        int(row.id),
        row.status,
        row.user_name,
        row.operator_id,
        aware(row.received_at),
        aware(row.started_at) if row.started_at else None,
        aware(row.finished_at) if row.finished_at else None,
        int(result.get("accepted", 0)),
        int(result.get("duplicates", 0)),
        int(result.get("error_count", 0)),
        [JobProblem(**p) for p in result.get("errors", [])],
        [JobProblem(**p) for p in result.get("flags", [])],
    )


def get_job(ctx: Context, actor: Actor, job_id: int) -> Job:
    """A job's status and outcome, for its submitter, its operator or the issuer."""
    require(actor, "capture.report")
    with ctx.db.transaction() as conn:
        row = store.get_job(conn, job_id)
    if row is None:
        raise NotFound(f"no capture job {job_id}", subject=str(job_id))
    issuer = actor.role is Role.ISSUER_ADMIN and not actor.tobacco_industry
    own = row.user_name == actor.name or (
        actor.role is Role.OPERATOR and row.operator_id == actor.operator_id
    )
    if not (issuer or own):
        raise Forbidden(f"capture job {job_id} is not {actor.name}'s", subject=str(job_id))
    return _job(row)


def _problem(p: Problem) -> dict[str, Any]:
    return {"code": p.code, "message": p.message, "event_id": p.event_id, "subject": p.subject}


def outcome_json(result: CaptureResult) -> str:
    """The stored outcome of a job: counts, flags and (up to 10,000) errors."""
    errors = [_problem(p) for p in result.problems if not p.flag_only]
    return json.dumps(
        {
            "accepted": len(result.accepted),
            "duplicates": len(result.duplicates),
            "error_count": len(errors),
            "errors": errors[:MAX_STORED_ERRORS],
            "flags": [_problem(p) for p in result.problems if p.flag_only][:MAX_STORED_ERRORS],
        }
    )


def _fail(ctx: Context, job_id: int, problem: Problem) -> None:
    result = CaptureResult(problems=[problem])
    with ctx.db.transaction() as conn:
        store.finish(conn, job_id, "failed", outcome_json(result), ctx.clock.now())


def run_next(ctx: Context) -> int | None:
    """Capture the oldest pending job; returns its id, or None when the queue is empty."""
    with ctx.db.transaction() as conn:
        row = store.claim_next(conn, ctx.clock.now())
    if row is None:
        return None
    job_id = int(row.id)
    actor = Actor(row.user_name, Role(row.role), row.operator_id, bool(row.tobacco_industry))

    def finished(conn: Connection, result: CaptureResult) -> None:
        status = "done" if result.ok else "failed"
        if store.finish(conn, job_id, status, outcome_json(result), ctx.clock.now()) != 1:
            raise _AlreadyFinished

    try:
        capture_document(ctx, actor, json.loads(row.document), on_commit=finished)
    except _AlreadyFinished:
        log.warning("capture job %s was finished by another worker", job_id)
    except DomainError as exc:  # refused before anything was stored (e.g. not allowed)
        _fail(ctx, job_id, Problem(exc.code, exc.message, exc.subject))
    except Exception:
        log.exception("capture job %s failed (attempt %s)", job_id, row.attempts)
        if row.attempts >= MAX_ATTEMPTS:
            _fail(ctx, job_id, Problem("internal_error", "the job could not be processed"))
        else:
            with ctx.db.transaction() as conn:
                store.requeue(conn, job_id)
    return job_id


def queue_counts(ctx: Context) -> dict[str, int]:
    with ctx.db.transaction() as conn:
        return store.count_by_status(conn)


class Worker:
    """The node's one capture thread: started with the server, stopped cleanly with it."""

    def __init__(self, ctx: Context, *, poll_seconds: float = 0.5):
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start processing; pending jobs (queued or interrupted) are resumed in order."""
        self._thread = threading.Thread(target=self._run, name="itptrace-capture", daemon=True)
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

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ran = run_next(self.ctx)
            except Exception:  # the database is unreachable: try again shortly
                log.exception("capture worker: job processing failed")
                self._stop.wait(1.0)
                continue
            if ran is None:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
