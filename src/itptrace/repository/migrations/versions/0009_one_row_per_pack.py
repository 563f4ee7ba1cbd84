"""One random-keyed row per pack: the current stay moves into ui_state, items into events.

Every pack used to cost four rows keyed by its (random) UI: ``ui_state``, an
``event_items`` row for its application, another for its aggregation, and an open
``containment`` interval. UIs are random by design, so each row dirtied its own index page
on every commit. Now:

- ``ui_state.parent_since_seq`` records the event that put the UI in its current parent, and
  ``containment`` keeps only closed stays; "what is in P now" is answered from the
  aggregations naming P (``repository.history.current_stays``), not a per-pack index;
- ``events.uis`` holds the event's items (JSON array), so the items of an event are read
  from the event itself; ``event_items`` no longer repeats an application's packs or an
  aggregation's children (``ui_state.created_seq`` and the stays link them).

Rows already in ``event_items`` stay: the readers take the union, so they change nothing.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.add_column("ui_state", sa.Column("parent_since_seq", SEQ))
    op.add_column("events", sa.Column("uis", sa.Text, nullable=False, server_default="[]"))
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE ui_state SET parent_since_seq = (SELECT c.from_seq FROM containment c"
            " WHERE c.child = ui_state.ui AND c.parent = ui_state.parent AND c.to_seq IS NULL)"
            " WHERE parent IS NOT NULL"
        )
    )
    conn.execute(sa.text("DELETE FROM containment WHERE to_seq IS NULL"))
    rows = conn.execute(
        sa.text("SELECT event_seq, ui FROM event_items WHERE role = 'item' ORDER BY event_seq, ui")
    ).all()
    updates = [
        {"seq": seq, "uis": json.dumps([ui for _seq, ui in group])}
        for seq, group in groupby(rows, key=lambda row: row[0])
    ]
    if updates:
        # Filling the new column is the one rewrite of history: the guard steps aside for it.
        _guard(drop_append_only_ddl)
        conn.execute(sa.text("UPDATE events SET uis = :uis WHERE seq = :seq"), updates)
        _guard(append_only_ddl)


def _guard(ddl: Callable[[str, str], list[str]]) -> None:
    for statement in ddl(op.get_bind().dialect.name, "events"):
        op.execute(statement)


def downgrade() -> None:
    conn = op.get_bind()
    # Links kept only in ui_state and events.uis go back to event_items and containment.
    conn.execute(
        sa.text(
            "INSERT INTO containment (child, parent, from_seq, from_time)"
            " SELECT s.ui, s.parent, s.parent_since_seq, e.event_time FROM ui_state s"
            " JOIN events e ON e.seq = s.parent_since_seq WHERE s.parent IS NOT NULL"
        )
    )
    existing = {
        (str(ui), int(seq))
        for ui, seq in conn.execute(sa.text("SELECT ui, event_seq FROM event_items"))
    }
    missing = [
        {"ui": ui, "seq": int(seq)}
        for seq, items in conn.execute(sa.text("SELECT seq, uis FROM events"))
        for ui in json.loads(items)
        if (ui, int(seq)) not in existing
    ]
    if missing:
        conn.execute(
            sa.text("INSERT INTO event_items (ui, event_seq, role) VALUES (:ui, :seq, 'item')"),
            missing,
        )
    _guard(drop_append_only_ddl)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("uis")
    _guard(append_only_ddl)
    with op.batch_alter_table("ui_state") as batch:
        batch.drop_column("parent_since_seq")
