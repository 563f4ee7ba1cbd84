"""The items of an event are found by the event: an index on ``event_items.event_seq``.

The primary key is (ui, event_seq), so reading the items of one event (the EPCIS query's
item lists, a recall, every ledger leaf ``fsck`` and remote audits recompute) had to scan
the whole table. Sequence numbers only grow, so this index is appended to at its end: it
costs a capture little, unlike the random-keyed index on the UI.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_event_items_event", "event_items", ["event_seq"])


def downgrade() -> None:
    op.drop_index("ix_event_items_event", table_name="event_items")
