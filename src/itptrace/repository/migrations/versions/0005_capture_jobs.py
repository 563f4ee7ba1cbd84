"""Capture jobs: the persisted queue behind asynchronous ``POST /capture``.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "capture_jobs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
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
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="ck_capture_jobs_status"
        ),
    )
    op.create_index("ix_capture_jobs_status", "capture_jobs", ["status", "id"])


def downgrade() -> None:
    op.drop_table("capture_jobs")
