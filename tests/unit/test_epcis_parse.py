"""EPCIS 2.0 JSON-LD parsing: every valid sample parses, and what parsing normalises.

Sample data: ``tests/data/epcis-openepcis`` (vendored, with its licence and origin).
A missing directory fails the sample tests; it never skips them.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from itptrace.epcis import (
    ITP_NS,
    EpcisValidationError,
    canonical_id,
    parse_document,
    parse_event,
)
from itptrace.epcis.event_hash import document_hash_ids

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "epcis-openepcis"
MISSING = f"EPCIS sample documents not found at {SAMPLES} (tests/data is part of the repository)"
VALID_FOLDERS = ("Capture/Documents", "Capture/Events", "Query")
INVALID_FOLDERS = ("Capture/Invalid", "Query/Invalid")


def sample_cases(folders: tuple[str, ...]) -> list[Any]:
    """One pytest param per JSON file in ``folders`` (not recursive), or one failing marker."""
    paths = sorted(p for f in folders for p in (SAMPLES / f).glob("*.json"))
    if not paths:
        return [pytest.param(None, id="sample-data-missing")]
    return [pytest.param(p, id=str(p.relative_to(SAMPLES).with_suffix(""))) for p in paths]


def load_sample(path: Path | None) -> dict[str, Any]:
    if path is None:
        pytest.fail(MISSING)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def named_sample(relative: str) -> dict[str, Any]:
    path = SAMPLES / relative
    return load_sample(path if path.exists() else None)


def object_event(**fields: Any) -> dict[str, Any]:
    """A small valid bare ObjectEvent (with @context), changed by ``fields``."""
    event: dict[str, Any] = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": "2026-07-22T06:45:00+02:00",
        "eventTimeZoneOffset": "+02:00",
        "action": "OBSERVE",
        "epcList": ["https://id.gs1.org/01/09521141012345/21/2017"],
    }
    event.update(fields)
    return event


@pytest.mark.parametrize("path", sample_cases(VALID_FOLDERS))
def test_every_valid_sample_parses_with_the_event_hash_of_each_event(path: Path | None) -> None:
    document = load_sample(path)
    parsed = parse_document(document)
    assert parsed.events, "a sample without events proves nothing"
    assert [e.hash_id for e in parsed.events] == document_hash_ids(document)
    assert parsed.kind == {"EPCISDocument": "capture", "EPCISQueryDocument": "query"}.get(
        document["type"], "event"
    )
    for event in parsed.events:
        assert event.event_time.tzinfo is UTC


def test_bizstep_in_four_spellings_gives_the_same_short_name_and_hash() -> None:
    spellings = (
        "shipping",
        "cbv:BizStep-shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
    )
    events = [parse_document(object_event(bizStep=s)).events[0] for s in spellings]
    assert {e.biz_step for e in events} == {"shipping"}
    assert len({e.hash_id for e in events}) == 1


def test_a_non_cbv_bizstep_is_kept_as_its_full_uri() -> None:
    custom = object_event(bizStep="ex:tax_stamping")
    custom["@context"].append({"ex": "https://ns.example.com/epcis/"})
    assert parse_document(custom).events[0].biz_step == "https://ns.example.com/epcis/tax_stamping"


def test_event_time_with_an_offset_is_converted_to_utc_and_the_offset_kept() -> None:
    event = parse_document(object_event()).events[0]
    assert event.event_time == datetime(2026, 7, 22, 4, 45, tzinfo=UTC)
    assert event.event_time.tzinfo is UTC
    assert event.event_time_zone_offset == "+02:00"


def test_an_error_declaration_is_parsed_with_reason_and_corrective_ids() -> None:
    sample = named_sample("Capture/Documents/ObjectEvent_with_error_declaration.json")
    event = parse_document(sample).events[0]
    declaration = event.error_declaration
    assert declaration is not None
    assert declaration.declaration_time == datetime(2021, 2, 1, 22, 46, 31, 117000, tzinfo=UTC)
    assert declaration.reason == "incorrect_data"
    assert declaration.corrective_event_ids == (
        "ni:///sha-256;c6407ffcac52ec159528f2b556ba4ac3844c5aa48485c1fd61643e94f0a2d678?ver=CBV2.0",
        "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    )
    assert event.event_id is not None and event.event_id.startswith("ni:///sha-256;aa49")


def test_all_possible_fields_of_an_object_event_are_read() -> None:
    sample = named_sample("Capture/Documents/ObjectEvent_all_possible_fields.json")
    document = parse_document(sample)
    assert (document.sender, document.receiver) == (
        "urn:epc:id:sgln:0353579.00001.0",
        "urn:epc:id:sgln:5012345.00001.0",
    )
    assert document.schema_version == "2.0"
    event = document.events[0]
    assert (event.action, event.biz_step, event.disposition) == ("ADD", "receiving", "in_progress")
    assert event.epc_list == ("urn:epc:id:sgtin:0614141.107346.2018",)
    assert [(q.epc_class, q.quantity, q.uom) for q in event.quantities] == [
        ("urn:epc:class:lgtin:4012345.012345.998877", Decimal(200), "KGM")
    ]
    assert event.read_point == "urn:epc:id:sgln:0012345.11111.400"
    assert event.biz_transactions[0] == ("po", "urn:epc:id:gdti:0614141.00001.1618034")
    assert ("possessing_party", "urn:epc:id:pgln:0614141.00777") in event.destinations
    assert event.ilmd is not None
    assert event.ilmd["http://example.com/ext1/string"] == "string"
    assert event.ilmd["urn:epcglobal:cbv:mda:countryOfOrigin"] == "GB"
    assert event.extensions["http://example.com/ext1/int"] == "10"
    assert event.persistent_disposition is not None
    assert event.persistent_disposition.set == ("completeness_verified",)
    assert event.raw == sample["epcisBody"]["eventList"][0]


def test_a_query_document_gives_its_query_name_and_events() -> None:
    document = parse_document(named_sample("Query/queryDocument.json"))
    assert (document.kind, document.query_name) == ("query", "SimpleEventQuery")
    assert document.events[0].biz_step == "sensor_reporting"


def test_a_bare_event_is_a_one_event_document_of_kind_event() -> None:
    document = parse_document(object_event())
    assert (document.kind, len(document.events)) == ("event", 1)
    assert document.events[0].raw["type"] == "ObjectEvent"


def test_extension_fields_are_keyed_by_namespace_iri_whatever_the_prefix() -> None:
    first = object_event(**{"itp:machine": "M1"})
    first["@context"].append({"itp": ITP_NS})
    second = object_event(**{"x:machine": "M1"})
    second["@context"].append({"x": ITP_NS})
    a, b = (parse_document(d).events[0] for d in (first, second))
    assert a.extensions == {ITP_NS + "machine": "M1"}
    assert a == b and a.hash_id == b.hash_id


def test_parse_event_takes_the_document_prefixes_as_context() -> None:
    raw = {k: v for k, v in object_event(**{"itp:line": 3}).items() if k != "@context"}
    event = parse_event(raw, {"itp": ITP_NS})
    assert event.extensions == {ITP_NS + "line": 3}


def test_parse_event_refuses_an_invalid_event_with_its_issues() -> None:
    with pytest.raises(EpcisValidationError) as refused:
        parse_event(object_event(action="ADDED"), index=2)
    assert str(refused.value) == (
        "event 2 (ObjectEvent) field 'action': 'ADDED' is not one of ADD, OBSERVE, DELETE"
    )


@pytest.mark.parametrize(
    ("identifier", "canonical"),
    [
        ("urn:epc:id:sgtin:0614141.107346.2017", "https://id.gs1.org/01/10614141073464/21/2017"),
        (
            "https://id.gs1.de/01/04012345999990/10/LOT/21/XYZ-1234",
            "https://id.gs1.org/01/04012345999990/21/XYZ-1234",
        ),
        ("urn:itptrace:ui:KET01ABCDEF", "urn:itptrace:ui:KET01ABCDEF"),
        ("dl:01/09521141012345/21/2017", "https://id.gs1.org/01/09521141012345/21/2017"),
    ],
)
def test_canonical_id_gives_the_digital_link_form_of_gs1_identifiers_only(
    identifier: str, canonical: str
) -> None:
    assert canonical_id(identifier, {"dl": "https://example.com/"}) == canonical


def test_identifiers_are_kept_as_given_in_the_event() -> None:
    given = "urn:epc:id:sgtin:0614141.107346.2017"
    assert parse_document(object_event(epcList=[given])).events[0].epc_list == (given,)


def test_a_ten_thousand_event_document_parses() -> None:
    template = {k: v for k, v in object_event().items() if k != "@context"}
    events = []
    for n in range(10_000):
        event = copy.deepcopy(template)
        event["epcList"] = [f"https://id.gs1.org/01/09521141012345/21/{n}"]
        events.append(event)
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-07-22T10:30:00Z",
        "epcisBody": {"eventList": events},
    }
    parsed = parse_document(document)
    assert len({e.hash_id for e in parsed.events}) == 10_000
