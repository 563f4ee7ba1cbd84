"""Ledger: the RFC 9162 Merkle log's tables, and append-only guards on stored history.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")

LEDGER_TABLES = ("ledger_leaves", "ledger_nodes", "ledger_checkpoints")
ISSUANCE_TABLES = (
    "code_requests",
    "unit_uis",
    "aggregate_uis",
    "request_cancellations",
    "ui_deactivations",
)


def upgrade() -> None:
    op.create_table(
        "ledger_leaves",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("appended_at", TS, nullable=False),
        sa.CheckConstraint("seq >= 0", name="ck_ledger_leaves_seq"),
    )
    op.create_index("ix_ledger_leaves_record", "ledger_leaves", ["kind", "ref"])
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", SEQ, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0}])
    dialect = op.get_bind().dialect.name
    for table in LEDGER_TABLES + ISSUANCE_TABLES:
        for statement in append_only_ddl(dialect, table):
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in LEDGER_TABLES + ISSUANCE_TABLES:
        for statement in drop_append_only_ddl(dialect, table):
            op.execute(statement)
    op.drop_table("ledger_head")
    op.drop_table("ledger_checkpoints")
    op.drop_table("ledger_nodes")
    op.drop_index("ix_ledger_leaves_record", table_name="ledger_leaves")
    op.drop_table("ledger_leaves")
