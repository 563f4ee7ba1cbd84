"""Verify: inspectors' scans, alerts and alert status history (all append-only).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")
GUARDED = ("scans", "alerts", "alert_status")


def upgrade() -> None:
    op.create_table(
        "scans",
        sa.Column("scan_id", sa.String(36), primary_key=True),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("scanned_at", TS, nullable=False),
        sa.Column("ui", sa.String(100)),
        sa.Column("text", sa.String(1024), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("place", sa.String(200)),
        sa.Column("lat", sa.Float),
        sa.Column("lon", sa.Float),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("observed_gtin", sa.String(14)),
        sa.Column("observed_brand", sa.String(200)),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("sighting", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("facts", sa.Text, nullable=False),
        sa.CheckConstraint(
            "verdict IN ('authentic', 'suspicious', 'illicit', 'counterfeit')",
            name="ck_scans_verdict",
        ),
    )
    op.create_index("ix_scans_ui_time", "scans", ["ui", "scanned_at"])
    op.create_index("ix_scans_recorded", "scans", ["recorded_at"])
    op.create_table(
        "alerts",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("ui", sa.String(100)),
        sa.Column("uis", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("scan_id", sa.String(36), sa.ForeignKey("scans.scan_id"), nullable=False),
        sa.Column("raised_at", TS, nullable=False),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_alerts_severity"),
    )
    op.create_index("ix_alerts_ui_type", "alerts", ["ui", "type"])
    op.create_table(
        "alert_status",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("alert_id", SEQ, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'investigating', 'closed')", name="ck_alert_status_status"
        ),
    )
    op.create_index("ix_alert_status_alert", "alert_status", ["alert_id", "id"])
    dialect = op.get_bind().dialect.name
    for table in GUARDED:
        for statement in append_only_ddl(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in reversed(GUARDED):
        for statement in drop_append_only_ddl(dialect, table):
            op.execute(statement)
        op.drop_table(table)
