"""SQL of the capture job queue (table ``capture_jobs``).

Status moves queued -> running -> done | failed. A job still ``running`` when the node
starts was interrupted by a crash: it is picked again, oldest first, like a queued one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from itptrace.repository.schema import capture_jobs

PENDING = ("queued", "running")


def insert_job(conn: Connection, values: dict[str, Any]) -> int:
    result = conn.execute(insert(capture_jobs).values(**values).returning(capture_jobs.c.id))
    return int(result.scalar_one())


def get_job(conn: Connection, job_id: int) -> Row[Any] | None:
    """A job without its document (which may be tens of megabytes)."""
    columns = [c for c in capture_jobs.c if c.name != "document"]
    return conn.execute(select(*columns).where(capture_jobs.c.id == job_id)).first()


def claim_next(conn: Connection, now: datetime) -> Row[Any] | None:
    """Mark the oldest queued or interrupted job running and return it with its document.

    One UPDATE ... RETURNING: the first statement of the transaction is a write, so SQLite
    takes its write lock at once instead of failing to upgrade a read snapshot.
    """
    oldest = (
        select(capture_jobs.c.id)
        .where(capture_jobs.c.status.in_(PENDING))
        .order_by(capture_jobs.c.id)
        .limit(1)
        .scalar_subquery()
    )
    claim = (
        update(capture_jobs)
        .where(capture_jobs.c.id == oldest)
        .values(status="running", started_at=now, attempts=capture_jobs.c.attempts + 1)
        .returning(*capture_jobs.c)
    )
    return conn.execute(claim).first()


def mark_running(conn: Connection, job_id: int, now: datetime) -> int:
    """Claim a given pending job; returns 0 when it is no longer pending."""
    result = conn.execute(
        update(capture_jobs)
        .where(capture_jobs.c.id == job_id, capture_jobs.c.status.in_(PENDING))
        .values(status="running", started_at=now, attempts=capture_jobs.c.attempts + 1)
    )
    return int(result.rowcount)


def requeue(conn: Connection, job_id: int) -> None:
    conn.execute(
        update(capture_jobs)
        .where(capture_jobs.c.id == job_id, capture_jobs.c.status == "running")
        .values(status="queued")
    )


def finish(conn: Connection, job_id: int, status: str, result: str, now: datetime) -> int:
    """Record a running job's outcome; returns 0 if it was not running (finished already)."""
    outcome = conn.execute(
        update(capture_jobs)
        .where(capture_jobs.c.id == job_id, capture_jobs.c.status == "running")
        .values(status=status, result=result, finished_at=now)
    )
    return int(outcome.rowcount)


def count_by_status(conn: Connection) -> dict[str, int]:
    query = select(capture_jobs.c.status, func.count()).group_by(capture_jobs.c.status)
    return {str(status): int(n) for status, n in conn.execute(query)}
