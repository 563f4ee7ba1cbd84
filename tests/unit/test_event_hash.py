"""CBV 2.0 EPCIS event hash ID: golden vectors and targeted properties.

Golden data: ``tests/data/epcis-hash`` (vendored, with its licence and origin).
A missing directory fails the golden tests; it never skips them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from itptrace.epcis.canon import canonical_value, normalise_timestamp
from itptrace.epcis.event_hash import (
    document_context,
    document_events,
    document_hash_ids,
    document_ignore_fields,
    event_hash_id,
    prehash_string,
)
from itptrace.gs1.digital_link import check_digit, to_canonical_dl

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "epcis-hash"
MISSING = f"golden EPCIS hash data not found at {GOLDEN} (tests/data is part of the repository)"

# Golden pre-hash lines that do not hash to the golden .hashes value next to
# them (the .hashes files are authoritative): a garbled line, a line copied
# from another event, and a truncated line.  Pinned so that a change shows.
STALE_GOLDEN_PREHASHES = {
    ("epcisDocWithAllGS1Keys", 0),
    ("epcisDocWithCustomSchemaInContext", 1),
    ("epcisDocWithDefaultSchemaInContext", 1),
}


def _cases(pattern: str) -> list[Any]:
    paths = sorted(GOLDEN.glob(pattern)) if GOLDEN.is_dir() else []
    if not paths:
        return [pytest.param(None, id="golden-data-missing")]
    return [pytest.param(path, id=path.stem) for path in paths]


def _golden_documents() -> list[Any]:
    cases = _cases("examples/*.jsonld")
    return [c for c in cases if c.values[0] is None or c.values[0].with_suffix(".hashes").exists()]


def _require(path: Path | None) -> Path:
    if path is None:
        pytest.fail(MISSING)
    return path


def _lines(path: Path) -> list[str]:
    """One entry per line, as the golden files are written (last newline optional)."""
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _prehashes(document: dict[str, Any]) -> list[str]:
    context, ignore = document_context(document), document_ignore_fields(document)
    return [prehash_string(e, context, ignore_fields=ignore) for e in document_events(document)]


def _sha(text: str) -> str:
    return f"ni:///sha-256;{hashlib.sha256(text.encode()).hexdigest()}?ver=CBV2.0"


def test_the_golden_data_directory_is_present_with_all_json_documents() -> None:
    assert GOLDEN.is_dir(), MISSING
    with_hashes = [p for p in GOLDEN.glob("examples/*.jsonld") if p.with_suffix(".hashes").exists()]
    assert len(with_hashes) >= 22


@pytest.mark.parametrize("path", _golden_documents())
def test_every_event_of_a_golden_document_hashes_to_the_expected_id(path: Path | None) -> None:
    path = _require(path)
    expected = _lines(path.with_suffix(".hashes"))
    assert document_hash_ids(_load(path)) == expected


@pytest.mark.parametrize("path", _golden_documents())
def test_pre_hash_strings_match_the_golden_pre_hash_strings(path: Path | None) -> None:
    path = _require(path)
    golden_file = path.with_suffix(".prehashes")
    if not golden_file.exists():
        return  # only a .hashes file: covered by the hash test above
    golden, hashes = _lines(golden_file), _lines(path.with_suffix(".hashes"))
    mine = _prehashes(_load(path))
    assert len(mine) == len(golden)
    for index, (ours, theirs) in enumerate(zip(mine, golden, strict=True)):
        if (path.stem, index) in STALE_GOLDEN_PREHASHES:
            assert _sha(ours) == hashes[index]
        else:
            assert ours == theirs, f"event {index}"


def test_only_the_known_golden_pre_hash_lines_disagree_with_their_own_hashes() -> None:
    assert GOLDEN.is_dir(), MISSING
    stale = set()
    for golden_file in GOLDEN.glob("examples/*.prehashes"):
        hashes_file = golden_file.with_suffix(".hashes")
        if golden_file.with_suffix(".jsonld").exists() and hashes_file.exists():
            pairs = zip(_lines(golden_file), _lines(hashes_file), strict=True)
            stale |= {(golden_file.stem, i) for i, (p, h) in enumerate(pairs) if _sha(p) != h}
    assert stale == STALE_GOLDEN_PREHASHES


@pytest.mark.parametrize("path", _cases("expected_equal/*.json"))
def test_different_json_representations_of_one_event_hash_equal(path: Path | None) -> None:
    ids = document_hash_ids(_load(_require(path)))
    assert len(ids) >= 2
    assert len(set(ids)) == 1


# ---------------------------------------------------------------- targeted tests

BASE_EVENT: dict[str, Any] = {
    "type": "ObjectEvent",
    "eventTime": "2020-03-04T11:00:30.000+01:00",
    "eventTimeZoneOffset": "+01:00",
    "epcList": ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:id:sgtin:4012345.011111.2"],
    "action": "OBSERVE",
    "bizStep": "shipping",
    "readPoint": {"id": "urn:epc:id:sgln:4012345.00011.0"},
    "example:lot": "A1",
}
CONTEXT = {"example": "https://ns.example.com/epcis/"}


def _event(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(BASE_EVENT)
    event.update(changes)
    return event


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2020-03-04T11:00:30+01:00", "2020-03-04T10:00:30.000Z"),
        ("2022-02-15T01:33:31.116000-06:00", "2022-02-15T07:33:31.116Z"),
        ("2023-02-02T11:04:03.1415Z", "2023-02-02T11:04:03.142Z"),
        ("2023-02-02T11:04:03.1414Z", "2023-02-02T11:04:03.141Z"),
        ("2023-02-02T11:04:03.1425Z", "2023-02-02T11:04:03.143Z"),
        ("2023-02-02T11:04:03.5Z", "2023-02-02T11:04:03.500Z"),
        ("2020-12-31T23:59:59.9996+00:00", "2021-01-01T00:00:00.000Z"),
        ("2020-03-01T04:00:00.000+05:30", "2020-02-29T22:30:00.000Z"),
        ("2020-03-04T11:00:30", "2020-03-04T11:00:30.000Z"),
        ("not a time", "not a time"),
    ],
)
def test_timestamps_become_utc_with_millisecond_precision(raw: str, expected: str) -> None:
    assert normalise_timestamp(raw) == expected


def test_event_time_in_another_zone_but_same_instant_gives_the_same_hash() -> None:
    utc = _event(eventTime="2020-03-04T10:00:30Z")
    assert event_hash_id(utc, CONTEXT) == event_hash_id(_event(), CONTEXT)


@pytest.mark.parametrize(
    "form",
    [
        "urn:epc:id:sgtin:4012345.011111.9876",
        "https://id.gs1.org/01/04012345111118/21/9876",
        "https://brand.example.com/gtin/04012345111118/ser/9876?linkType=gs1:pip",
        "https://brand.example.com/01/04012345111118/10/LOT1/21/9876",
        "dl:01/04012345111118/21/9876",
    ],
)
def test_urn_curie_and_digital_link_forms_of_one_sgtin_give_one_canonical_form(form: str) -> None:
    canonical = canonical_value(form, {"dl": "https://id.gs1.org/"})
    assert canonical == "https://id.gs1.org/01/04012345111118/21/9876"


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ("urn:epc:id:sscc:4012345.0000000333", "https://id.gs1.org/00/040123450000003338"),
        ("urn:epc:id:sgln:4012345.00011.987", "https://id.gs1.org/414/4012345000115/254/987"),
        ("urn:epc:id:sgln:4012345.00011.0", "https://id.gs1.org/414/4012345000115"),
        ("urn:epc:class:lgtin:4012345.012345.Lot987", "https://id.gs1.org/01/04012345123456/10/Lot987"),
        ("urn:epc:idpat:sgtin:4012345.066666.*", "https://id.gs1.org/01/04012345666663"),
        ("https://id.gs1.org/gtin/9780345418913", "https://id.gs1.org/01/09780345418913"),
        ("urn:epc:id:sgtin:4012345.011111.a%2Fb!", "https://id.gs1.org/01/04012345111118/21/a%2Fb%21"),
    ],
)  # fmt: skip
def test_gs1_identifiers_become_constrained_canonical_digital_links(
    form: str, expected: str
) -> None:
    assert to_canonical_dl(form) == expected


@pytest.mark.parametrize(
    "value",
    ["http://transaction.acme.com/po/12345678", "geo:47.506694,11.104301", "urn:epc:id:sgtin:1.2"],
)
def test_values_that_are_not_gs1_identifiers_are_left_alone(value: str) -> None:
    assert to_canonical_dl(value) is None
    assert canonical_value(value, {}) == value


def test_the_gs1_check_digit_is_the_mod_10_digit() -> None:
    assert check_digit("0401234511111") == "8"
    assert check_digit("629104150021") == "3"


@pytest.mark.parametrize(
    "bizstep",
    [
        "shipping",
        "urn:epcglobal:cbv:bizstep:shipping",
        "cbv:BizStep-shipping",
        "https://ref.gs1.org/cbv/BizStep-shipping",
    ],
)
def test_every_spelling_of_a_cbv_business_step_expands_to_the_web_uri(bizstep: str) -> None:
    text = prehash_string(_event(bizStep=bizstep), CONTEXT)
    assert "bizStep=https://ref.gs1.org/cbv/BizStep-shipping" in text


@pytest.mark.parametrize("quantity", [452, 452.0, "452.00", " 452 "])
def test_quantities_are_written_without_trailing_zeros(quantity: Any) -> None:
    event = _event(quantityList=[{"epcClass": "urn:epc:idpat:sgtin:4012345.044444.*",
                                  "quantity": quantity, "uom": "KGM"}])  # fmt: skip
    assert "quantity=452uom=KGM" in prehash_string(event)


def test_the_order_of_an_epc_list_does_not_change_the_hash() -> None:
    reordered = _event(epcList=list(reversed(BASE_EVENT["epcList"])))
    assert event_hash_id(reordered, CONTEXT) == event_hash_id(_event(), CONTEXT)


def test_the_order_of_json_keys_does_not_change_the_hash() -> None:
    shuffled = dict(reversed(list(_event().items())))
    assert event_hash_id(shuffled, CONTEXT) == event_hash_id(_event(), CONTEXT)


def test_the_name_of_an_extension_namespace_prefix_does_not_change_the_hash() -> None:
    renamed = _event()
    renamed["other:lot"] = renamed.pop("example:lot")
    other = {"other": CONTEXT["example"]}
    assert event_hash_id(renamed, other) == event_hash_id(_event(), CONTEXT)


@pytest.mark.parametrize(
    "change",
    [
        {"eventTime": "2020-03-04T11:00:30.001+01:00"},
        {"eventTimeZoneOffset": "+02:00"},
        {"epcList": ["urn:epc:id:sgtin:4012345.011111.1", "urn:epc:id:sgtin:4012345.011111.3"]},
        {"action": "ADD"},
        {"bizStep": "receiving"},
        {"disposition": "in_transit"},
        {"readPoint": {"id": "urn:epc:id:sgln:4012345.00011.1"}},
        {"example:lot": "A2"},
        {"example:extra": "x"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_changed_or_added_field_changes_the_hash(change: dict[str, Any]) -> None:
    assert event_hash_id(_event(**change), CONTEXT) != event_hash_id(_event(), CONTEXT)


@pytest.mark.parametrize(
    "extra",
    [
        {"recordTime": "2021-01-01T00:00:00Z"},
        {"eventID": "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"},
        {
            "errorDeclaration": {
                "declarationTime": "2021-01-01T00:00:00Z",
                "reason": "incorrect_data",
            }
        },
        {"rdfs:comment": "a remark"},
    ],
    ids=lambda extra: next(iter(extra)),
)
def test_fields_outside_the_event_content_do_not_change_the_hash(extra: dict[str, Any]) -> None:
    assert event_hash_id(_event(**extra), CONTEXT) == event_hash_id(_event(), CONTEXT)


def test_blank_values_and_empty_lists_are_left_out() -> None:
    blank = _event(epcList=[*BASE_EVENT["epcList"], "  "], childEPCs=[], disposition="")
    assert prehash_string(blank, CONTEXT) == prehash_string(_event(), CONTEXT)


def test_fields_named_in_ignore_fields_are_left_out() -> None:
    with_hash = _event(**{"example:hash": "ni:///sha-256;00?ver=CBV2.0"})
    kept = event_hash_id(with_hash, CONTEXT)
    dropped = event_hash_id(with_hash, CONTEXT, ignore_fields={"example:hash"})
    assert kept != dropped == event_hash_id(_event(), CONTEXT)


def test_a_hash_id_is_a_named_information_uri_with_the_cbv_version() -> None:
    assert re.fullmatch(r"ni:///sha-256;[0-9a-f]{64}\?ver=CBV2\.0", event_hash_id(_event()))


def test_capture_query_single_event_and_bare_event_documents_yield_their_events() -> None:
    first, second = _event(), _event(action="ADD")
    context = [{"example": CONTEXT["example"]}]
    capture = {"@context": context, "epcisBody": {"eventList": [first, second]}}
    query = {"epcisBody": {"queryResults": {"resultsBody": {"eventList": [first, second]}}}}
    single = {"epcisBody": {"event": first}}
    assert document_events(capture) == document_events(query) == [first, second]
    assert document_events(single) == document_events(first) == [first]
    assert document_context(capture) == CONTEXT
    assert document_hash_ids(capture)[0] == event_hash_id(first, CONTEXT)


def test_an_event_level_context_resolves_the_event_extensions() -> None:
    bare = _event(**{"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
                                  CONTEXT]})  # fmt: skip
    assert document_hash_ids(bare) == [event_hash_id(_event(), CONTEXT)]
    assert "{https://ns.example.com/epcis/}lot=A1" in prehash_string(bare)
