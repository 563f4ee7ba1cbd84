"""CBV 2.0 EPCIS event hash ID for EPCIS 2.0 JSON-LD events.

The event hash ID (CBV 2.0, section "EPCIS Event Hash ID") is ``ni:///sha-256;<hex>?ver=CBV2.0``
(RFC 6920, rule 22): the SHA-256 of the event's *pre-hash string*, a
syntax-independent canonical text made of ``key=value`` pairs concatenated
without separators in a fixed order (rules 1–4).  Values are canonicalised
by :mod:`itptrace.epcis.canon`, GS1 identifiers by
:mod:`itptrace.gs1.digital_link`.

Field order.  The CBV table orders the fields eventType … destinationList,
sensorElementList, ilmd, extensions.  The published golden vectors (produced
by the GS1 reference generator) differ in two respects that change the hash,
and we follow the vectors: ``certificationInfo`` follows
``eventTimeZoneOffset``; and after
``sensorElementList`` *all remaining fields* — ``bizTransactionList``,
``sourceList``, ``destinationList``, ``ilmd`` and user extensions — form one
group sorted as strings (so destinationList precedes sourceList and
extensions, starting with ``{``, come last).

Fields left out (they are not part of the event's content): ``eventID``
(often *is* the hash), ``recordTime`` (set by the repository),
``errorDeclaration`` (added later to the very event it must keep identifying),
comments (``rdfs:comment``), ``@context``, and any field named in a
document-level ``ignoreFields`` list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from itptrace.epcis.canon import (
    CBV,
    DEFAULT_PREFIXES,
    GS1_VOC,
    RDFS,
    canonical_value,
    expand_curie,
    expand_key,
)

HASH_VERSION = "CBV2.0"

_EPC_LISTS = ("epcList", "inputEPCList", "childEPCs", "outputEPCList")
_QUANTITY_LISTS = ("quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList")
# The canonical property order (rule 1) up to sensorElementList; see module doc.
_ORDER = (
    "eventTime", "eventTimeZoneOffset", "certificationInfo", "epcList", "parentID",
    "inputEPCList", "childEPCs", "quantityList", "childQuantityList", "inputQuantityList",
    "outputEPCList", "outputQuantityList", "action", "transformationID", "bizStep",
    "disposition", "persistentDisposition", "readPoint", "bizLocation", "sensorElementList",
)  # fmt: skip
_VOCABULARY = {"bizStep": CBV + "BizStep-", "disposition": CBV + "Disp-"}
_SENSOR_METADATA = (
    "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData",
    "dataProcessingMethod", "bizRules",
)  # fmt: skip
_SENSOR_REPORT = (
    "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
    "time", "microorganism", "chemicalSubstance", "value", "component", "stringValue",
    "booleanValue", "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue",
    "sDev", "percRank", "percValue", "uom", "coordinateReferenceSystem",
)  # fmt: skip
_SENSOR_VOCABULARY = {"type": GS1_VOC, "exception": GS1_VOC, "component": CBV + "Comp-"}
_TIMESTAMPS = frozenset({"eventTime", "time", "startTime", "endTime"})
# type-first pairs (the golden vectors put the type before the identifier).
_PARTY_LISTS = {
    "bizTransactionList": ("bizTransaction", CBV + "BTT-"),
    "sourceList": ("source", CBV + "SDT-"),
    "destinationList": ("destination", CBV + "SDT-"),
}
_NOT_HASHED = frozenset({"type", "eventID", "recordTime", "errorDeclaration", "@context"})
_COMMENTS = frozenset({"comment", "rdfs:comment", "{" + RDFS + "}comment"})


def prehash_string(
    event: Mapping[str, Any],
    context: Mapping[str, str] | None = None,
    *,
    ignore_fields: Collection[str] = (),
) -> str:
    """The canonical pre-hash string of one EPCIS 2.0 JSON-LD event.

    ``context`` maps namespace prefixes to URIs (see :func:`document_context`);
    prefixes in the event's own ``@context`` are added to it.  ``ignore_fields``
    names further top-level fields (CURIEs or plain names) to leave out.
    """
    prefixes = {**DEFAULT_PREFIXES, **(context or {}), **_object_entries(event.get("@context"))}
    renderer = _Renderer(prefixes)
    ignored = {expand_key(name, prefixes) for name in ignore_fields} | set(ignore_fields)
    event_type = expand_curie(str(event.get("type", "")), prefixes)
    parts = ["eventType=" + event_type.removeprefix(prefixes["epcis"])]
    parts += (renderer.field(name, event[name]) for name in _ORDER if name in event)
    rest: list[str] = []
    for key, value in event.items():
        if key in _ORDER or key in _NOT_HASHED or renderer.is_comment(key):
            continue
        if key in ignored or expand_key(key, prefixes) in ignored:
            continue
        if key in _PARTY_LISTS:
            rest.append(renderer.party_list(key, value))
        else:
            rest += renderer.generic(key, value)
    return "".join(parts) + "".join(sorted(rest))


def event_hash_id(
    event: Mapping[str, Any],
    context: Mapping[str, str] | None = None,
    *,
    ignore_fields: Collection[str] = (),
) -> str:
    """``ni:///sha-256;<64 lowercase hex>?ver=CBV2.0`` for one JSON-LD event."""
    text = prehash_string(event, context, ignore_fields=ignore_fields)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"ni:///sha-256;{digest}?ver={HASH_VERSION}"


