"""EPCIS 2.0 events as values: parse and validate JSON-LD, build events in code.

:func:`parse_document` accepts the three JSON-LD forms a node receives — a
capture document (``EPCISDocument``), a query document
(``EPCISQueryDocument``) and one bare event (what ``POST /events`` carries) —
validates them (:mod:`itptrace.epcis.validate`, every issue
collected) and returns :class:`EpcisEvent` values.  Each event carries its
CBV 2.0 event hash ID, computed on the event as received, with the
document's namespace prefixes.

Normalisation: times become aware UTC datetimes (the sender's offset is kept
in ``event_time_zone_offset``); CBV values become their short names,
other values full URIs; extension field names become full IRIs.  EPC
identifiers are kept as given; :func:`canonical_id` gives their GS1 Digital
Link form for matching.  :func:`make_event` builds an event in code by
serialising its fields and parsing the result, so a built event is exactly
what parsing its JSON-LD gives.

Module layout: the values in ``model``, vocabularies and field tables in ``vocab``,
checks in ``validate``, writing JSON-LD in ``serialize``, ``make_event`` in ``build``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from itptrace.epcis.event_hash import document_context, event_hash_id
from itptrace.epcis.model import (
    DocumentKind,
    EpcisDocument,
    EpcisEvent,
    ErrorDeclaration,
    PersistentDisposition,
    Quantity,
)
from itptrace.epcis.validate import (
    EpcisValidationError,
    check_document,
    check_event,
)
from itptrace.epcis.vocab import (
    BIZ_STEP,
    BIZ_TRANSACTION_TYPE,
    DISPOSITION,
    ERROR_REASON,
    FIELDS_BY_TYPE,
    SOURCE_DESTINATION_TYPE,
    Vocabulary,
    all_prefixes,
    expand_keys,
    expand_name,
    parse_timestamp,
    vocabulary_term,
)


def parse_document(document: Mapping[str, Any]) -> EpcisDocument:
    """Validate and parse a capture document, a query document or one bare event.

    Raises :class:`EpcisValidationError` listing every issue of the document.
    """
    kind, raw_events, issues = check_document(document)
    if issues:
        raise EpcisValidationError(issues)
    context = document_context(document)
    body = document.get("epcisBody") or {}
    results = (body.get("queryResults") or {}) if kind == "query" else {}
    return EpcisDocument(
        context=context,
        events=tuple(_build(event, context) for event in raw_events),
        kind=cast(DocumentKind, kind),
        schema_version=document.get("schemaVersion") if kind != "event" else None,
        creation_date=parse_timestamp(document.get("creationDate")),
        sender=_party(document, "sender"),
        receiver=_party(document, "receiver"),
        query_name=results.get("queryName"),
    )


def parse_event(
    obj: Mapping[str, Any], context: Mapping[str, str] | None = None, *, index: int = 0
) -> EpcisEvent:
    """Validate and parse one event; ``context`` is the enclosing document's prefix map.

    ``index`` (the event's position in its document) only labels the issues.
    """
    issues = check_event(obj, context, index)
    if issues:
        raise EpcisValidationError(issues)
    return _build(obj, dict(context or {}))


def _build(obj: Mapping[str, Any], context: Mapping[str, str]) -> EpcisEvent:
    """An event from a JSON object that passed :func:`check_event`."""
    namespaces = {**context, **document_context(obj)}
    prefixes = all_prefixes(namespaces)

    def term(vocabulary: Vocabulary, value: Any) -> str:
        found = vocabulary_term(vocabulary, value, prefixes)
        if found is None:  # validation has refused such values already
            raise ValueError(f"{value!r} is not a {vocabulary.name}")
        return found

    def optional_term(vocabulary: Vocabulary, value: Any) -> str | None:
        return None if value is None else term(vocabulary, value)

    def parties(name: str, child: str) -> tuple[tuple[str, str], ...]:
        return tuple(
            (term(SOURCE_DESTINATION_TYPE, p["type"]), p[child]) for p in obj.get(name, ())
        )

    read_point, read_point_extensions = _place(obj.get("readPoint"), prefixes)
    biz_location, biz_location_extensions = _place(obj.get("bizLocation"), prefixes)
    persistent = obj.get("persistentDisposition")
    known = FIELDS_BY_TYPE[obj["type"]]
    return EpcisEvent(
        type=obj["type"],
        event_time=_time(obj["eventTime"]),
        event_time_zone_offset=obj["eventTimeZoneOffset"],
        record_time=parse_timestamp(obj.get("recordTime")),
        event_id=obj.get("eventID"),
        hash_id=event_hash_id(obj, context),
        action=obj.get("action"),
        biz_step=optional_term(BIZ_STEP, obj.get("bizStep")),
        disposition=optional_term(DISPOSITION, obj.get("disposition")),
        epc_list=tuple(obj.get("epcList", ())),
        parent_id=obj.get("parentID"),
        child_epcs=tuple(obj.get("childEPCs", ())),
        input_epcs=tuple(obj.get("inputEPCList", ())),
        output_epcs=tuple(obj.get("outputEPCList", ())),
        quantities=_quantities(obj),
        read_point=read_point,
        biz_location=biz_location,
        biz_transactions=tuple(
            (optional_term(BIZ_TRANSACTION_TYPE, bt.get("type")), bt["bizTransaction"])
            for bt in obj.get("bizTransactionList", ())
        ),
        sources=parties("sourceList", "source"),
        destinations=parties("destinationList", "destination"),
        ilmd=expand_keys(obj["ilmd"], prefixes) if "ilmd" in obj else None,
        extensions={
            expand_name(key, prefixes): expand_keys(value, prefixes)
            for key, value in obj.items()
            if key not in known
        },
        error_declaration=_error_declaration(obj.get("errorDeclaration"), prefixes),
        raw=obj,
        transformation_id=obj.get("transformationID"),
        persistent_disposition=None
        if persistent is None
        else PersistentDisposition(
            set=tuple(term(DISPOSITION, d) for d in persistent.get("set", ())),
            unset=tuple(term(DISPOSITION, d) for d in persistent.get("unset", ())),
        ),
        certification_info=tuple(expand_keys(_as_list(obj.get("certificationInfo")), prefixes)),
        sensor_elements=tuple(expand_keys(obj.get("sensorElementList", []), prefixes)),
        read_point_extensions=read_point_extensions,
        biz_location_extensions=biz_location_extensions,
        namespaces=namespaces,
    )


_QUANTITY_LISTS = (
    ("quantityList", None), ("childQuantityList", None),
    ("inputQuantityList", "input"), ("outputQuantityList", "output"),
)  # fmt: skip


def _quantities(obj: Mapping[str, Any]) -> tuple[Quantity, ...]:
    return tuple(
        Quantity(
            epc_class=element["epcClass"],
            # str() of a float is its shortest exact decimal form: 26.2 → Decimal("26.2").
            quantity=None if element.get("quantity") is None else Decimal(str(element["quantity"])),
            uom=element.get("uom"),
            role=role,
        )
        for name, role in _QUANTITY_LISTS
        for element in obj.get(name, ())
    )


def _place(value: Any, prefixes: Mapping[str, str]) -> tuple[str | None, dict[str, Any]]:
    if not isinstance(value, Mapping):
        return None, {}
    extras = {k: v for k, v in value.items() if k != "id"}
    return value["id"], expand_keys(extras, prefixes)


def _error_declaration(value: Any, prefixes: Mapping[str, str]) -> ErrorDeclaration | None:
    if not isinstance(value, Mapping):
        return None
    standard = ("declarationTime", "reason", "correctiveEventIDs")
    reason = value.get("reason")
    return ErrorDeclaration(
        declaration_time=_time(value["declarationTime"]),
        reason=None if reason is None else vocabulary_term(ERROR_REASON, reason, prefixes),
        corrective_event_ids=tuple(value.get("correctiveEventIDs", ())),
        extensions=expand_keys({k: v for k, v in value.items() if k not in standard}, prefixes),
    )


def _time(text: Any) -> datetime:
    moment = parse_timestamp(text)
    if moment is None:  # validation has refused such values already
        raise ValueError(f"{text!r} is not an RFC 3339 date-time")
    return moment


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _party(document: Mapping[str, Any], role: str) -> str | None:
    """``sender``/``receiver``: EPCIS 2.0 JSON carries the SBDH parties at top level."""
    value = document.get(role)
    return value if isinstance(value, str) else None
