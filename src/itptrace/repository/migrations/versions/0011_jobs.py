"""One durable job queue for every kind of job: ``capture_jobs`` becomes ``jobs``.

Every capture job is kept with its id (so ``/capture/{id}`` still answers), its document
as the payload and its outcome as the result. New columns: the kind (``capture``), the
lane (jobs of one lane run in order: a capture job's operator, or its user), the token it
was submitted with (unknown for old jobs), when it may run, the lease of the worker
running it and the number of attempts allowed. A job that was running when the node
stopped gets a lease that has run out, so the next worker claims it again, with one
attempt more to go if it had used its three (the old limit).

The downgrade keeps the capture jobs (the queue's own reasons for failing a job join
their outcome's errors) and drops jobs of any other kind.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer, "sqlite")
STATES = "('queued', 'running', 'done', 'failed')"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lane", sa.String(200)),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("operator_id", sa.String(32)),
        sa.Column("tobacco_industry", sa.Boolean, nullable=False),
        sa.Column("token_id", sa.String(16)),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("available_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("lease", sa.String(32)),
        sa.Column("lease_until", TS),
        sa.Column("finished_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("problems", sa.Text),
        sa.CheckConstraint(f"state IN {STATES}", name="ck_jobs_state"),
    )
    op.create_index("ix_jobs_state", "jobs", ["state", "id"])
    op.create_index("ix_jobs_lane", "jobs", ["lane", "id"])
    op.execute(
        "INSERT INTO jobs (id, kind, state, lane, user_name, role, operator_id,"
        " tobacco_industry, token_id, received_at, available_at, started_at, lease,"
        " lease_until, finished_at, attempts, max_attempts, payload, result, problems)"
        " SELECT id, 'capture', status, 'capture:' || COALESCE(operator_id, user_name),"
        " user_name, role, operator_id, tobacco_industry, NULL, received_at, received_at,"
        " started_at, NULL, CASE WHEN status = 'running' THEN started_at END, finished_at,"
        " attempts, CASE WHEN attempts >= 3 THEN attempts + 1 ELSE 3 END,"
        " document, result, NULL FROM capture_jobs"
    )
    _continue_ids("jobs")
    op.drop_table("capture_jobs")


def downgrade() -> None:
    op.create_table(
        "capture_jobs",
        sa.Column("id", BIGID, primary_key=True, autoincrement=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("operator_id", sa.String(32)),
        sa.Column("tobacco_industry", sa.Boolean, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("started_at", TS),
        sa.Column("finished_at", TS),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("result", sa.Text),
        sa.CheckConstraint(f"status IN {STATES}", name="ck_capture_jobs_status"),
    )
    op.create_index("ix_capture_jobs_status", "capture_jobs", ["status", "id"])
    op.execute(
        "INSERT INTO capture_jobs (id, status, user_name, role, operator_id, tobacco_industry,"
        " received_at, started_at, finished_at, attempts, document, result)"
        " SELECT id, state, user_name, role, operator_id, tobacco_industry, received_at,"
        " started_at, finished_at, attempts, payload, result FROM jobs WHERE kind = 'capture'"
    )
    conn = op.get_bind()
    failed = conn.execute(
        sa.text(
            "SELECT id, result, problems FROM jobs WHERE kind = 'capture' AND problems IS NOT NULL"
        )
    ).all()
    for job_id, result, problems in failed:
        conn.execute(
            sa.text("UPDATE capture_jobs SET result = :result WHERE id = :id"),
            {"id": job_id, "result": _with_problems(result, problems)},
        )
    _continue_ids("capture_jobs")
    op.drop_table("jobs")


def _with_problems(result: str | None, problems: str) -> str:
    """A capture outcome in the old form, the queue's reasons counted among its errors."""
    outcome = json.loads(result) if result else {}
    extra = [{**p, "event_id": None} for p in json.loads(problems)]
    errors = list(outcome.get("errors", [])) + extra
    return json.dumps(
        {
            "accepted": outcome.get("accepted", 0),
            "duplicates": outcome.get("duplicates", 0),
            "error_count": outcome.get("error_count", 0) + len(extra),
            "errors": errors,
            "flags": outcome.get("flags", []),
        }
    )


def _continue_ids(table: str) -> None:
    """PostgreSQL: new ids follow the copied ones (SQLite takes the largest id + 1 anyway)."""
    if op.get_bind().dialect.name == "postgresql":
        largest = f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1"  # noqa: S608
        op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {largest}, false)")
        # (the table names are the two of this migration, never input)
