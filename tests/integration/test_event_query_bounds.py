"""The EPCIS query does bounded work: filters in SQL, a bounded scan, pages capped in EPCs and
bytes, and empty filter values refused.

The events here are written straight into the events table (as the capture writer does):
what is measured is the query, not the rules.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from itptrace.access import local_authority
from itptrace.capture import store
from itptrace.context import Context
from itptrace.queries import events as event_query
from itptrace.queries.events import QueryError, query_events

AUTH = local_authority()
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _shipping(seq: int, uis: list[str], step: str = "shipping") -> dict[str, Any]:
    details = {
        "message_type": "EDP",
        "message_code": f"M{seq}",
        "originator": "OP1",
        "event_time": "2026-01-01T00:00:00Z",
        "facility": "F1",
        "destination": {"kind": "domestic", "facility": "F2"},
    }
    return {
        "seq": seq, "event_id": f"M{seq}", "message_type": "EDP", "originator_id": "OP1",
        "event_time": T0, "recorded_at": T0 + timedelta(seconds=seq), "facility_id": "F1",
        "parent": None, "item_count": len(uis), "flags": "", "fingerprint": "0" * 64,
        "source": "native", "details": json.dumps(details), "uis": json.dumps(uis),
        "event_type": "ObjectEvent", "action": "OBSERVE", "biz_step": step,
    }  # fmt: skip


def _store(ctx: Context, rows: list[dict[str, Any]]) -> None:
    with ctx.db.transaction() as conn:
        store.insert_events(conn, rows)


def _all_pages(ctx: Context, params: dict[str, str]) -> list[event_query.Page]:
    pages, token = [], None
    while True:
        page = query_events(ctx, AUTH, {**params, **({"nextPageToken": token} if token else {})})
        pages.append(page)
        token = page.next_page_token
        if token is None:
            return pages


@pytest.fixture
def ten_thousand(ctx: Context) -> Context:
    """10,000 shipping events, the 5,000th of them an inspection."""
    rows = [_shipping(seq, [f"KET01P{seq}"]) for seq in range(1, 10_001)]
    rows[4_999] = _shipping(5_000, ["KET01P5000"], step="inspecting")
    _store(ctx, rows)
    return ctx


@pytest.mark.parametrize(
    "params",
    [{"EQ_bizStep": "receiving"}, {"EQ_eventType": "TransformationEvent"}, {"EQ_action": "ADD"}],
)
def test_a_filter_on_type_action_or_step_that_matches_nothing_answers_at_once(
    ten_thousand: Context, params: dict[str, str]
) -> None:
    started = time.monotonic()
    page = query_events(ten_thousand, AUTH, params)
    assert page.events == [] and page.next_page_token is None
    assert time.monotonic() - started < 1.0  # 6.7 s when filtered in Python after fetching


def test_a_step_filter_finds_its_one_event_among_ten_thousand_in_any_spelling(
    ten_thousand: Context,
) -> None:
    for step in ("inspecting", "urn:epcglobal:cbv:bizstep:inspecting",
                 "https://ref.gs1.org/cbv/BizStep-inspecting"):  # fmt: skip
        page = query_events(ten_thousand, AUTH, {"EQ_bizStep": step})
        assert [e.event_id for e in page.events] == ["urn:itptrace:message:M5000"]


def test_one_request_looks_at_a_bounded_window_and_says_where_to_go_on(
    ten_thousand: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_query, "SCAN_WINDOW", 1_000)
    pages = _all_pages(ten_thousand, {"EQ_bizStep": "inspecting"})
    assert len(pages) == 10  # one window of 1,000 sequence numbers per request
    assert [len(p.events) for p in pages] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]


def test_a_page_is_capped_in_epcs_and_still_holds_one_event_however_large(ctx: Context) -> None:
    big = [_shipping(1, [f"KET01A{i}" for i in range(12_000)])]
    small = [_shipping(seq, [f"KET01B{seq}x{i}" for i in range(600)]) for seq in range(2, 22)]
    _store(ctx, big + small)
    pages = _all_pages(ctx, {"perPage": "1000"})
    # The first page is the one large event alone; then 16 events of 600 EPCs (9,600) fit
    # under the cap of 10,000 and the 17th starts the next page.
    assert [len(p.events) for p in pages] == [1, 16, 4]
    assert [sum(len(e.epc_list) for e in p.events) for p in pages] == [12_000, 9_600, 2_400]


def test_a_page_is_capped_in_bytes(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    _store(ctx, [_shipping(seq, [f"KET01C{seq}x{i}" for i in range(100)]) for seq in range(1, 7)])
    one = len(json.dumps(query_events(ctx, AUTH, {"perPage": "1"}).bodies[0]))
    monkeypatch.setattr(event_query, "MAX_PAGE_BYTES", int(one * 2.5))
    pages = _all_pages(ctx, {})
    assert [len(p.events) for p in pages] == [2, 2, 2]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"EQ_bizStep": ""}, "EQ_bizStep"),
        ({"EQ_action": " , "}, "EQ_action"),
        ({"MATCH_anyEPC": ""}, "MATCH_anyEPC"),
        ({"LT_eventTime": "yesterday"}, "LT_eventTime"),
        ({"perPage": "abc"}, "perPage"),
    ],
)
def test_an_empty_or_malformed_value_is_refused_naming_the_parameter_and_the_fix(
    ctx: Context, params: dict[str, str], named: str
) -> None:
    with pytest.raises(QueryError) as refused:
        query_events(ctx, AUTH, params)
    message = str(refused.value)
    assert refused.value.subject == named
    assert "e.g." in message or "whole number" in message
    assert "invalid literal" not in message and "isoformat" not in message
