"""EPCIS 2.0 JSON-LD written from :class:`~itptrace.epcis.EpcisEvent` fields.

Each event is written from its fields, not echoed from ``raw``, so events
built in code or loaded from storage serialise the same way as received
ones.  CBV values are written as their short names; extension field names
(kept as full IRIs) are compacted back to CURIEs with the event's namespace
prefixes, and the document's ``@context`` names the standard EPCIS context
plus every prefix the events need.  A prefix that two events bind to
different namespaces goes into the later event's own ``@context``.

Writing keeps what the CBV 2.0 event hash reads, so parsing the output gives
events with the same ``hash_id``.  :func:`itptrace.epcis.build.make_event`
is exactly that: write the fields, then parse what was written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from itptrace.epcis.canon import DEFAULT_PREFIXES
from itptrace.epcis.vocab import STANDARD_CONTEXT, is_uri

if TYPE_CHECKING:
    from itptrace.epcis.model import (
        EpcisEvent,
        ErrorDeclaration,
        Quantity,
    )

_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


class Compactor:
    """Writes full IRIs back as CURIEs, inventing prefixes where none fits.

    The longest matching namespace wins (as in JSON-LD compaction).  New
    prefixes (``ns1``, ``ns2`` …) are invented only for top-level extension
    names, which must carry a namespace; nested names are left as they are
    when no prefix fits.
    """

    def __init__(self, namespaces: Mapping[str, str]) -> None:
        self.namespaces = dict(namespaces)
        self._known = {**DEFAULT_PREFIXES, **self.namespaces}

    def name(self, name: str, *, invent: bool = False) -> str:
        best = chosen = ""
        for prefix, uri in self._known.items():
            if uri and len(uri) > len(best) and name.startswith(uri) and len(name) > len(uri):
                best, chosen = uri, prefix
        if best:
            return f"{chosen}:{name[len(best) :]}"
        cut = max(name.rfind("#"), name.rfind("/"))
        if not invent or cut < 0 or cut == len(name) - 1 or "://" not in name:
            return name
        number = 1
        while f"ns{number}" in self._known:
            number += 1
        prefix = f"ns{number}"
        self.namespaces[prefix] = self._known[prefix] = name[: cut + 1]
        return f"{prefix}:{name[cut + 1 :]}"

    def keys(self, value: Any, *, invent: bool = False) -> Any:
        """``value`` with object keys compacted; only top-level names may invent prefixes."""
        if isinstance(value, Mapping):
            return {self.name(k, invent=invent): self.keys(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.keys(item) for item in value]
        return value


def format_offset(offset: timedelta) -> str:
    """``timedelta(hours=2)`` → ``+02:00``."""
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_time(moment: datetime, offset: str | None = None) -> str:
    """RFC 3339 text of ``moment``, in the zone ``offset`` names (UTC, as ``Z``, by default)."""
    zone = UTC
    match = _OFFSET.fullmatch(offset or "")
    if match:
        delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
        zone = timezone(-delta if match[1] == "-" else delta)
    local = moment.astimezone(zone)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if local.microsecond % 1000:
        text += f".{local.microsecond:06d}"
    elif local.microsecond:
        text += f".{local.microsecond // 1000:03d}"
    return text + ("Z" if zone is UTC else format_offset(local.utcoffset() or timedelta(0)))


def _number(value: Decimal) -> int | float:
    """JSON has no decimals: integral quantities stay exact, others become floats."""
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(quantity: Quantity) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": quantity.epc_class}
    if quantity.quantity is not None:
        element["quantity"] = _number(quantity.quantity)
    if quantity.uom is not None:
        element["uom"] = quantity.uom
    return element


def _what(event: EpcisEvent) -> dict[str, Any]:
    """The identifier fields of ``event``, under the names its type uses."""
    lists: dict[str | None, list[dict[str, Any]]] = {None: [], "input": [], "output": []}
    transformation = event.type == "TransformationEvent"
    for quantity in event.quantities:
        role = quantity.role if transformation else None
        if role not in lists or (transformation and role is None):
            raise ValueError(
                f"quantity of {quantity.epc_class} needs role 'input' or 'output' "
                "in a TransformationEvent"
            )
        lists[role].append(_quantity(quantity))
    out: dict[str, Any] = {}
    if event.type in ("ObjectEvent", "TransactionEvent"):
        if event.parent_id is not None:
            out["parentID"] = event.parent_id
        if event.epc_list or not lists[None]:
            out["epcList"] = list(event.epc_list)
        if lists[None]:
            out["quantityList"] = lists[None]
    elif not transformation:
        if event.parent_id is not None:
            out["parentID"] = event.parent_id
        if event.child_epcs:
            out["childEPCs"] = list(event.child_epcs)
        if lists[None]:
            out["childQuantityList"] = lists[None]
    else:
        candidates = {
            "inputEPCList": list(event.input_epcs), "inputQuantityList": lists["input"],
            "outputEPCList": list(event.output_epcs), "outputQuantityList": lists["output"],
        }  # fmt: skip
        out.update((name, value) for name, value in candidates.items() if value)
    return out


def _error(declaration: ErrorDeclaration, compactor: Compactor) -> dict[str, Any]:
    out: dict[str, Any] = {"declarationTime": format_time(declaration.declaration_time)}
    if declaration.reason is not None:
        out["reason"] = declaration.reason
    if declaration.corrective_event_ids:
        out["correctiveEventIDs"] = list(declaration.corrective_event_ids)
    out.update(compactor.keys(declaration.extensions, invent=True))
    return out


def _place(identifier: str, extensions: Mapping[str, Any], compactor: Compactor) -> dict[str, Any]:
    return {"id": identifier, **compactor.keys(extensions, invent=True)}


def event_to_jsonld(
    event: EpcisEvent, namespaces: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """One event as a JSON-LD object, and the namespace prefixes it needs."""
    compactor = Compactor({**event.namespaces, **(namespaces or {})})
    out: dict[str, Any] = {"type": event.type}
    if event.event_id is not None:
        out["eventID"] = event.event_id
    out["eventTime"] = format_time(event.event_time, event.event_time_zone_offset)
    out["eventTimeZoneOffset"] = event.event_time_zone_offset
    if event.record_time is not None:
        out["recordTime"] = format_time(event.record_time)
    if event.certification_info:
        info = compactor.keys(list(event.certification_info))
        out["certificationInfo"] = info[0] if len(info) == 1 and is_uri(info[0]) else info
    if event.error_declaration is not None:
        out["errorDeclaration"] = _error(event.error_declaration, compactor)
    out.update(_what(event))
    optional = {
        "action": event.action, "transformationID": event.transformation_id,
        "bizStep": event.biz_step, "disposition": event.disposition,
    }  # fmt: skip
    out.update((name, value) for name, value in optional.items() if value is not None)
    persistent = event.persistent_disposition
    if persistent is not None:
        lists = {"set": list(persistent.set), "unset": list(persistent.unset)}
        out["persistentDisposition"] = {name: items for name, items in lists.items() if items}
    if event.read_point is not None:
        out["readPoint"] = _place(event.read_point, event.read_point_extensions, compactor)
    if event.biz_location is not None:
        out["bizLocation"] = _place(event.biz_location, event.biz_location_extensions, compactor)
    if event.biz_transactions:
        out["bizTransactionList"] = [
            {"bizTransaction": ident} if kind is None else {"type": kind, "bizTransaction": ident}
            for kind, ident in event.biz_transactions
        ]
    for name, child, parties in (
        ("sourceList", "source", event.sources),
        ("destinationList", "destination", event.destinations),
    ):
        if parties:
            out[name] = [{"type": kind, child: ident} for kind, ident in parties]
    if event.sensor_elements:
        out["sensorElementList"] = compactor.keys(list(event.sensor_elements))
    if event.ilmd is not None:
        out["ilmd"] = compactor.keys(event.ilmd, invent=True)
    out.update(compactor.keys(event.extensions, invent=True))
    return out, compactor.namespaces


def to_jsonld(
    events: Sequence[EpcisEvent],
    *,
    kind: str = "capture",
    context: Mapping[str, str] | None = None,
    query_name: str | None = None,
    creation_date: datetime | None = None,
) -> dict[str, Any]:
    """Events as an EPCIS 2.0 JSON-LD capture or query document (or, for kind "event", one
    bare event with its ``@context``, the form ``POST /events`` takes).

    ``context`` adds prefixes to the document's ``@context``; ``creation_date``
    defaults to now (pass the injected clock's time for reproducible output).
    """
    if kind not in ("capture", "query", "event"):
        raise ValueError(f"kind must be capture, query or event, not {kind!r}")
    if kind == "event" and len(events) != 1:
        raise ValueError(f"a bare event document holds exactly one event, not {len(events)}")
    shared = dict(context or {})
    bodies = []
    for event in events:
        body, needed = event_to_jsonld(event)
        own = {}
        for prefix, uri in needed.items():
            if DEFAULT_PREFIXES.get(prefix) == uri:
                continue  # the standard EPCIS context defines it
            # A redefined standard prefix must not leak into the other events.
            if prefix in DEFAULT_PREFIXES or shared.setdefault(prefix, uri) != uri:
                own[prefix] = uri
        bodies.append({"@context": [own], **body} if own else body)
    head: list[Any] = [STANDARD_CONTEXT, shared] if shared else [STANDARD_CONTEXT]
    if kind == "event":
        event_context = bodies[0].pop("@context", [])
        return {"@context": head + event_context, **bodies[0]}
    document: dict[str, Any] = {
        "@context": head,
        "type": "EPCISDocument" if kind == "capture" else "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(creation_date or datetime.now(UTC)),
    }
    if kind == "capture":
        return {**document, "epcisBody": {"eventList": bodies}}
    results = {"queryName": query_name or "SimpleEventQuery", "resultsBody": {"eventList": bodies}}
    return {**document, "epcisBody": {"queryResults": results}}
