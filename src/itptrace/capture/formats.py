"""Reading a report in any accepted format: native EU-style JSON or EPCIS 2.0 JSON-LD."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from itptrace.capture.model import Problem, TraceEvent
from itptrace.capture.native import parse_native
from itptrace.errors import DomainError

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


class Shape(StrEnum):
    """What a caller promises to send: any report, native messages, or one EPCIS event."""

    ANY = "any"
    NATIVE = "native"
    EPCIS_EVENT = "epcis_event"


class MalformedDocument(DomainError):
    """The body is not JSON, or not the kind of document the endpoint takes."""

    code = "malformed_json"


def _nul_at(value: Any, where: str = "$") -> str | None:
    """Where a NUL character hides in a JSON value (no field may hold one; PostgreSQL can't)."""
    if isinstance(value, str):
        return where if "\x00" in value else None
    pairs: Any = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in pairs:
        if isinstance(key, str) and "\x00" in key:
            return f"{where}.{key!r}"
        if isinstance(item, str):
            if "\x00" in item:
                return f"{where}.{key}"
        elif isinstance(item, dict | list):
            found = _nul_at(item, f"{where}.{key}")
            if found is not None:
                return found
    return None


def check_shape(document: Any, shape: Shape) -> None:
    """Refuse a document that is not what the endpoint takes (a rule, not a route's)."""
    if not isinstance(document, dict | list):
        raise MalformedDocument("a report is a JSON object or array", code="malformed")
    nul = _nul_at(document)
    if nul is not None:
        raise MalformedDocument(f"{nul} holds a NUL character", subject=nul, code="malformed")
    epcis = is_epcis(document)
    if shape is Shape.NATIVE and epcis:
        raise MalformedDocument("send EPCIS documents to /capture or /events", code="malformed")
    if shape is Shape.EPCIS_EVENT and not (
        isinstance(document, dict)
        and epcis
        and document.get("type") in EPCIS_TYPES - {"EPCISDocument", "EPCISQueryDocument"}
    ):
        raise MalformedDocument("POST /events takes exactly one EPCIS event", code="malformed")
