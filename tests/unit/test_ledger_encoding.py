"""The fast encoding of flat records gives exactly the bytes of the general one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from itptrace.ledger.encoding import encode_flat_record, encode_record, lines_digest, rfc3339
from itptrace.ledger.records import EVENT, event_leaf


def test_an_event_leaf_is_the_general_encoding_of_its_row_and_items_digest() -> None:
    row = {
        "seq": 7,
        "event_id": "B-é-1",
        "message_type": "EPA",
        "originator_id": "KET01OP1",
        "event_time": datetime(2026, 1, 5, 8, tzinfo=timezone(timedelta(hours=3))),
        "recorded_at": datetime(2026, 1, 5, 8, 0, 1),  # naive, as SQLite returns it
        "facility_id": None,
        "parent": "KET01AGG",
        "item_count": 2,
        "flags": "",
        "fingerprint": "ab" * 32,
        "source": "native",
        "details": '{"a":"\\u00e9"}',
    }
    items = [("UI2", "item"), ("UI1", "item"), ("KET01AGG", "parent")]
    general = {**row, "items_sha256": lines_digest([f"{ui}\t{role}\n" for ui, role in items])}
    assert event_leaf(row, items) == encode_record(EVENT, general)
    assert event_leaf(row, reversed(items)) == event_leaf(row, items)


def test_the_flat_encoding_matches_the_general_one_for_strings_integers_and_none() -> None:
    fields = {"b": 2, "a": "ünïcode", "c": None, "d": rfc3339(datetime(2026, 1, 1, tzinfo=UTC))}
    assert encode_flat_record("event", fields) == encode_record("event", fields)


@pytest.mark.parametrize("value", [True, 1.5, b"x", datetime(2026, 1, 1, tzinfo=UTC), [1]])
def test_the_flat_encoding_refuses_values_that_are_not_already_canonical(value: object) -> None:
    with pytest.raises(TypeError):
        encode_flat_record("event", {"v": value})  # type: ignore[dict-item]
