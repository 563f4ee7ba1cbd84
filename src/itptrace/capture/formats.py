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


def _has_control_characters(value: Any) -> bool:
    if isinstance(value, str):
        return any(ord(c) < 32 and c not in "\t\n\r" for c in value)
    if isinstance(value, dict):
        return any(
            _has_control_characters(k) or _has_control_characters(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_control_characters(v) for v in value)
    return False


def parse_report(
    document: Any, originator: str | None = None
) -> tuple[list[TraceEvent], list[Problem]]:
    """Events and structural problems of a report; ``originator`` fills EPCIS events' sender."""
    if _has_control_characters(document):
        return [], [
            Problem(
                "malformed",
                "the report contains a NUL or another control character inside a value",
                "document",
            )
        ]
    if is_epcis(document):
        from itptrace.capture.epcis_map import parse_epcis_report

        return parse_epcis_report(document, originator)
    return parse_native(document)
