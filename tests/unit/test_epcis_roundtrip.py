"""EPCIS 2.0 serialisation: parse → to_jsonld → parse keeps every event, and built events.

Events are compared with ``==``, which ignores only ``raw`` and ``namespaces``
(see EpcisEvent), and by hash_id, which covers what the CBV 2.0 hash reads.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from itptrace.epcis import (
    ITP_NS,
    EpcisValidationError,
    ErrorDeclaration,
    Quantity,
    make_event,
    parse_document,
    to_jsonld,
)
from itptrace.epcis.event_hash import event_hash_id
from tests.unit.test_epcis_parse import VALID_FOLDERS, load_sample, object_event, sample_cases

CREATED = datetime(2026, 7, 22, 10, 30, tzinfo=UTC)
PACK = "https://id.gs1.org/01/09521141012345/235/KET01ABCDEF"


def reparse(document: dict[str, Any]) -> dict[str, Any]:
    """The document as another system would receive it: through JSON text."""
    data: dict[str, Any] = json.loads(json.dumps(document))
    return data


@pytest.mark.parametrize("path", sample_cases(VALID_FOLDERS))
def test_parse_serialise_parse_gives_equal_events_for_every_valid_sample(
    path: Path | None,
) -> None:
    original = parse_document(load_sample(path))
    written = to_jsonld(
        original.events, kind=original.kind, context=original.context, creation_date=CREATED
    )
    again = parse_document(reparse(written))
    assert again.kind == original.kind
    assert [e.hash_id for e in again.events] == [e.hash_id for e in original.events]
    assert again.events == original.events


def test_a_capture_document_names_the_standard_context_and_used_prefixes() -> None:
    event = make_event(
        "ObjectEvent",
        event_time=datetime(2026, 7, 22, 6, 45, tzinfo=timezone(timedelta(hours=2))),
        action="ADD",
        biz_step="commissioning",
        epc_list=[PACK],
        extensions={"itp:machine": "urn:itptrace:machine:M1"},
    )
    document = to_jsonld([event], creation_date=CREATED)
    assert document["@context"] == [
        "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
        {"itp": ITP_NS},
    ]
    assert (document["type"], document["schemaVersion"]) == ("EPCISDocument", "2.0")
    assert document["creationDate"] == "2026-07-22T10:30:00Z"
    (body,) = document["epcisBody"]["eventList"]
    assert body["eventTime"] == "2026-07-22T06:45:00+02:00"
    assert body["itp:machine"] == "urn:itptrace:machine:M1"


def test_make_event_fills_hash_and_raw_consistently() -> None:
    event = make_event(
        "ObjectEvent",
        event_time=datetime(2026, 7, 22, 4, 45, tzinfo=UTC),
        event_time_zone_offset="+02:00",
        action="OBSERVE",
        biz_step="urn:epcglobal:cbv:bizstep:shipping",
        epc_list=[PACK],
        destinations=[("location", "urn:itptrace:facility:F2")],
        extensions={ITP_NS + "destinationKind": "export"},
    )
    assert event.biz_step == "shipping"
    assert event.raw["bizStep"] == "urn:epcglobal:cbv:bizstep:shipping"
    assert event.hash_id == event_hash_id(event.raw, {"itp": ITP_NS})
    assert event.extensions == {ITP_NS + "destinationKind": "export"}
    assert event == parse_document(reparse(to_jsonld([event]))).events[0]


def test_an_event_built_in_code_equals_the_same_event_parsed() -> None:
    parsed = parse_document(object_event(bizStep="shipping")).events[0]
    built = make_event(
        "ObjectEvent",
        event_time=datetime(2026, 7, 22, 6, 45, tzinfo=timezone(timedelta(hours=2))),
        action="OBSERVE",
        biz_step="shipping",
        epc_list=["https://id.gs1.org/01/09521141012345/21/2017"],
    )
    assert built == parsed and built.hash_id == parsed.hash_id


def test_an_aggregation_and_a_transformation_serialise_their_own_lists() -> None:
    when = datetime(2026, 7, 22, 8, 0, tzinfo=UTC)
    packing = make_event(
        "AggregationEvent",
        event_time=when,
        action="ADD",
        biz_step="packing",
        parent_id="https://id.gs1.org/00/095211410000000017",
        child_epcs=[PACK],
        quantities=[Quantity("https://id.gs1.org/01/09521141012345", Decimal("2.5"), "KGM")],
    )
    assert packing.raw["childQuantityList"] == [
        {"epcClass": "https://id.gs1.org/01/09521141012345", "quantity": 2.5, "uom": "KGM"}
    ]
    making = make_event(
        "TransformationEvent",
        event_time=when,
        quantities=[
            Quantity("https://id.gs1.org/01/09521141000001", Decimal(100), role="input"),
            Quantity("https://id.gs1.org/01/09521141000002", None, role="output"),
        ],
        ilmd={"itp:lot": "L7"},
    )
    assert set(making.raw) >= {"inputQuantityList", "outputQuantityList", "ilmd"}
    assert making.ilmd == {ITP_NS + "lot": "L7"}
    with pytest.raises(ValueError, match="role 'input' or 'output'"):
        make_event("TransformationEvent", event_time=when, quantities=[Quantity("urn:x:c", None)])


def test_an_error_declaration_survives_the_round_trip() -> None:
    event = make_event(
        "ObjectEvent",
        event_time=datetime(2026, 7, 22, 8, 0, tzinfo=UTC),
        action="OBSERVE",
        epc_list=[PACK],
        error_declaration=ErrorDeclaration(
            datetime(2026, 7, 23, tzinfo=UTC), "incorrect_data", ("urn:uuid:1",), {"itp:by": "x"}
        ),
    )
    assert event.error_declaration == ErrorDeclaration(
        datetime(2026, 7, 23, tzinfo=UTC), "incorrect_data", ("urn:uuid:1",), {ITP_NS + "by": "x"}
    )
    assert event == parse_document(reparse(to_jsonld([event]))).events[0]


def test_make_event_refuses_what_would_not_be_valid_epcis() -> None:
    when = datetime(2026, 7, 22, 8, 0, tzinfo=UTC)
    with pytest.raises(EpcisValidationError, match="'bizStep': 'stamping' is not a CBV"):
        make_event(
            "ObjectEvent", event_time=when, action="ADD", epc_list=[PACK], biz_step="stamping"
        )
    with pytest.raises(ValueError, match="timezone-aware"):
        make_event("ObjectEvent", event_time=datetime(2026, 7, 22), action="ADD", epc_list=[PACK])


def test_a_full_iri_extension_name_gets_an_invented_prefix() -> None:
    event = make_event(
        "ObjectEvent",
        event_time=datetime(2026, 7, 22, 8, 0, tzinfo=UTC),
        action="OBSERVE",
        epc_list=[PACK],
        extensions={"https://ns.example.com/epcis/machine": "M1"},
    )
    assert event.raw["ns1:machine"] == "M1"
    assert event.extensions == {"https://ns.example.com/epcis/machine": "M1"}
    assert to_jsonld([event])["@context"][1] == {
        "itp": ITP_NS,
        "ns1": "https://ns.example.com/epcis/",
    }


def test_a_prefix_bound_twice_goes_into_the_later_events_own_context() -> None:
    first, second = (
        replace(parse_document(object_event()).events[0], namespaces={"ex": uri},
                extensions={uri + "machine": "M1"})
        for uri in ("https://a.example/", "https://b.example/")
    )  # fmt: skip
    document = reparse(to_jsonld([first, second]))
    assert document["epcisBody"]["eventList"][1]["@context"] == [{"ex": "https://b.example/"}]
    assert [e.extensions for e in parse_document(document).events] == [
        first.extensions,
        second.extensions,
    ]


def test_a_query_document_and_a_bare_event_can_be_written() -> None:
    event = parse_document(object_event()).events[0]
    query = to_jsonld([event], kind="query", query_name="ShippedToday", creation_date=CREATED)
    assert query["type"] == "EPCISQueryDocument"
    assert parse_document(reparse(query)).query_name == "ShippedToday"
    bare = to_jsonld([event], kind="event")
    assert bare["type"] == "ObjectEvent" and "@context" in bare
    assert parse_document(reparse(bare)).events == (event,)
    with pytest.raises(ValueError, match="exactly one event"):
        to_jsonld([event, event], kind="event")
