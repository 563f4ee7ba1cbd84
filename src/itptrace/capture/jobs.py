"""Queued capture (``POST /capture``): capture's kind of job, its handler and its submission.

A queued document is one job of kind ``capture`` in the node's job queue (``itptrace.jobs``):
accepting it is one insert, however large the document. A worker runs it with the
submitter's rights as they stand then, through ``capture_document``, the one capture
orchestration the CLI and ``POST /messages`` use too. The handler records the job's outcome
with the capture's ``on_commit`` hook, inside the transaction that stores the events: a
crash before that commit leaves the job to be claimed again with nothing stored, a crash
after it leaves the job finished. A job is therefore applied exactly once; a run that lost
its lease to another worker has its transaction rolled back, and capture being idempotent
by event id, it would store nothing twice anyway.

The reports of one operator (or of one user without an operator) are one lane of the
queue: they are captured in the order they were sent, however many workers there are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from itptrace import bounded_json
from itptrace.access import Actor, Permission, authorize
from itptrace.capture.formats import MalformedDocument, Shape, check_shape
from itptrace.capture.model import Problem
from itptrace.capture.service import CaptureResult, capture_document
from itptrace.context import Context
from itptrace.jobs import service as jobs
from itptrace.jobs.model import MIB, Finish, Job, JobKind, JobKinds, Outcome

if TYPE_CHECKING:
    from sqlalchemy import Connection

MAX_STORED_ERRORS = 10_000
PERMISSION = Permission.CAPTURE_REPORT


@dataclass(frozen=True)
class JobProblem:
    code: str
    message: str
    event_id: str | None = None
    subject: str | None = None


@dataclass(frozen=True)
class CaptureJob:
    """A capture job as ``GET /capture/{id}`` shows it."""

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


def _problem(p: Problem) -> dict[str, Any]:
    return {"code": p.code, "message": p.message, "event_id": p.event_id, "subject": p.subject}


def outcome(result: CaptureResult, kept: int = MAX_STORED_ERRORS) -> Outcome:
    """A capture's outcome as its job keeps it: counts, flags and the first ``kept`` errors
    (the job's answer then stays small however many events failed)."""
    errors = [_problem(p) for p in result.problems if not p.flag_only]
    summary = {
        "accepted": len(result.accepted),
        "duplicates": len(result.duplicates),
        "error_count": len(errors),
        "errors": errors[:kept],
        "flags": [_problem(p) for p in result.problems if p.flag_only][:MAX_STORED_ERRORS],
    }
    return Outcome(result.ok, summary)


def run(ctx: Context, actor: Actor, job: Job, payload: str, finish: Finish) -> Outcome:
    """The handler: capture the queued document as ``actor``, finishing the job with it."""

    kept = ctx.settings.refusal_problems

    def on_commit(conn: Connection, result: CaptureResult) -> None:
        finish(conn, outcome(result, kept))

    document = bounded_json.loads(payload)  # a job queued before the limit held is refused
    return outcome(capture_document(ctx, actor, document, on_commit=on_commit), kept)


KIND: JobKind[Context] = JobKind(
    "capture",
    PERMISSION,
    run,
    max_payload_bytes=64 * MIB,
    max_attempts=3,
    retry_delay=timedelta(seconds=1),
)


def register(kinds: JobKinds[Context]) -> None:
    """Capture's part of the node: the ``capture`` kind of job."""
    kinds.register(KIND)


def submit(
    ctx: Context, actor: Actor, body: bytes | str, *, token_id: str | None = None
) -> CaptureJob:
    """Queue a document for capture (one insert); it must be a JSON object or array.

    ``token_id`` is the token the actor came with: if it is revoked or expires before the
    job runs, the job fails and nothing is captured.
    """
    authorize(actor, PERMISSION)
    try:
        document_text = body.decode("utf-8") if isinstance(body, bytes) else body
        KIND.check_payload(document_text)  # before parsing it
        document = bounded_json.loads(document_text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedDocument(f"the body is not valid UTF-8 JSON: {exc}") from None
    check_shape(document, Shape.ANY)
    lane = f"capture:{actor.operator_id or actor.name}"
    return view(jobs.enqueue(ctx, actor, KIND, document_text, token_id=token_id, lane=lane))


def view(job: Job) -> CaptureJob:
    """What a capture job shows: its outcome's counts and problems, and the queue's reasons
    for failing it (refused rights, errors) among the errors."""
    summary = job.summary
    errors = [JobProblem(**p) for p in summary.get("errors", [])]
    if job.state.finished:
        errors += [JobProblem(p.code, p.message, None, p.subject) for p in job.problems]
    extra = len(job.problems) if job.state.finished else 0
    return CaptureJob(
        job.id,
        job.state.value,
        job.submitter.name,
        job.submitter.operator_id,
        job.received_at,
        job.started_at,
        job.finished_at,
        int(summary.get("accepted", 0)),
        int(summary.get("duplicates", 0)),
        int(summary.get("error_count", 0)) + extra,
        errors,
        [JobProblem(**p) for p in summary.get("flags", [])],
    )


def get_job(ctx: Context, actor: Actor, job_id: int) -> CaptureJob:
    """A job's status and outcome, for its submitter, its operator or the issuer."""
    return view(jobs.get_job(ctx, actor, KIND, job_id))


def list_jobs(ctx: Context, actor: Actor, *, after: int = 0, limit: int = 100) -> list[CaptureJob]:
    """The capture jobs ``actor`` may read, oldest first."""
    return [view(job) for job in jobs.list_jobs(ctx, actor, KIND, after=after, limit=limit)]
