"""EPCIS 2.0 events to and from the tobacco message set (the mapping in DOMAIN.md §4).

Identifiers: a unit pack is the GS1 Digital Link ``https://id.gs1.org/01/{GTIN}/235/{UI}``
(AI 235 qualifies the GTIN with the third-party-controlled serial), an SSCC is
``https://id.gs1.org/00/{SSCC}``, and any itptrace UI may also be written
``urn:itptrace:ui:{UI}``. Facilities are ``urn:itptrace:facility:{ID}`` and operators
``urn:itptrace:operator:{ID}``. What the CBV has no field for (machine, production time
stamp, destination kind, amounts) travels in extension fields of the ``itp`` namespace.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from itptrace.capture.model import (
    TRANSACTION_KINDS,
    DestinationKind,
    MessageType,
    Problem,
    TraceEvent,
    Transaction,
)
from itptrace.epcis import EpcisEvent, ErrorDeclaration, make_event, parse_document
from itptrace.epcis.validate import EpcisValidationError
from itptrace.epcis.vocab import ERROR_REASON, ITP_NS, all_prefixes, canonical_id, vocabulary_term

UI_URN, FACILITY_URN, OPERATOR_URN = (
    "urn:itptrace:ui:",
    "urn:itptrace:facility:",
    "urn:itptrace:operator:",
)
DL = "https://id.gs1.org/"
MESSAGE_URN = "urn:itptrace:message:"
TRANSACTION_URN = "urn:itptrace:transaction:"
OBSERVE_STEPS = {
    "shipping": MessageType.EDP,
    "receiving": MessageType.ERP,
    "transporting": MessageType.ETL,
    "retail_selling": MessageType.EVR,
}
BIZ_TRANSACTION = {"inv": MessageType.EIV, "po": MessageType.EPO}


def ui_of(epc: str) -> str:
    """The itptrace identifier behind an EPC (a foreign EPC is kept in canonical form)."""
    if epc.startswith(UI_URN):
        return epc[len(UI_URN) :]
    canonical = canonical_id(epc)
    if canonical.startswith(DL + "01/") and "/235/" in canonical:
        return canonical.split("/235/", 1)[1].split("/", 1)[0]
    if canonical.startswith(DL + "00/"):
        return canonical[len(DL) + 3 :]
    return canonical


def _strip(value: str | None, prefix: str) -> str | None:
    return value[len(prefix) :] if value and value.startswith(prefix) else value


def _ext(event: EpcisEvent, name: str) -> Any:
    value = event.extensions.get(ITP_NS + name)
    if value is None and event.ilmd:
        value = event.ilmd.get(ITP_NS + name)
    return value


def _kind(event: EpcisEvent) -> MessageType:
    if event.error_declaration is not None:
        return MessageType.RCL
    if event.type == "ObjectEvent":
        if event.action == "ADD" and event.biz_step == "commissioning":
            return MessageType.EUA
        if event.action == "DELETE":
            return MessageType.IDA
        if event.action == "OBSERVE" and event.biz_step in OBSERVE_STEPS:
            return OBSERVE_STEPS[event.biz_step]
    if event.type == "AggregationEvent" and event.action in ("ADD", "DELETE"):
        return MessageType.EPA if event.action == "ADD" else MessageType.EUD
    if event.type == "TransactionEvent" and event.action == "ADD":
        kind = _ext(event, "transactionKind")
        if kind == "payment":
            return MessageType.EPR
        for btype, _id in event.biz_transactions:
            if btype in BIZ_TRANSACTION:
                return BIZ_TRANSACTION[btype]
    return MessageType.OTHER


def _party(pairs: tuple[tuple[str, str], ...], kind: str) -> str | None:
    return next((_strip(v, OPERATOR_URN) for k, v in pairs if k == kind), None)


def to_trace_event(event: EpcisEvent, originator: str | None, context: Any = None) -> TraceEvent:
    """The tobacco message an EPCIS event is; ``details`` keep the event as captured, with
    ``context``, the ``@context`` of the document it came in (see :func:`captured`)."""
    kind = _kind(event)
    sender = str(_ext(event, "originator") or originator or "")
    facility = _strip(event.biz_location or event.read_point, FACILITY_URN)
    epcs = event.child_epcs if event.type == "AggregationEvent" else event.epc_list
    if kind is MessageType.OTHER:
        # Every identifier the event names is checked and indexed (rules_custody): the
        # children of an association, the inputs and outputs of a transformation too.
        epcs = tuple(
            dict.fromkeys(
                (*event.epc_list, *event.child_epcs, *event.input_epcs, *event.output_epcs)
            )
        )
    if kind is MessageType.RCL:
        assert event.error_declaration is not None
        recalled = _strip(event.event_id, MESSAGE_URN) or event.hash_id
        return TraceEvent(
            f"recall:{recalled}",
            kind,
            sender,
            event.error_declaration.declaration_time,
            recalled_event_id=recalled,
            reason=event.error_declaration.reason or _ext(event, "reason"),
            source="epcis",
            details=captured(event, context),
        )
    transaction = None
    if kind in TRANSACTION_KINDS:
        number = _strip(next((i for t, i in event.biz_transactions), ""), TRANSACTION_URN) or ""
        try:
            amount = Decimal(str(_ext(event, "amount")))
        except InvalidOperation:
            amount = Decimal(0)
        transaction = Transaction(
            TRANSACTION_KINDS[kind],
            number,
            amount,
            str(_ext(event, "currency") or ""),
            _party(event.sources, "owning_party") or "",
            _party(event.destinations, "owning_party") or "",
        )
    destination = _strip(
        next((v for k, v in event.destinations if k == "location"), None), FACILITY_URN
    )
    kind_text = _ext(event, "destinationKind")
    return TraceEvent(
        event_id=_strip(event.event_id, MESSAGE_URN) or event.hash_id,
        message_type=kind,
        originator_id=sender,
        event_time=event.event_time.replace(microsecond=0),
        facility_id=facility,
        uis=tuple(ui_of(e) for e in epcs),
        parent=ui_of(event.parent_id) if event.parent_id else None,
        machine_id=_ext(event, "machine"),
        production_stamp=_ext(event, "productionStamp"),
        destination_facility_id=destination,
        destination_kind=DestinationKind(kind_text)
        if kind_text in set(DestinationKind)
        else (DestinationKind.DOMESTIC if kind is MessageType.EDP else None),
        destination_country=_ext(event, "destinationCountry"),
        consignee_id=_party(event.destinations, "owning_party") if transaction is None else None,
        consignee_name=_ext(event, "consigneeName"),
        route=_ext(event, "route"),
        vehicle=_ext(event, "vehicle"),
        transaction=transaction,
        reason=(_ext(event, "reason") or event.disposition) if kind is MessageType.IDA else None,
        source="epcis",
        details=captured(event, context),
    )


# The EPCIS terms of each tobacco message as from_trace_event writes it: (type, action,
# bizStep), what the EPCIS query filters on in SQL.
TERMS: dict[MessageType, tuple[str, str | None, str | None]] = {
    MessageType.EUA: ("ObjectEvent", "ADD", "commissioning"),
    MessageType.IDA: ("ObjectEvent", "DELETE", "decommissioning"),
    **{kind: ("ObjectEvent", "OBSERVE", step) for step, kind in OBSERVE_STEPS.items()},
    MessageType.EPA: ("AggregationEvent", "ADD", "packing"),
    MessageType.EUD: ("AggregationEvent", "DELETE", "unpacking"),
    **{kind: ("TransactionEvent", "ADD", None) for kind in TRANSACTION_KINDS},
    MessageType.RCL: ("ObjectEvent", "OBSERVE", None),
}
TERM_LENGTH = 200  # events.biz_step


def term_key(value: str | None) -> str | None:
    """A bizStep as the events table keeps it: as it is, or its digest when too long."""
    if value is None or len(value) <= TERM_LENGTH:
        return value
    return "#" + hashlib.sha256(value.encode()).hexdigest()


def captured(event: EpcisEvent, context: Any) -> dict[str, Any]:
    """What a stored event keeps of an EPCIS event: the JSON object as captured (``epcis``),
    its document's ``@context`` (``context``, None for a bare event, which carries its own)
    and its EPCIS terms (``terms``: type, action, bizStep short name or URI)."""
    terms = [event.type, event.action, term_key(event.biz_step)]
    return {"epcis": dict(event.raw), "context": context, "terms": terms}


def event_terms(event: TraceEvent) -> tuple[str | None, str | None, str | None]:
    """The EPCIS type, action and bizStep the query answers for ``event``."""
    terms = event.details.get("terms") if event.details else None
    if terms is not None:
        return terms[0], terms[1], terms[2]
    return TERMS.get(event.message_type, (None, None, None))


def parse_epcis_report(
    document: Any, originator: str | None
) -> tuple[list[TraceEvent], list[Problem]]:
    """Events of an EPCIS document as tobacco messages, or a problem per structural issue."""
    try:
        parsed = parse_document(document)
    except EpcisValidationError as exc:
        return [], [Problem("malformed", str(issue), issue.field or None) for issue in exc.issues]
    # A bare event carries its own @context; a document's events share the document's.
    context = document.get("@context") if parsed.kind != "event" else None
    events = [to_trace_event(e, originator, context) for e in parsed.events]
    problems = [
        Problem(
            "missing_field",
            "no originator: give itp:originator or send as an operator",
            "originator",
            e.event_id,
        )
        for e in events
        if not e.originator_id
    ]
    return events, problems


def _epc(ui: str, gtin: str | None) -> str:
    if ui.isdigit() and len(ui) == 18:
        return f"{DL}00/{ui}"
    return f"{DL}01/{gtin}/235/{ui}" if gtin else UI_URN + ui


def from_trace_event(event: TraceEvent, gtins: dict[str, str] | None = None) -> EpcisEvent:
    """The EPCIS form of a stored event (``gtins`` gives unit packs' GTINs for Digital Links)."""
    if event.message_type is MessageType.OTHER and event.details and "epcis" not in event.details:
        return parse_document(dict(event.details)).events[0]  # stored before migration 0014
    gtins = gtins or {}
    epcs = [_epc(u, gtins.get(u)) for u in event.uis]
    ext: dict[str, Any] = {
        f"itp:{k}": v
        for k, v in {
            "originator": event.originator_id,
            "machine": event.machine_id,
            "productionStamp": event.production_stamp,
            "vehicle": event.vehicle,
            "route": event.route,
            "consigneeName": event.consignee_name,
            "destinationCountry": event.destination_country,
            "destinationKind": event.destination_kind.value if event.destination_kind else None,
            "reason": event.reason if event.message_type is MessageType.IDA else None,
        }.items()
        if v is not None
    }
    common: dict[str, Any] = {
        "event_time": event.event_time,
        "event_id": MESSAGE_URN + event.event_id,
        "biz_location": FACILITY_URN + event.facility_id if event.facility_id else None,
    }
    kind = event.message_type
    if kind is MessageType.RCL:
        # An error declaration re-sends the recalled event, so it carries that event's ID;
        # a reason outside the CBV error reasons would make it invalid: it goes in itp:reason.
        reason = vocabulary_term(ERROR_REASON, event.reason, all_prefixes(None))
        if event.reason and reason is None:
            ext["itp:reason"] = event.reason
        common["event_id"] = MESSAGE_URN + (event.recalled_event_id or event.event_id)
        return make_event(
            "ObjectEvent",
            action="OBSERVE",
            epc_list=epcs,
            extensions=ext,
            error_declaration=ErrorDeclaration(event.event_time, reason),
            **common,
        )
    if kind in (MessageType.EPA, MessageType.EUD):
        return make_event(
            "AggregationEvent",
            action="ADD" if kind is MessageType.EPA else "DELETE",
            biz_step="packing" if kind is MessageType.EPA else "unpacking",
            parent_id=_epc(event.parent or "", None),
            child_epcs=epcs,
            extensions=ext,
            **common,
        )
    if event.transaction is not None:
        t = event.transaction
        ext.update(
            {"itp:amount": str(t.amount), "itp:currency": t.currency, "itp:transactionKind": t.kind}
        )
        btype = {"invoice": "inv", "order": "po"}.get(t.kind)
        return make_event(
            "TransactionEvent",
            action="ADD",
            epc_list=epcs,
            extensions=ext,
            biz_transactions=[(btype, TRANSACTION_URN + t.number)],
            sources=[("owning_party", OPERATOR_URN + t.seller_id)],
            destinations=[("owning_party", OPERATOR_URN + t.buyer_id)],
            **common,
        )
    step = {MessageType.EUA: "commissioning", MessageType.IDA: "decommissioning"}.get(kind) or next(
        (s for s, k in OBSERVE_STEPS.items() if k is kind), None
    )
    action = {MessageType.EUA: "ADD", MessageType.IDA: "DELETE"}.get(kind, "OBSERVE")
    destinations = []
    if event.destination_facility_id:
        destinations.append(("location", FACILITY_URN + event.destination_facility_id))
    if event.consignee_id:
        destinations.append(("owning_party", OPERATOR_URN + event.consignee_id))
    return make_event(
        "ObjectEvent",
        action=action,
        biz_step=step,
        epc_list=epcs,
        extensions=ext,
        destinations=destinations,
        **common,
    )