def document_events(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The events of a capture document, a query document or a bare event, in order.

    Capture documents carry ``epcisBody.eventList`` (or a single
    ``epcisBody.event``); query documents carry
    ``epcisBody.queryResults.resultsBody.eventList``.  A mapping without an
    ``epcisBody`` is taken to be a single event.
    """
    body = document.get("epcisBody")
    if body is None:
        return [document]
    if "queryResults" in body:
        body = body["queryResults"].get("resultsBody", {})
    if "eventList" in body:
        return list(body["eventList"])
    return [body["event"]] if "event" in body else []


def document_context(document: Mapping[str, Any]) -> dict[str, str]:
    """The namespace prefix map from the document's ``@context`` object entries."""
    return _object_entries(document.get("@context"))


def document_ignore_fields(document: Mapping[str, Any]) -> frozenset[str]:
    """Field names listed under ``<prefix>:ignoreFields`` in the document.

    A repository convention honoured by the GS1 reference generator: the list
    sits at document level or in ``epcisBody.queryResults``.
    """
    body = document.get("epcisBody")
    holders = [document, document.get("epcisHeader"), body]
    if isinstance(body, Mapping):
        holders.append(body.get("queryResults"))
    names: set[str] = set()
    for holder in holders:
        if not isinstance(holder, Mapping):
            continue
        for key, value in holder.items():
            if key.rpartition(":")[2] == "ignoreFields" and isinstance(value, list):
                names.update(str(name) for name in value)
    return frozenset(names)


def document_hash_ids(document: Mapping[str, Any]) -> list[str]:
    """The event hash IDs of every event in ``document``, in document order."""
    context = document_context(document)
    ignore = document_ignore_fields(document)
    return [event_hash_id(e, context, ignore_fields=ignore) for e in document_events(document)]


def _object_entries(context: Any) -> dict[str, str]:
    entries = context if isinstance(context, list) else [context]
    prefixes: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, Mapping):
            prefixes.update((k, v) for k, v in entry.items() if isinstance(v, str))
    return prefixes


def _items(value: Any) -> list[Any]:
    """JSON-LD allows a single value wherever a set is expected."""
    return list(value) if isinstance(value, list) else [value]


