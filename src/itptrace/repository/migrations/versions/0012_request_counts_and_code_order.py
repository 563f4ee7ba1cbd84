"""A request answers with its counts without reading its codes; its codes are paged by key.

``GET /issuer/requests/{id}`` used to count every code of a request (2.3 s for 200,000).
The request row is append-only and already holds its quantity; what changes afterwards is
counted in the new ``code_request_counts`` (one row per request: how many of its codes are
deactivated), raised in the transaction that records the deactivations. Cancellation needs
no counter (a cancelled request's codes are all cancelled but the deactivated ones).
Existing requests get their row, counted from the stored deactivations.

Paging a request's codes walked from its first code (``offset=190000`` took 2.1 s): the
request index of ``unit_uis`` and ``aggregate_uis`` now holds the code after the request, so
"the next codes of this request after code X" is one index seek. (SQLite's index on a
``WITHOUT ROWID`` table held the key already; PostgreSQL's did not.)

No append-only table is rewritten: the counts are a table of their own, outside the ledger,
and an index is rebuilt, not a row.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# Deactivated codes per request, for every request (0 when none): each deactivated UI is
# found in the table of its kind, where its request is.
FILL = """
INSERT INTO code_request_counts (request_id, deactivated)
SELECT r.id, COALESCE(d.n, 0)
FROM code_requests r
LEFT JOIN (
    SELECT u.request_id AS request_id, COUNT(*) AS n
    FROM ui_deactivations x JOIN unit_uis u ON u.ui = x.ui
    WHERE x.kind = 'unit' GROUP BY u.request_id
    UNION ALL
    SELECT a.request_id AS request_id, COUNT(*) AS n
    FROM ui_deactivations x JOIN aggregate_uis a ON a.aui = x.ui
    WHERE x.kind = 'aggregate' GROUP BY a.request_id
) d ON d.request_id = r.id
"""
INDEXES = (("unit_uis", "ui"), ("aggregate_uis", "aui"))


def _index(table: str) -> str:
    return f"ix_{table.removesuffix('_uis')}_uis_request"


def upgrade() -> None:
    op.create_table(
        "code_request_counts",
        sa.Column(
            "request_id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("code_requests.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("deactivated", sa.Integer, nullable=False),
        sa.CheckConstraint("deactivated >= 0", name="ck_code_request_counts_deactivated"),
    )
    op.execute(FILL)
    for table, key in INDEXES:
        op.drop_index(_index(table), table_name=table)
        op.create_index(_index(table), table, ["request_id", key])


def downgrade() -> None:
    for table, _key in INDEXES:
        op.drop_index(_index(table), table_name=table)
        op.create_index(_index(table), table, ["request_id"])
    op.drop_table("code_request_counts")
