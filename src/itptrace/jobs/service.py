"""The job queue's services: enqueue, claim, finish or retry, and read with the caller's scope.

Submitting takes the kind's permission and stores the job in one insert. A worker claims
the oldest runnable job under a lease (``store.claim_next``), checks its submitter's
rights again (``recheck``: a user disabled, a token revoked or expired since, or a role
that lost the right fails the job with the reason, before its handler runs), and records
the outcome under that lease. A job is read by its submitter, its submitter's operator and
the issuer (``model.may_read``); anyone else is refused.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Role, authorize
from itptrace.auth import service as auth
from itptrace.context import Context
from itptrace.errors import Forbidden, NotFound
from itptrace.jobs import store
from itptrace.jobs.model import (
    Claim,
    Job,
    JobKind,
    JobProblem,
    JobState,
    LeaseLost,
    Outcome,
    Submitter,
    bounded,
    may_read,
    sees_all,
)
from itptrace.repository.db import aware

if TYPE_CHECKING:
    from sqlalchemy import Connection

ABANDONED = JobProblem(
    "job_abandoned", "the job's worker stopped before it finished, on every attempt"
)
MAX_LIST = 1000


def enqueue(
    ctx: Context,
    actor: Actor,
    kind: JobKind[Context],
    payload: str,
    *,
    token_id: str | None = None,
    lane: str | None = None,
) -> Job:
    """Queue a job of ``kind`` for ``actor`` (who came with the token ``token_id``, if any)."""
    authorize(actor, kind.permission)
    kind.check_payload(payload)
    now = ctx.clock.now()
    submitter = Submitter.of(actor, token_id)
    values = {
        "kind": kind.name,
        "state": JobState.QUEUED.value,
        "lane": lane[:200] if lane else None,
        "user_name": actor.name,
        "role": actor.role.value,
        "operator_id": actor.operator_id,
        "tobacco_industry": actor.tobacco_industry,
        "token_id": token_id,
        "received_at": now,
        "available_at": now,
        "attempts": 0,
        "max_attempts": kind.max_attempts,
        "payload": payload,
    }
    with ctx.db.transaction() as conn:
        job_id = store.insert_job(conn, values)
    return Job(job_id, kind.name, JobState.QUEUED, submitter, now, 0, kind.max_attempts, lane)


def _problems(text: str | None) -> tuple[JobProblem, ...]:
    return tuple(JobProblem(**p) for p in json.loads(text)) if text else ()


def _problems_json(problems: Sequence[JobProblem]) -> str | None:
    return json.dumps([p.__dict__ for p in bounded(list(problems))]) if problems else None


def job_of(row: Any) -> Job:
    submitter = Submitter(
        row.user_name, Role(row.role), row.operator_id, bool(row.tobacco_industry), row.token_id
    )
    return Job(
        int(row.id),
        row.kind,
        JobState(row.state),
        submitter,
        aware(row.received_at),
        int(row.attempts),
        int(row.max_attempts),
        row.lane,
        aware(row.started_at) if row.started_at else None,
        aware(row.finished_at) if row.finished_at else None,
        json.loads(row.result) if row.result else {},
        _problems(row.problems),
    )


def get_job(ctx: Context, actor: Actor, kind: JobKind[Context], job_id: int) -> Job:
    """A job of ``kind`` and its outcome, for those who may read it (``model.may_read``)."""
    authorize(actor, kind.permission)
    with ctx.db.transaction() as conn:
        row = store.get_job(conn, job_id)
    if row is None or row.kind != kind.name:
        raise NotFound(f"no {kind.name} job {job_id}", subject=str(job_id))
    job = job_of(row)
    if not may_read(actor, job.submitter, kind.permission):
        raise Forbidden(f"{kind.name} job {job_id} is not {actor.name}'s", subject=str(job_id))
    return job


def list_jobs(
    ctx: Context,
    actor: Actor,
    kind: JobKind[Context],
    *,
    state: JobState | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[Job]:
    """Jobs of ``kind`` the actor may read, in id order after ``after``."""
    authorize(actor, kind.permission)
    everyone = sees_all(actor, kind.permission)
    operator = actor.operator_id if actor.role is Role.OPERATOR else None
    with ctx.db.transaction() as conn:
        rows = store.list_jobs(
            conn,
            kind=kind.name,
            state=state.value if state else None,
            user=None if everyone else actor.name,
            operator_id=None if everyone else operator,
            after=after,
            limit=min(max(limit, 1), MAX_LIST),
        )
    return [job_of(row) for row in rows]


def counts(ctx: Context) -> dict[str, int]:
    """How many jobs are in each state (for /health)."""
    with ctx.db.transaction() as conn:
        return store.count_by_state(conn)


def claim(ctx: Context, kinds: Sequence[str], *, lease: timedelta) -> Claim | None:
    """Take the oldest job of ``kinds`` that may run, under a new lease of ``lease``;
    None when there is none. Jobs abandoned on their last attempt are failed first."""
    now = ctx.clock.now()
    token = secrets.token_hex(16)
    with ctx.db.transaction() as conn:
        store.fail_abandoned(conn, now, _problems_json([ABANDONED]) or "")
        row = store.claim_next(conn, kinds, now, token, now + lease)
    if row is None:
        return None
    return Claim(job_of(row), row.payload, token, now + lease)


def extend_lease(ctx: Context, claim: Claim, lease: timedelta) -> bool:
    """Renew the claim's lease for ``lease`` from now; False when it was lost."""
    with ctx.db.transaction() as conn:
        return store.extend_lease(conn, claim.job.id, claim.lease, ctx.clock.now() + lease) == 1


