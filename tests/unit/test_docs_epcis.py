"""docs/epcis.md maps the EU messages to EPCIS 2.0 events as the code does, both ways.

Each row of the message table is checked three times: the event the node writes for a
stored message of that type (``from_trace_event``), the message the node reads from an
event built from the row alone (``to_trace_event``), and a round trip through JSON-LD.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from itptrace.capture.epcis_map import TERMS, event_terms, from_trace_event, to_trace_event, ui_of
from itptrace.capture.model import (
    TRANSACTION_KINDS,
    DestinationKind,
    MessageType,
    TraceEvent,
    Transaction,
)
from itptrace.epcis import (
    ITP_NS,
    EpcisEvent,
    ErrorDeclaration,
    make_event,
    parse_document,
    to_jsonld,
)
from tests.unit.markdown import DOCS, code_spans, only_code, section, table_with

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
EPCIS_DOC = DOCS / "epcis.md"


def message_table() -> list[dict[str, str]]:
    text = section(EPCIS_DOC.read_text(), "## Messages")
    return table_with(text, "EU message", "eventType", "action", "bizStep")


def message_type(row: dict[str, str]) -> MessageType:
    """`EUA` application -> MessageType.EUA."""
    match = re.match(r"`([A-Z]{3})` ", row["EU message"])
    assert match, f"a message row starts with its `code`: {row['EU message']!r}"
    return MessageType(match.group(1))


def optional_code(cell: str) -> str | None:
    return only_code(cell) if cell else None


def extension_names(text: str) -> set[str]:
    return {span for span in code_spans(text) if re.fullmatch(r"itp:[A-Za-z]+", span)}


def sample(kind: MessageType) -> TraceEvent:
    """A stored message of ``kind`` with every field a message can carry."""
    transaction = (
        Transaction(TRANSACTION_KINDS[kind], "INV-7", Decimal("12.50"), "EUR", "OP1", "OP2")
        if kind in TRANSACTION_KINDS
        else None
    )
    reason = {MessageType.IDA: "stolen", MessageType.RCL: "sent in error"}.get(kind)
    return TraceEvent(
        "M-2",
        kind,
        "OP1",
        NOW,
        facility_id="F1",
        uis=("KET01pack1", "KET01pack2"),
        parent="KET01case" if kind in (MessageType.EPA, MessageType.EUD) else None,
        machine_id="LINE1",
        production_stamp="26010508",
        destination_facility_id="F2",
        destination_kind=DestinationKind.EXPORT,
        destination_country="UG",
        consignee_id="OP2",
        consignee_name="Kampala Imports",
        route="Busia",
        vehicle="KBX 123",
        transaction=transaction,
        reason=reason,
        recalled_event_id="M-1" if kind is MessageType.RCL else None,
    )


def through_json_ld(event: EpcisEvent) -> EpcisEvent:
    document = json.loads(json.dumps(to_jsonld([event])))
    return parse_document(document).events[0]


ROWS = message_table()
IDS = [message_type(row).value for row in ROWS]


def test_the_epcis_document_maps_every_message_type_and_no_other() -> None:
    documented = [message_type(row) for row in ROWS]
    assert len(documented) == len(set(documented)), "a message type is listed twice"
    assert set(documented) == set(MessageType) - {MessageType.OTHER}


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_each_message_is_written_as_the_documented_epcis_event(row: dict[str, str]) -> None:
    written = from_trace_event(sample(message_type(row)))
    assert written.type == only_code(row["eventType"])
    assert written.action == only_code(row["action"])
    assert written.biz_step == optional_code(row["bizStep"])
    assert [kind for kind, _ in written.biz_transactions] == (
        [optional_code(row["bizTransaction type"])] if written.type == "TransactionEvent" else []
    )
    names = {name.removeprefix(ITP_NS) for name in written.extensions}
    documented = {name.removeprefix("itp:") for name in extension_names(row["also"])}
    assert documented <= names, f"written without {documented - names}"


def event_from_row(row: dict[str, str]) -> EpcisEvent:
    """The EPCIS event a sender would build from the row alone."""
    kind = only_code(row["eventType"])
    also = row["also"]
    extensions: dict[str, Any] = {"itp:originator": "OP1"}
    extensions.update(re.findall(r"`(itp:[A-Za-z]+)` = `([^`]+)`", also))
    epcs = ["urn:itptrace:ui:KET01pack1"]
    aggregation = kind == "AggregationEvent"
    btype = optional_code(row["bizTransaction type"])
    transactions = [(btype, "urn:itptrace:transaction:7")] if kind == "TransactionEvent" else []
    declaration = ErrorDeclaration(NOW, None) if "`errorDeclaration`" in also else None
    return make_event(
        kind,
        event_time=NOW,
        action=only_code(row["action"]),
        biz_step=optional_code(row["bizStep"]),
        event_id="urn:itptrace:message:M-1",
        epc_list=() if aggregation else epcs,
        child_epcs=epcs if aggregation else (),
        parent_id="urn:itptrace:ui:KET01case" if "`parentID`" in also else None,
        biz_location="urn:itptrace:facility:F1",
        biz_transactions=transactions,
        error_declaration=declaration,
        extensions=extensions,
    )


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_each_documented_epcis_event_is_read_as_its_message(row: dict[str, str]) -> None:
    assert to_trace_event(event_from_row(row), None).message_type is message_type(row)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_each_message_survives_a_round_trip_through_epcis_json_ld(row: dict[str, str]) -> None:
    stored = sample(message_type(row))
    read = to_trace_event(through_json_ld(from_trace_event(stored)), None)
    assert read.message_type is stored.message_type
    if stored.message_type is MessageType.RCL:
        # The error declaration re-sends the recalled event: it names that event.
        assert (read.recalled_event_id, read.reason) == (stored.recalled_event_id, stored.reason)
        return
    assert (read.event_id, read.originator_id, read.event_time, read.facility_id) == (
        stored.event_id,
        stored.originator_id,
        stored.event_time,
        stored.facility_id,
    )
    assert (read.uis, read.parent, read.transaction) == (
        stored.uis,
        stored.parent,
        stored.transaction,
    )


def test_a_recall_with_a_cbv_reason_declares_it_in_the_error_declaration() -> None:
    stored = replace(sample(MessageType.RCL), reason="incorrect_data")
    written = from_trace_event(stored)
    assert written.error_declaration is not None
    assert written.error_declaration.reason == "incorrect_data"
    assert to_trace_event(through_json_ld(written), None).reason == "incorrect_data"


def test_every_itp_extension_the_document_names_is_one_the_code_writes_and_reads() -> None:
    written: set[str] = set()
    for kind in set(MessageType) - {MessageType.OTHER}:
        written |= {
            f"itp:{n.removeprefix(ITP_NS)}" for n in from_trace_event(sample(kind)).extensions
        }
    assert extension_names(EPCIS_DOC.read_text()) == written


@pytest.mark.parametrize(
    ("event_type", "action", "expected"),
    [
        ("AggregationEvent", "ADD", MessageType.EPA),
        ("AggregationEvent", "DELETE", MessageType.EUD),
        ("ObjectEvent", "DELETE", MessageType.IDA),
    ],
)
def test_when_reading_the_bizstep_of_aggregations_and_deletions_is_not_looked_at(
    event_type: str, action: str, expected: MessageType
) -> None:
    for step in (None, "other"):
        aggregation = event_type == "AggregationEvent"
        event = make_event(
            event_type,
            event_time=NOW,
            action=action,
            biz_step=step,
            epc_list=() if aggregation else ["urn:itptrace:ui:KET01pack1"],
            child_epcs=["urn:itptrace:ui:KET01pack1"] if aggregation else (),
            parent_id="urn:itptrace:ui:KET01case" if aggregation else None,
        )
        assert to_trace_event(event, "OP1").message_type is expected


def test_an_event_of_no_documented_kind_is_kept_as_received() -> None:
    event = make_event(
        "ObjectEvent",
        event_time=NOW,
        action="OBSERVE",
        biz_step="inspecting",
        epc_list=["urn:itptrace:ui:KET01pack1"],
    )
    read = to_trace_event(event, "OP1")
    assert read.message_type is MessageType.OTHER and read.details["epcis"] == dict(event.raw)


def identifier_forms() -> dict[str, list[str]]:
    table = table_with(section(EPCIS_DOC.read_text(), "## Identifiers"), "what", "EPCIS form")
    return {row["what"]: code_spans(row["EPCIS form"]) for row in table}


def test_the_documented_identifier_forms_name_the_ui_or_sscc_behind_them() -> None:
    forms = identifier_forms()
    values = {"{GTIN-14}": "06009876543219", "{UI}": "KET01pack1", "{AUI}": "KET01case"}
    for what in ("unit pack", "aggregated UI"):
        for form in forms[what]:
            if form.startswith(("https://", "urn:")):
                identifier = re.sub(r"\{[^}]+\}", lambda m: values[m.group(0)], form)
                assert ui_of(identifier) in values.values(), form
    sscc = "106141412345678908"
    assert ui_of(forms["SSCC"][0].replace("{SSCC}", sscc)) == sscc


def test_the_documented_facility_operator_and_message_forms_are_what_the_node_writes() -> None:
    forms = identifier_forms()
    stored = sample(MessageType.EIV)
    written = from_trace_event(stored)
    assert written.biz_location == forms["facility"][0].replace("{ID}", "F1")
    assert ("owning_party", forms["operator"][0].replace("{ID}", "OP1")) in written.sources
    assert written.event_id == forms["message code"][0].replace("{CODE}", "M-2")


@pytest.mark.parametrize("kind", sorted(set(MessageType) - {MessageType.OTHER}))
def test_the_terms_the_query_filters_on_are_those_of_the_event_the_node_writes(
    kind: MessageType,
) -> None:
    written = from_trace_event(sample(kind))
    assert TERMS[kind] == (written.type, written.action, written.biz_step)
    assert event_terms(sample(kind)) == TERMS[kind]
