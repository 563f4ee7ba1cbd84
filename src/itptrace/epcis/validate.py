"""Structural validation of EPCIS 2.0 JSON-LD documents and events.

The rules follow the EPCIS 2.0 JSON schema (the fields each event type may
carry, required fields, value shapes, "an extension field needs a namespace")
and the CBV 2.0 vocabularies (:mod:`itptrace.epcis.vocab`), plus rules
of the standard's text that the schema leaves out (``parentID`` of an
AggregationEvent is required unless the action is OBSERVE).  Every problem of
a document is collected, never just the first.

Two leniencies, both because published valid examples rely on them: a sensor
report's ``type`` is checked for shape only (the GS1 Web Vocabulary of
measurement types keeps growing), and a sensor report may omit ``type``
(alert reports carry only ``exception``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from itptrace.epcis.canon import GS1_VOC
from itptrace.epcis.event_hash import document_context
from itptrace.epcis.vocab import (
    EVENT_FIELDS,
    EVENT_TYPES,
    FIELDS_BY_TYPE,
    LISTS,
    RECORDS,
    STANDARD_CONTEXT,
    Kind,
    RecordSpec,
    Vocabulary,
    all_prefixes,
    expand_name,
    is_uri,
    parse_timestamp,
    vocabulary_term,
)


@dataclass(frozen=True)
class EpcisIssue:
    """One problem: ``event_index`` counts from 0 in the event list (None: the document)."""

    event_index: int | None
    field: str
    message: str
    event_type: str | None = None

    def __str__(self) -> str:
        where = "document" if self.event_index is None else f"event {self.event_index}"
        if self.event_index is not None and self.event_type:
            where += f" ({self.event_type})"
        field = f" field '{self.field}'" if self.field else ""
        return f"{where}{field}: {self.message}"


class EpcisValidationError(ValueError):
    """An EPCIS document or event was refused; ``issues`` lists every reason."""

    def __init__(self, issues: list[EpcisIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


_OFFSET = re.compile(r"[+-]((0\d|1[0-3]):[0-5]\d|14:00)")
_UOM = re.compile(r"[A-Z0-9]{2,3}")
_HEX = re.compile(r"[A-Fa-f0-9]+")
_TERM = re.compile(r"[A-Za-z_][\w.\-]*")


def _is_number(value: Any) -> bool:
    """A JSON number: not a boolean, and finite (Python's json reads NaN and Infinity)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    return isinstance(value, int) or Decimal(value).is_finite()


_CERTIFICATION_WRAPPER = RecordSpec(
    {GS1_VOC + "CertificationDetails": "cert-details"}, extensible=False
)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class _Checker:
    """Collects the issues of one event (or of the document itself when ``index`` is None)."""

    def __init__(self, prefixes: Mapping[str, str], index: int | None, event_type: Any) -> None:
        self.prefixes = prefixes
        self.index = index
        self.event_type = event_type if isinstance(event_type, str) else None
        self.issues: list[EpcisIssue] = []

    def add(self, field: str, message: str) -> None:
        self.issues.append(EpcisIssue(self.index, field, message, self.event_type))

    def extension_key(self, path: str, key: str) -> None:
        if not is_uri(key):
            self.add(path + key, "unknown field; an extension field needs a namespace prefix "
                     f"declared in @context, e.g. 'example:{key}'")  # fmt: skip

    def record(self, path: str, value: Any, spec: RecordSpec) -> None:
        """An object whose known fields have the kinds ``spec`` gives."""
        if not isinstance(value, Mapping):
            self.add(path, f"{_show(value)} is not a JSON object")
            return
        for name in spec.required:
            if name not in value:
                self.add(f"{path}.{name}", "required field is missing")
        for key, item in value.items():
            # Known fields are plain names, except GS1 Web Vocabulary ones (gs1:…).
            name = key if key in spec.fields else expand_name(key, self.prefixes)
            if name in spec.fields:
                self.value(f"{path}.{key}", spec.fields[name], item)
            elif spec.extensible:
                self.extension_key(path + ".", key)
            else:
                allowed = ", ".join(spec.fields)
                self.add(f"{path}.{key}", f"unknown field (allowed here: {allowed})")

    def value(self, path: str, kind: Kind, value: Any) -> None:
        if isinstance(kind, Vocabulary):
            if vocabulary_term(kind, value, self.prefixes) is None:
                self.add(path, f"{_show(value)} is not a CBV 2.0 {kind.name} (a non-standard "
                         "value must be a full URI)")  # fmt: skip
        elif isinstance(kind, tuple):
            if value not in kind:
                self.add(path, f"{_show(value)} is not one of {', '.join(kind)}")
        elif kind in _SIMPLE:
            test, expected = _SIMPLE[kind]
            if not test(value):
                self.add(path, f"{_show(value)} is not {expected}")
        elif kind in LISTS or (kind in RECORDS and RECORDS[kind].is_list):
            self.sequence(path, kind, value)
        elif kind in RECORDS:
            self.record(path, value, RECORDS[kind])
        elif kind == "certification":
            self.certification(path, value)
        elif kind == "context" and not _is_context(value):
            self.add(path, "is not a URI, an object or a list of those")

    def sequence(self, path: str, kind: str, value: Any) -> None:
        if not isinstance(value, list):
            self.add(path, f"{_show(value)} is not a JSON array")
            return
        for i, item in enumerate(value):
            if kind in LISTS:
                self.value(f"{path}[{i}]", LISTS[kind][0], item)
            else:
                self.record(f"{path}[{i}]", item, RECORDS[kind])
        if kind in LISTS and LISTS[kind][1] and len(set(map(str, value))) != len(value):
            self.add(path, "lists the same value more than once")

    def certification(self, path: str, value: Any) -> None:
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            where = f"{path}[{i}]" if isinstance(value, list) else path
            if isinstance(item, Mapping):
                self.record(where, item, _CERTIFICATION_WRAPPER)
            elif not is_uri(item):
                self.add(where, f"{_show(item)} is neither a URI nor gs1:CertificationDetails")


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _is_context(value: Any) -> bool:
    entries = value if isinstance(value, list) else [value]
    return all(is_uri(e) or isinstance(e, Mapping) for e in entries)


_SIMPLE: dict[str, tuple[Callable[[Any], bool], str]] = {
    "uri": (is_uri, "a URI"),
    "time": (lambda v: parse_timestamp(v) is not None,
             "an RFC 3339 date-time with a time-zone offset (e.g. 2026-07-22T06:45:00+02:00)"),
    "offset": (lambda v: isinstance(v, str) and _OFFSET.fullmatch(v) is not None,
               "a time-zone offset from -14:00 to +14:00 written ±hh:mm"),
    "number": (_is_number, "a number"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "string": (lambda v: isinstance(v, str), "a string"),
    "any": (lambda v: True, "anything"),
    "hex": (lambda v: isinstance(v, str) and _HEX.fullmatch(v) is not None, "hexadecimal"),
    "uom": (lambda v: isinstance(v, str) and _UOM.fullmatch(v) is not None,
            "a UN/ECE Rec 20 unit code (2-3 capitals or digits)"),
    "date": (lambda v: _is_date(v), "a date written YYYY-MM-DD"),
    "term": (lambda v: is_uri(v) or (isinstance(v, str) and _TERM.fullmatch(v) is not None),
             "a vocabulary term or a URI"),
}  # fmt: skip


def check_event(
    event: Any, context: Mapping[str, str] | None = None, index: int = 0
) -> list[EpcisIssue]:
    """Every issue of one event; ``context`` is the document's prefix map."""
    if not isinstance(event, Mapping):
        return [EpcisIssue(index, "", f"{_show(event)} is not a JSON object")]
    event_type = event.get("type")
    checker = _Checker(
        all_prefixes({**(context or {}), **document_context(event)}), index, event_type
    )
    if event_type not in EVENT_TYPES:
        types = ", ".join(EVENT_TYPES)
        if event_type is None:
            checker.add("type", f"required field is missing (one of {types})")
        else:
            checker.add("type", f"{_show(event_type)} is not one of {types}")
        return checker.issues
    allowed = FIELDS_BY_TYPE[event_type]
    for key, value in event.items():
        if key in allowed:
            if key != "type":
                checker.value(key, EVENT_FIELDS[key], value)
        else:
            checker.extension_key("", key)
    _check_required(checker, event_type, event)
    return checker.issues


def _check_required(checker: _Checker, event_type: str, event: Mapping[str, Any]) -> None:
    """Required fields and the rules that tie fields together."""
    required = ["eventTime", "eventTimeZoneOffset"]
    if event_type != "TransformationEvent":
        required.append("action")
    if event_type == "AssociationEvent" or (
        event_type == "AggregationEvent" and event.get("action") in ("ADD", "DELETE")
    ):
        required.append("parentID")
    for name in required:
        if name not in event:
            checker.add(name, "required field is missing")

    def has(name: str) -> bool:
        return bool(_items(event.get(name)))

    action = event.get("action")
    if event_type == "ObjectEvent":
        sensed = has("sensorElementList") and "readPoint" in event
        if "epcList" not in event and not has("quantityList") and not sensed:
            checker.add("epcList", "an ObjectEvent needs an epcList or a non-empty quantityList "
                        "(or sensor data with a readPoint)")  # fmt: skip
        if "ilmd" in event and action in ("OBSERVE", "DELETE"):
            checker.add("ilmd", f"is only allowed when the action is ADD, not {action}")
    elif event_type in ("AggregationEvent", "AssociationEvent"):
        if not (has("childEPCs") or has("childQuantityList") or action == "DELETE"):
            checker.add("childEPCs", f"an {event_type} needs childEPCs or childQuantityList "
                        "unless the action is DELETE")  # fmt: skip
    elif event_type == "TransactionEvent":
        if not has("bizTransactionList"):
            checker.add("bizTransactionList", "a TransactionEvent needs at least one entry")
        if "epcList" not in event and not has("quantityList") and action != "DELETE":
            checker.add("epcList", "a TransactionEvent needs an epcList or a quantityList")
    else:
        inputs = has("inputEPCList") or has("inputQuantityList")
        outputs = has("outputEPCList") or has("outputQuantityList")
        if not (inputs and outputs) and not ("transformationID" in event and (inputs or outputs)):
            checker.add("inputEPCList", "a TransformationEvent needs inputs and outputs (or a "
                        "transformationID with either)")  # fmt: skip
    persistent = event.get("persistentDisposition")
    if isinstance(persistent, Mapping) and not (persistent.get("set") or persistent.get("unset")):
        checker.add("persistentDisposition", "needs a non-empty set or unset list")


_DOCUMENT_FIELDS = frozenset({
    "@context", "id", "type", "schemaVersion", "creationDate", "instanceIdentifier", "sender",
    "receiver", "epcisHeader", "epcisBody",
})  # fmt: skip
_VERSION = re.compile(r"\d+(\.\d+)*")


def check_document(document: Any) -> tuple[str, list[Any], list[EpcisIssue]]:
    """The kind (capture, query or event), the raw events and every issue of ``document``."""
    doc = _Checker({}, None, None)
    if not isinstance(document, Mapping):
        doc.add("", f"{_show(document)} is not a JSON object")
        return "capture", [], doc.issues
    if "@context" not in document:
        doc.add("@context", "required field is missing; EPCIS 2.0 JSON-LD must name its "
                f"context, e.g. {STANDARD_CONTEXT}")  # fmt: skip
    doc_type = document.get("type")
    if doc_type in EVENT_TYPES:
        kind, events = "event", [document]
    elif doc_type in ("EPCISDocument", "EPCISQueryDocument"):
        kind = "capture" if doc_type == "EPCISDocument" else "query"
        events = _body_events(doc, document, kind)
    else:
        doc.add("type", f"{_show(doc_type)} is not EPCISDocument, EPCISQueryDocument or one "
                f"of {', '.join(EVENT_TYPES)}")  # fmt: skip
        return "capture", [], doc.issues
    context = document_context(document)
    issues = doc.issues
    for index, event in enumerate(events):
        issues += check_event(event, context, index)
    return kind, events, issues


def _body_events(doc: _Checker, document: Mapping[str, Any], kind: str) -> list[Any]:
    for key in document:
        if key not in _DOCUMENT_FIELDS:
            doc.extension_key("", key)
    if "@context" in document:
        doc.value("@context", "context", document["@context"])
    required = ("schemaVersion", "creationDate") if kind == "capture" else ()
    for name in required:
        if name not in document:
            doc.add(name, "required field is missing")
    version = document.get("schemaVersion", "2.0")
    if not (isinstance(version, str) and _VERSION.fullmatch(version)):
        doc.add("schemaVersion", f"{_show(version)} is not a version string such as '2.0'")
    if "creationDate" in document:
        doc.value("creationDate", "time", document["creationDate"])
    path, body = "epcisBody", document.get("epcisBody")
    if kind == "query" and isinstance(body, Mapping):
        path, body = path + ".queryResults", body.get("queryResults")
        if isinstance(body, Mapping):
            if not isinstance(body.get("queryName"), str):
                doc.add(path + ".queryName", "required field is missing")
            path, body = path + ".resultsBody", body.get("resultsBody")
    if not isinstance(body, Mapping):
        doc.add(path, "required object is missing" if body is None else "is not a JSON object")
        return []
    events = body.get("eventList")
    if not isinstance(events, list):
        doc.add(path + ".eventList", "required list of events is missing")
        return []
    return events
