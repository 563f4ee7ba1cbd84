"""Capture: events, their items, UI state, containment, transactions, refusals, recalls.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")
APPEND_ONLY = ("events", "event_items", "transactions", "refused_events", "recalls")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("message_type", sa.String(8), nullable=False),
        sa.Column("originator_id", sa.String(32), nullable=False),
        sa.Column("event_time", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("facility_id", sa.String(32)),
        sa.Column("parent", sa.String(100)),
        sa.Column("item_count", sa.Integer, nullable=False),
        sa.Column("flags", sa.String(200), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
    )
    op.create_index("ix_events_time", "events", ["event_time"])
    op.create_index("ix_events_type_time", "events", ["message_type", "event_time"])
    op.create_index("ix_events_originator", "events", ["originator_id", "seq"])
    op.create_index("ix_events_facility", "events", ["facility_id"])
    op.create_table(
        "event_items",
        sa.Column("ui", sa.String(100), primary_key=True),
        sa.Column("event_seq", SEQ, primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
    )
    op.create_table(
        "ui_state",
        sa.Column("ui", sa.String(100), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(100)),
        sa.Column("facility_id", sa.String(32)),
        sa.Column("custodian_id", sa.String(32)),
        sa.Column("destination_facility_id", sa.String(32)),
        sa.Column("destination_kind", sa.String(16)),
        sa.Column("destination_country", sa.String(2)),
        sa.Column("gtin", sa.String(14)),
        sa.Column("created_seq", SEQ, nullable=False),
        sa.Column("last_seq", SEQ, nullable=False),
    )
    op.create_index("ix_ui_state_parent", "ui_state", ["parent"])
    op.create_table(
        "containment",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("child", sa.String(100), nullable=False),
        sa.Column("parent", sa.String(100), nullable=False),
        sa.Column("from_seq", SEQ, nullable=False),
        sa.Column("from_time", TS, nullable=False),
        sa.Column("to_seq", SEQ),
        sa.Column("to_time", TS),
    )
    op.create_index("ix_containment_child", "containment", ["child", "from_seq"])
    op.create_index("ix_containment_parent", "containment", ["parent", "from_time"])
    op.create_table(
        "transactions",
        sa.Column("event_seq", SEQ, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("number", sa.String(200), nullable=False),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("seller_id", sa.String(32), nullable=False),
        sa.Column("buyer_id", sa.String(32), nullable=False),
    )
    op.create_index("ix_transactions_seller", "transactions", ["seller_id"])
    op.create_table(
        "refused_events",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("originator_id", sa.String(32)),
        sa.Column("event_id", sa.String(200)),
        sa.Column("message_type", sa.String(8)),
        sa.Column("problems", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_refused_originator", "refused_events", ["originator_id", "id"])
    op.create_table(
        "recalls",
        sa.Column("recalled_seq", SEQ, primary_key=True),
        sa.Column("recall_seq", SEQ, nullable=False),
    )
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in append_only_ddl(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        for statement in drop_append_only_ddl(dialect, table):
            op.execute(statement)
    for table in (
        "recalls",
        "refused_events",
        "transactions",
        "containment",
        "ui_state",
        "event_items",
        "events",
    ):
        op.drop_table(table)
