"""Migration 0014: events stored before it get the EPCIS terms the query filters on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from itptrace.access import local_authority
from itptrace.bootstrap import build_context
from itptrace.queries.events import query_events
from itptrace.repository import migrate
from itptrace.repository.db import make_engine
from tests.conftest import Databases, make_settings

INSPECTION = {
    "type": "ObjectEvent",
    "eventTime": "2026-01-04T10:30:00.120Z",
    "eventTimeZoneOffset": "+03:00",
    "epcList": ["urn:itptrace:ui:KET01P1"],
    "action": "OBSERVE",
    "bizStep": "urn:epcglobal:cbv:bizstep:inspecting",
}
DISPATCH = {
    "message_type": "EDP",
    "message_code": "M1",
    "originator": "OP1",
    "event_time": "2026-01-04T08:00:00Z",
    "facility": "F1",
    "destination": {"kind": "domestic", "facility": "F2"},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    """An empty database, not migrated at all (dropped after the test)."""
    return databases.new(request.param, blank=True)


def test_migration_0014_gives_old_events_their_epcis_terms_and_keeps_every_row(
    blank_url: str, tmp_path: Path
) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0013")
    rows = [
        (1, "M1", "EDP", json.dumps(DISPATCH), '["KET01P1"]'),
        (2, "E2", "OTHER", json.dumps({"message_type": "OTHER", "original": INSPECTION}), "[]"),
    ]
    with engine.begin() as conn:
        for seq, event_id, kind, details, uis in rows:
            conn.execute(
                text(
                    "INSERT INTO events (seq, event_id, message_type, originator_id, event_time,"
                    " recorded_at, item_count, flags, fingerprint, source, details, uis) VALUES"
                    " (:seq, :id, :kind, 'OP1', '2026-01-04 08:00:00+00:00',"
                    " '2026-01-04 09:00:00+00:00', 1, '', :fp, 'native', :details, :uis)"
                ),
                {
                    "seq": seq,
                    "id": event_id,
                    "kind": kind,
                    "fp": "0" * 64,
                    "details": details,
                    "uis": uis,
                },
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        terms = conn.execute(
            text("SELECT seq, event_type, action, biz_step FROM events ORDER BY seq")
        ).all()
    assert [tuple(t) for t in terms] == [
        (1, "ObjectEvent", "OBSERVE", "shipping"),
        (2, "ObjectEvent", "OBSERVE", "inspecting"),
    ]
    node = build_context(make_settings(blank_url, tmp_path))
    try:
        for step, event_id in (("shipping", "urn:itptrace:message:M1"), ("inspecting", None)):
            page = query_events(node, local_authority(), {"EQ_bizStep": step})
            assert [e.event_id for e in page.events] == [event_id]
    finally:
        node.db.dispose()
    migrate.downgrade(engine, "0013")
    columns = {c["name"] for c in inspect(engine).get_columns("events")}
    assert "biz_step" not in columns and "epcis_contexts" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == 2
    engine.dispose()
