"""Custody from possession: every event records its submitter, custody alerts are stored.

``events.submitter`` is who sent the event (the authenticated user), beside
``originator_id``, the operator it reports for: the two differ when the issuer reports on an
operator's behalf. Existing events keep NULL (their submitter was not recorded); adding a
nullable column rewrites no row of the append-only table.

``custody_alerts`` holds the alerts capture raises when an operator reports the arrival of
goods that were neither in transit to it nor held by it: the reporter, the holders and
whether the arrival was refused or accepted without moving custody. Append-only.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.add_column("events", sa.Column("submitter", sa.String(200)))
    op.create_table(
        "custody_alerts",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("reporter_id", sa.String(32), nullable=False),
        sa.Column("facility_id", sa.String(32)),
        sa.Column("holders", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.CheckConstraint("outcome IN ('refused', 'flagged')", name="ck_custody_alerts_outcome"),
    )
    op.create_index("ix_custody_alerts_raised", "custody_alerts", ["raised_at"])
    for statement in append_only_ddl(op.get_bind().dialect.name, "custody_alerts"):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in ("custody_alerts", "events"):
        for statement in drop_append_only_ddl(dialect, table):
            op.execute(statement)
    op.drop_index("ix_custody_alerts_raised", table_name="custody_alerts")
    op.drop_table("custody_alerts")
    with op.batch_alter_table("events") as batch:  # SQLite copies the table
        batch.drop_column("submitter")
    for statement in append_only_ddl(dialect, "events"):
        op.execute(statement)