def recheck(ctx: Context, kind: JobKind[Context], job: Job) -> Actor:
    """The submitter as it stands now, refused unless it may still do what it asked for."""
    submitter = job.submitter
    actor = auth.recheck(ctx, submitter.actor, submitter.token_id)
    authorize(actor, kind.permission)
    return actor


def complete(ctx: Context, conn: Connection, claim: Claim, outcome: Outcome) -> None:
    """Record ``outcome`` in the caller's transaction ``conn``; ``LeaseLost`` if the lease
    is no longer the claim's (the caller's transaction must then roll back)."""
    state = JobState.DONE if outcome.ok else JobState.FAILED
    result = json.dumps(outcome.summary) if outcome.summary else None
    problems = _problems_json(list(outcome.problems))
    now = ctx.clock.now()
    if store.finish(conn, claim.job.id, claim.lease, state, result, problems, now) != 1:
        raise LeaseLost(f"job {claim.job.id} is no longer held by this claim")


def finish(ctx: Context, claim: Claim, outcome: Outcome) -> None:
    """Record ``outcome`` in a transaction of its own (``LeaseLost`` as ``complete``)."""
    with ctx.db.transaction() as conn:
        complete(ctx, conn, claim, outcome)


def fail(ctx: Context, claim: Claim, problem: JobProblem) -> None:
    """Fail the job for good with ``problem`` (a refusal: trying again would not help)."""
    finish(ctx, claim, Outcome(False, problems=(problem,)))


def retry_or_fail(
    ctx: Context, kind: JobKind[Context], claim: Claim, problem: JobProblem
) -> JobState:
    """After an error: queue the job again (later) while attempts remain, else fail it."""
    job = claim.job
    if job.attempts >= job.max_attempts:
        fail(ctx, claim, problem)
        return JobState.FAILED
    now = ctx.clock.now()
    with ctx.db.transaction() as conn:
        moved = store.requeue(
            conn,
            job.id,
            claim.lease,
            kind.retry_at(now, job.attempts),
            _problems_json([problem]) or "",
        )
    if moved != 1:
        raise LeaseLost(f"job {job.id} is no longer held by this claim")
    return JobState.QUEUED
