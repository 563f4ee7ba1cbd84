"""Reading a report in any accepted format: native EU-style JSON or EPCIS 2.0 JSON-LD."""

from __future__ import annotations

from typing import Any

from itptrace.capture.model import Problem, TraceEvent
from itptrace.capture.native import parse_native

EPCIS_TYPES = {
    "EPCISDocument",
    "EPCISQueryDocument",
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
}


def is_epcis(document: Any) -> bool:
    return isinstance(document, dict) and (
        "@context" in document or document.get("type") in EPCIS_TYPES
    )


def parse_report(
    document: Any, originator: str | None = None
) -> tuple[list[TraceEvent], list[Problem]]:
    """Events and structural problems of a report; ``originator`` fills EPCIS events' sender."""
    if is_epcis(document):
        from itptrace.capture.epcis_map import parse_epcis_report

        return parse_epcis_report(document, originator)
    return parse_native(document)
