"""On SQLite, issued codes are stored in their key's B-tree (``WITHOUT ROWID``).

A capture looks up every pack it applies in ``unit_uis`` (and every container in
``aggregate_uis``) for the request it was issued under. In a rowid table that is a search
of the key's index and then a second search of the table for the row; in a ``WITHOUT
ROWID`` table the row sits in the key's B-tree, so one search answers, about three times
faster for 10,000 codes, and an issuance writes one B-tree instead of two. PostgreSQL is
unchanged. The tables keep their append-only guard.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from alembic import op

from itptrace.repository.append_only import append_only_ddl

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = (("unit_uis", "ui", 50), ("aggregate_uis", "aui", 100))


def upgrade() -> None:
    _rebuild(" WITHOUT ROWID")


def downgrade() -> None:
    _rebuild("")


def _rebuild(options: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, key, length in TABLES:
        op.execute(
            f"CREATE TABLE {table}_new ({key} VARCHAR({length}) NOT NULL,"
            f" request_id INTEGER NOT NULL, tag VARCHAR(100), PRIMARY KEY ({key}),"
            f" FOREIGN KEY(request_id) REFERENCES code_requests (id)){options}"
        )
        copy = f"INSERT INTO {table}_new SELECT {key}, request_id, tag FROM {table}"  # noqa: S608
        op.execute(copy)  # (names from TABLES above, never from input)
        op.execute(f"DROP TABLE {table}")  # its index and guard triggers go with it
        op.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
        op.create_index(f"ix_{table.removesuffix('_uis')}_uis_request", table, ["request_id"])
        for statement in append_only_ddl("sqlite", table):
            op.execute(statement)
