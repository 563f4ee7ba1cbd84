"""SQL of the job queue (table ``jobs``): every statement that moves a job is one UPDATE
whose WHERE clause says which state it moves from, so two workers, threads or processes
can never both move the same job; the database decides which one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, exists, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import FromClause

from itptrace.repository.schema import jobs

PENDING = ("queued", "running")
WITHOUT_PAYLOAD = [c for c in jobs.c if c.name != "payload"]


def insert_job(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(jobs).values(**values).returning(jobs.c.id))
    return int(result.scalar_one())


def get_job(conn: Connection, job_id: int) -> Row[Any] | None:
    """A job without its payload (which may be tens of megabytes)."""
    return conn.execute(select(*WITHOUT_PAYLOAD).where(jobs.c.id == job_id)).first()


def list_jobs(
    conn: Connection,
    *,
    kind: str | None,
    state: str | None,
    user: str | None,
    operator_id: str | None,
    after: int,
    limit: int,
) -> list[Row[Any]]:
    """Jobs in id order after ``after``; with ``user`` (and ``operator_id``), only those
    submitted by that user (or by anyone of that operator)."""
    query = select(*WITHOUT_PAYLOAD).where(jobs.c.id > after)
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    if state is not None:
        query = query.where(jobs.c.state == state)
    if user is not None:
        mine = jobs.c.user_name == user
        query = query.where(
            mine if operator_id is None else or_(mine, jobs.c.operator_id == operator_id)
        )
    return list(conn.execute(query.order_by(jobs.c.id).limit(limit)))


def _expired(table: FromClause, now: datetime) -> ColumnElement[bool]:
    return and_(table.c.state == "running", table.c.lease_until < now)


def _claimable(table: FromClause, kinds: Sequence[str], now: datetime) -> ColumnElement[bool]:
    """Of ``kinds``, queued and due, or running under a lease that ran out; attempts left."""
    return and_(
        table.c.kind.in_(list(kinds)),
        or_(and_(table.c.state == "queued", table.c.available_at <= now), _expired(table, now)),
        table.c.attempts < table.c.max_attempts,
    )


def fail_abandoned(conn: Connection, now: datetime, problems: str) -> int:
    """Fail the running jobs whose lease ran out with no attempt left (their workers died
    each time); returns how many."""
    result = conn.execute(
        update(jobs)
        .where(_expired(jobs, now), jobs.c.attempts >= jobs.c.max_attempts)
        .values(state="failed", lease=None, lease_until=None, finished_at=now, problems=problems)
    )
    return int(result.rowcount)


def claim_next(
    conn: Connection, kinds: Sequence[str], now: datetime, lease: str, lease_until: datetime
) -> Row[Any] | None:
    """Take the oldest job of ``kinds`` that may run now, under a new lease; with its payload.

    A job may run when it is queued and due, or running under a lease that ran out. It waits
    while an older job of its lane is pending. One UPDATE ... RETURNING whose WHERE repeats
    the condition: of two claimers of one job, the second finds it no longer claimable and
    changes nothing. On SQLite the UPDATE takes the write lock first, so claims take turns;
    on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets the second claimer pass to the next job.
    """
    candidate, older = jobs.alias("candidate"), jobs.alias("older")
    oldest = (
        select(candidate.c.id)
        .where(
            _claimable(candidate, kinds, now),
            ~exists().where(
                older.c.lane == candidate.c.lane,
                older.c.id < candidate.c.id,
                older.c.state.in_(PENDING),
            ),
        )
        .order_by(candidate.c.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=candidate)
        .scalar_subquery()
    )
    claim = (
        update(jobs)
        .where(jobs.c.id == oldest, _claimable(jobs, kinds, now))
        .values(
            state="running",
            lease=lease,
            lease_until=lease_until,
            started_at=now,
            attempts=jobs.c.attempts + 1,
        )
        .returning(*jobs.c)
    )
    return conn.execute(claim).first()


def _held(job_id: int, lease: str) -> ColumnElement[bool]:
    return and_(jobs.c.id == job_id, jobs.c.state == "running", jobs.c.lease == lease)


def extend_lease(conn: Connection, job_id: int, lease: str, until: datetime) -> int:
    """Renew a lease still held; 0 when it was lost (the job was claimed again)."""
    result = conn.execute(update(jobs).where(_held(job_id, lease)).values(lease_until=until))
    return int(result.rowcount)


def finish(
    conn: Connection,
    job_id: int,
    lease: str,
    state: str,
    result: str | None,
    problems: str | None,
    now: datetime,
) -> int:
    """Record the outcome of a job held under ``lease``; 0 when the lease was lost."""
    outcome = conn.execute(
        update(jobs)
        .where(_held(job_id, lease))
        .values(
            state=state,
            result=result,
            problems=problems,
            finished_at=now,
            lease=None,
            lease_until=None,
        )
    )
    return int(outcome.rowcount)


def requeue(
    conn: Connection, job_id: int, lease: str, available_at: datetime, problems: str
) -> int:
    """Put a job held under ``lease`` back in the queue, to run again at ``available_at``."""
    result = conn.execute(
        update(jobs)
        .where(_held(job_id, lease))
        .values(
            state="queued",
            available_at=available_at,
            lease=None,
            lease_until=None,
            problems=problems,
        )
    )
    return int(result.rowcount)


def count_by_state(conn: Connection) -> dict[str, int]:
    query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
    return {str(state): int(n) for state, n in conn.execute(query)}
