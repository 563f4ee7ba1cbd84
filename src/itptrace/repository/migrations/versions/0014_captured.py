"""EPCIS events kept as captured, and the EPCIS query's filters in SQL.

``events`` gains the EPCIS terms the query filters on (``event_type``, ``action``,
``biz_step``, indexed with ``seq`` so that a page is an index range), and
``epcis_contexts`` holds each distinct document ``@context`` once; a captured event's
``details`` name theirs by digest. Existing rows are filled in: a tobacco message by its
fixed EPCIS form (the one the query has always rendered), an event stored as received
(``OTHER``) from the terms of that original.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from itptrace.repository.append_only import append_only_ddl, drop_append_only_ddl

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# The EPCIS form each tobacco message has always been rendered in (capture.epcis_map).
TERMS = {
    "EUA": ("ObjectEvent", "ADD", "commissioning"),
    "IDA": ("ObjectEvent", "DELETE", "decommissioning"),
    "EDP": ("ObjectEvent", "OBSERVE", "shipping"),
    "ERP": ("ObjectEvent", "OBSERVE", "receiving"),
    "ETL": ("ObjectEvent", "OBSERVE", "transporting"),
    "EVR": ("ObjectEvent", "OBSERVE", "retail_selling"),
    "EPA": ("AggregationEvent", "ADD", "packing"),
    "EUD": ("AggregationEvent", "DELETE", "unpacking"),
    "EIV": ("TransactionEvent", "ADD", None),
    "EPO": ("TransactionEvent", "ADD", None),
    "EPR": ("TransactionEvent", "ADD", None),
    "RCL": ("ObjectEvent", "OBSERVE", None),
}
CBV_STEP = ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-", "cbv:BizStep-")


def _step(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    for prefix in CBV_STEP:
        if value.startswith(prefix):
            return value[len(prefix) :]
    if len(value) > 200:
        return "#" + hashlib.sha256(value.encode()).hexdigest()
    return value


def _terms(details: str) -> dict[str, Any]:
    """The terms of an event stored as received, from the original it kept."""
    try:
        original = json.loads(details).get("original") or {}
    except (ValueError, AttributeError):
        original = {}
    if not isinstance(original, dict):
        original = {}
    event_type, action = original.get("type"), original.get("action")
    return {
        "t": event_type if isinstance(event_type, str) and len(event_type) <= 32 else None,
        "a": action if isinstance(action, str) and len(action) <= 8 else None,
        "b": _step(original.get("bizStep")),
    }


def upgrade() -> None:
    op.create_table(
        "epcis_contexts",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("context", sa.Text, nullable=False),
    )
    op.add_column("events", sa.Column("event_type", sa.String(32)))
    op.add_column("events", sa.Column("action", sa.String(8)))
    op.add_column("events", sa.Column("biz_step", sa.String(200)))
    conn = op.get_bind()
    # Filling the new columns rewrites no history: the guard steps aside for it.
    _guard(drop_append_only_ddl)
    for kind, (event_type, action, step) in TERMS.items():
        conn.execute(
            sa.text(
                "UPDATE events SET event_type = :t, action = :a, biz_step = :b"
                " WHERE message_type = :kind"
            ),
            {"t": event_type, "a": action, "b": step, "kind": kind},
        )
    others = conn.execute(
        sa.text("SELECT seq, details FROM events WHERE message_type = 'OTHER' ORDER BY seq")
    ).all()
    updates = [{"seq": seq, **_terms(details)} for seq, details in others]
    if updates:
        conn.execute(
            sa.text(
                "UPDATE events SET event_type = :t, action = :a, biz_step = :b WHERE seq = :seq"
            ),
            updates,
        )
    _guard(append_only_ddl)
    op.create_index("ix_events_biz_step", "events", ["biz_step", "seq"])
    op.create_index("ix_events_kind", "events", ["event_type", "action", "seq"])


def _guard(ddl: Callable[[str, str], list[str]]) -> None:
    for statement in ddl(op.get_bind().dialect.name, "events"):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index("ix_events_kind", table_name="events")
    op.drop_index("ix_events_biz_step", table_name="events")
    _guard(drop_append_only_ddl)
    with op.batch_alter_table("events") as batch:
        batch.drop_column("biz_step")
        batch.drop_column("action")
        batch.drop_column("event_type")
    _guard(append_only_ddl)
    op.drop_table("epcis_contexts")
