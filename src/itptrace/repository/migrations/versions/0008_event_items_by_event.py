"""The items of an event are found by the event: event_items keyed (event_seq, ui).

Until now the primary key was (ui, event_seq): reading the items of one event (the EPCIS
query's item lists, a recall, every ledger leaf ``fsck`` and remote audits recompute) had
to scan the whole table. The key now leads with the event, and ``ix_event_items_ui`` serves
the per-UI reads. On SQLite the table becomes WITHOUT ROWID, so it is still two B-trees per
row, as before: writing costs the same.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _rebuild_sqlite(key: str, without_rowid: bool) -> None:
    for statement in drop_append_only_ddl("sqlite", "event_items"):
        op.execute(statement)
    suffix = " WITHOUT ROWID" if without_rowid else ""
    op.execute(
        "CREATE TABLE event_items_new (ui VARCHAR(100) NOT NULL, event_seq INTEGER NOT NULL, "
        f"role VARCHAR(8) NOT NULL, PRIMARY KEY ({key})){suffix}"
    )
    op.execute(
        "INSERT INTO event_items_new (ui, event_seq, role) "
        "SELECT ui, event_seq, role FROM event_items"
    )
    op.execute("DROP TABLE event_items")
    op.execute("ALTER TABLE event_items_new RENAME TO event_items")
    for statement in append_only_ddl("sqlite", "event_items"):
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite("event_seq, ui", without_rowid=True)
    else:
        op.execute("ALTER TABLE event_items DROP CONSTRAINT event_items_pkey")
        op.execute("ALTER TABLE event_items ADD PRIMARY KEY (event_seq, ui)")
    op.create_index("ix_event_items_ui", "event_items", ["ui", "event_seq"])


def downgrade() -> None:
    op.drop_index("ix_event_items_ui", table_name="event_items")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite("ui, event_seq", without_rowid=False)
    else:
        op.execute("ALTER TABLE event_items DROP CONSTRAINT event_items_pkey")
        op.execute("ALTER TABLE event_items ADD PRIMARY KEY (ui, event_seq)")
