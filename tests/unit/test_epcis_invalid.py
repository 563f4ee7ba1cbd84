"""EPCIS 2.0 validation: every invalid sample is refused for its real problem, and all of them.

Each invalid sample lists the issues we expect as ``(event index, field, words in the
message)``; the test compares the *whole* list, so a missed problem and an extra
(spurious) one both fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from itptrace.epcis import EpcisIssue, EpcisValidationError, parse_document
from tests.unit.test_epcis_parse import (
    INVALID_FOLDERS,
    SAMPLES,
    load_sample,
    object_event,
    sample_cases,
)

NOT_BIZSTEP = "not a CBV 2.0 bizStep"
NOT_DISPOSITION = "not a CBV 2.0 disposition"
MISSING = "required field is missing"
NO_NAMESPACE = "needs a namespace prefix"
NOT_ACTION = "is not one of ADD, OBSERVE, DELETE"
NOT_TIME = "is not an RFC 3339 date-time with a time-zone offset"

EXPECTED: dict[str, list[tuple[int | None, str, str]]] = {
    "Capture/Invalid/Combination_of_events_with_missing_mandatory_fields": [
        (0, "action", MISSING),
        (1, "eventTimeZoneOffset", MISSING),
        (1, "action", MISSING),
    ],
    "Capture/Invalid/Combination_of_multiple_invalid_fields": [
        (0, "bizStep", NOT_BIZSTEP),
        (1, "disposition", NOT_DISPOSITION),
        (2, "sourceList[0].type", "not a CBV 2.0 source/destination type"),
        (3, "ilmd.materialType", NO_NAMESPACE),
        (4, "eventTime", NOT_TIME),
        (4, "action", NOT_ACTION),
    ],
    "Capture/Invalid/Combination_of_non_standard_bizStep_and_disposition": [
        (0, "bizStep", NOT_BIZSTEP),
        (1, "disposition", NOT_DISPOSITION),
    ],
    "Capture/Invalid/EPCISDocument_without_context": [(None, "@context", MISSING)],
    "Capture/Invalid/ObjectEvent_with_ilmd_field_without_namespace": [
        (0, "ilmd.materialType", NO_NAMESPACE)
    ],
    "Capture/Invalid/ObjectEvent_with_invalid_action": [(0, "action", NOT_ACTION)],
    "Capture/Invalid/ObjectEvent_with_invalid_certificationInfo": [
        (
            0,
            "certificationInfo[1].gs1:CertificationDetails.gs1:certificationAuditDate",
            "'wrong date format' is not a date written YYYY-MM-DD",
        )
    ],
    "Capture/Invalid/ObjectEvent_with_invalid_eventTime_format": [(0, "eventTime", NOT_TIME)],
    "Capture/Invalid/ObjectEvent_with_non_standard_bizStep": [(0, "bizStep", NOT_BIZSTEP)],
    "Capture/Invalid/ObjectEvent_with_non_standard_bizStep_in_second_event": [
        (1, "bizStep", NOT_BIZSTEP)
    ],
    "Capture/Invalid/ObjectEvent_with_non_standard_disposition": [
        (0, "disposition", NOT_DISPOSITION)
    ],
    "Capture/Invalid/ObjectEvent_with_quantity_as_text": [
        (0, "quantityList[0].quantity", "'twenty' is not a number")
    ],
    "Capture/Invalid/ObjectEvent_with_unknown_field_in_quantityList": [
        (0, "quantityList[0].weight", "unknown field (allowed here: epcClass, quantity, uom)")
    ],
    "Capture/Invalid/ObjectEvent_without_action_and_eventTime": [
        (0, "eventTime", MISSING),
        (0, "eventTimeZoneOffset", MISSING),
        (0, "action", MISSING),
    ],
    "Capture/Invalid/ObjectEvent_without_identifier_list": [
        (0, "epcList", "needs an epcList or a non-empty quantityList")
    ],
    "Query/Invalid/QueryDocument_with_invalid_action": [(0, "action", NOT_ACTION)],
    "Query/Invalid/QueryDocument_with_invalid_eventType": [
        (0, "type", "'ObjectEventInvalid' is not one of ObjectEvent, AggregationEvent")
    ],
}


def refusal(document: Any) -> list[EpcisIssue]:
    with pytest.raises(EpcisValidationError) as refused:
        parse_document(document)
    return refused.value.issues


def matches(issues: list[EpcisIssue], expected: list[tuple[int | None, str, str]]) -> bool:
    return len(issues) == len(expected) and all(
        (issue.event_index, issue.field) == (index, field) and words in issue.message
        for issue, (index, field, words) in zip(issues, expected, strict=True)
    )


@pytest.mark.parametrize("path", sample_cases(INVALID_FOLDERS))
def test_every_invalid_sample_is_refused_naming_each_real_problem(path: Path | None) -> None:
    document = load_sample(path)
    assert path is not None
    name = str(path.relative_to(SAMPLES).with_suffix(""))
    assert name in EXPECTED, f"no expected issues written down for {name}"
    issues = refusal(document)
    assert matches(issues, EXPECTED[name]), "\n".join(map(str, issues))


def test_every_expected_refusal_has_its_sample_file() -> None:
    missing = [name for name in EXPECTED if not (SAMPLES / f"{name}.json").exists()]
    assert not missing, f"sample files missing under {SAMPLES}: {missing}"


def test_an_issue_reads_as_one_line_naming_event_type_and_field() -> None:
    (issue,) = refusal(object_event(action="ADDED"))
    assert str(issue) == (
        "event 0 (ObjectEvent) field 'action': 'ADDED' is not one of ADD, OBSERVE, DELETE"
    )


def test_an_unknown_top_level_event_field_without_namespace_is_an_issue() -> None:
    (issue,) = refusal(object_event(machine="M1"))
    assert (issue.field, NO_NAMESPACE in issue.message) == ("machine", True)


def test_a_namespaced_top_level_field_is_an_extension_not_an_issue() -> None:
    assert parse_document(object_event(**{"example:machine": "M1"})).events


def test_every_issue_of_every_event_is_collected() -> None:
    events = [
        {k: v for k, v in object_event(action="ADDED").items() if k != "@context"},
        object_event(bizStep="stamping", eventTime="now"),
    ]
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "yesterday",
        "epcisBody": {"eventList": events},
    }
    issues = refusal(document)
    assert [(i.event_index, i.field) for i in issues] == [
        (None, "creationDate"),
        (0, "action"),
        (1, "eventTime"),
        (1, "bizStep"),
    ]
    assert "document field 'creationDate'" in str(EpcisValidationError(issues)).splitlines()[0]


def test_a_cbv_uri_naming_no_cbv_value_is_refused_but_a_foreign_uri_is_kept() -> None:
    (issue,) = refusal(object_event(bizStep="urn:epcglobal:cbv:bizstep:stamping"))
    assert issue.field == "bizStep"
    assert parse_document(object_event(bizStep="https://example.org/steps/stamping")).events


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        (
            {"type": "AggregationEvent", "action": "ADD", "childEPCs": ["urn:x:1"]},
            "parentID",
            MISSING,
        ),
        (
            {"type": "AggregationEvent", "action": "ADD", "parentID": "urn:x:p"},
            "childEPCs",
            "needs childEPCs or childQuantityList",
        ),
        ({"type": "TransactionEvent", "action": "ADD"}, "bizTransactionList", "at least one"),
        (
            {"type": "TransformationEvent", "inputEPCList": ["urn:x:1"]},
            "inputEPCList",
            "needs inputs and outputs",
        ),
        ({"action": "OBSERVE", "ilmd": {"example:lot": "1"}}, "ilmd", "only allowed"),
        ({"eventTimeZoneOffset": "+2:00"}, "eventTimeZoneOffset", "±hh:mm"),
        ({"epcList": ["urn:x:1", "urn:x:1"]}, "epcList", "more than once"),
        ({"epcList": ["not a uri"]}, "epcList[0]", "is not a URI"),
        ({"readPoint": "urn:x:rp"}, "readPoint", "is not a JSON object"),
        (
            {"quantityList": [{"epcClass": "urn:x:c", "quantity": float("nan")}]},
            "quantityList[0].quantity",
            "is not a number",
        ),
        ({"quantityList": [{"epcClass": "urn:x:c", "uom": "kg"}]}, "quantityList[0].uom", "Rec 20"),
        (
            {"errorDeclaration": {"reason": "incorrect_data"}},
            "errorDeclaration.declarationTime",
            MISSING,
        ),
        (
            {"persistentDisposition": {"set": ["melted"]}},
            "persistentDisposition.set[0]",
            NOT_DISPOSITION,
        ),
    ],
)
def test_the_rules_of_the_event_types_are_enforced(
    event: dict[str, Any], field: str, words: str
) -> None:
    document = object_event(**event)
    if document["type"] != "ObjectEvent":
        del document["epcList"]
    issues = refusal(document)
    assert any(i.field == field and words in i.message for i in issues), "\n".join(map(str, issues))


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], ""),
        ({"@context": [], "type": "Document"}, "type"),
        ({"@context": [], "type": "EPCISDocument", "schemaVersion": "2.0"}, "creationDate"),
        (
            {"@context": [], "type": "EPCISQueryDocument", "epcisBody": {"queryResults": {}}},
            "epcisBody.queryResults.queryName",
        ),
    ],
)
def test_a_malformed_document_is_refused_at_document_level(document: Any, field: str) -> None:
    issues = refusal(document)
    assert issues[0].event_index is None and issues[0].field == field