class _Renderer:
    """Renders fields of one event into pre-hash fragments ('' when empty)."""

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self.prefixes = prefixes

    def is_comment(self, key: str) -> bool:
        return key in _COMMENTS or expand_key(key, self.prefixes) in _COMMENTS

    def value(self, key: str, value: Any, vocabulary: str | None = None) -> str:
        text = canonical_value(
            value, self.prefixes, vocabulary=vocabulary, timestamp=key in _TIMESTAMPS
        )
        return f"{key}={text}" if text else ""

    def values(self, key: str, values: Any, vocabulary: str | None = None) -> str:
        """Rule 11: the items of a list, each ``key=value``, sorted."""
        return "".join(sorted(self.value(key, v, vocabulary) for v in _items(values)))

    def field(self, name: str, value: Any) -> str:
        """One field of the canonical property order."""
        if name in _EPC_LISTS:
            body = self.values("epc", value)
        elif name in _QUANTITY_LISTS:
            body = self.elements("quantityElement", value, ("epcClass", "quantity", "uom"))
        elif name == "persistentDisposition":
            value = value if isinstance(value, Mapping) else {}
            disp = CBV + "Disp-"
            body = self.values("set", value.get("set", []), disp)
            body += self.values("unset", value.get("unset", []), disp)
        elif name in ("readPoint", "bizLocation"):
            body = self.record({"id": value} if isinstance(value, str) else value, ("id",))
        elif name == "sensorElementList":
            body = "".join(sorted(self.sensor_element(e) for e in _items(value)))
        else:
            return self.values(name, value, _VOCABULARY.get(name))
        return name + body if body else ""

    def record(
        self, record: Any, order: Iterable[str], vocabulary: Mapping[str, str] | None = None
    ) -> str:
        """Known fields in ``order``, then other fields (extensions) sorted (rule 21)."""
        if not isinstance(record, Mapping):
            return ""
        order = tuple(order)
        vocabulary = vocabulary or {}
        known = "".join(self.values(k, record[k], vocabulary.get(k)) for k in order if k in record)
        extra = [
            text
            for key, value in record.items()
            if key not in order and not self.is_comment(key)
            for text in self.generic(key, value)
        ]
        return known + "".join(sorted(extra))

    def elements(
        self,
        label: str,
        items: Any,
        order: Iterable[str],
        vocabulary: Mapping[str, str] | None = None,
    ) -> str:
        """Rule 12: list items with key-value pairs, each rendered, then sorted."""
        order = tuple(order)
        rendered = (self.record(item, order, vocabulary) for item in _items(items))
        return "".join(sorted(label + text for text in rendered if text))

    def sensor_element(self, element: Any) -> str:
        if not isinstance(element, Mapping):
            return ""
        metadata = self.record(element.get("sensorMetadata"), _SENSOR_METADATA)
        body = "sensorMetadata" + metadata if metadata else ""
        reports = element.get("sensorReport", [])
        body += self.elements("sensorReport", reports, _SENSOR_REPORT, _SENSOR_VOCABULARY)
        rest = {k: v for k, v in element.items() if k not in ("sensorMetadata", "sensorReport")}
        body += self.record(rest, ())
        return "sensorElement" + body if body else ""

    def party_list(self, name: str, items: Any) -> str:
        """Rule 13: bizTransaction/source/destination with their type."""
        child, vocabulary = _PARTY_LISTS[name]
        body = self.elements("", items, ("type", child), {"type": vocabulary})
        return name + body if body else ""

    def generic(self, key: str, value: Any) -> list[str]:
        """Rules 19–20: ``{namespace}local=value``; nested children sorted.

        A list value yields one entry per item; an empty value keeps the key.
        """
        name = expand_key(key, self.prefixes)
        if isinstance(value, list):
            return [text for item in value for text in self.generic(key, item)]
        if isinstance(value, Mapping):
            children = (
                text
                for child_key, child in value.items()
                if child_key != "@context" and not self.is_comment(child_key)
                for text in self.generic(child_key, child)
            )
            return [name + "".join(sorted(children))]
        if value is None:
            return []
        text = canonical_value(value, self.prefixes)
        return [f"{name}={text}" if text else name]
