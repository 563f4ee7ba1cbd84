"""Stored events as the EPCIS query returns them, and the query document around them.

An event captured as EPCIS comes back as captured: its JSON object as received, with its
document's ``@context`` folded into its own and the ``recordTime`` the node gave it, so
its CBV event hash is the one it had when captured. A tobacco message sent in the native
format is written in its EPCIS form (``capture.epcis_map.from_trace_event``). Each event
body is self-contained: it carries every prefix it needs in its own ``@context``.

A stored row that cannot be read back (an edited row, or an event stored without its
document's context before migration 0014) raises :class:`Unreadable`; the query leaves it
out of the event list and names it in the page instead (see ``queries.events``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from itptrace.capture.epcis_map import from_trace_event
from itptrace.capture.model import TraceEvent
from itptrace.capture.native import NativeMessage
from itptrace.epcis import EpcisEvent, EpcisValidationError, parse_event, to_jsonld
from itptrace.epcis.serialize import format_time
from itptrace.epcis.vocab import ITP_NS, ITP_PREFIX, STANDARD_CONTEXT

NATIVE_FIELDS = set(NativeMessage.model_fields)
UNREADABLE = ITP_PREFIX + ":unreadableEvents"


class Unreadable(Exception):
    """A stored event that cannot be written back as a valid EPCIS event."""


def stored_event(details: Mapping[str, Any], uis: list[str]) -> TraceEvent:
    """Rebuild the TraceEvent of a stored row from its details and its items."""
    body = {k: v for k, v in details.items() if k in NATIVE_FIELDS}
    return NativeMessage.model_validate({**body, "uis": uis}).to_event()


def _entries(context: Any) -> list[Any]:
    if context is None:
        return []
    return list(context) if isinstance(context, list) else [context]


def render(
    details: Mapping[str, Any],
    uis: list[str],
    recorded_at: datetime,
    gtins: Mapping[str, str],
    contexts: Mapping[str, str],
) -> tuple[dict[str, Any], EpcisEvent]:
    """The EPCIS event body of a stored row (with its ``@context``) and its parsed value.

    ``contexts`` holds the stored text of the document contexts the page's rows name.
    Raises :class:`Unreadable` when the row does not give a valid EPCIS event.
    """
    record_time = format_time(recorded_at)
    try:
        if "epcis" in details:
            event = dict(details["epcis"])
            digest = details.get("epcis_context")
            document = json.loads(contexts[digest]) if digest is not None else None
            own = _entries(document) + _entries(event.pop("@context", None))
            body = {"@context": own or [STANDARD_CONTEXT], **event}
        elif details.get("message_type") == "OTHER":
            # Stored before migration 0014 without its document's context: readable only
            # when it used no prefix but the standard ones.
            event = dict(details.get("original") or {})
            body = {"@context": _entries(event.pop("@context", None)) or [STANDARD_CONTEXT]}
            body.update(event)
        else:
            native = from_trace_event(stored_event(details, uis), dict(gtins))
            body = to_jsonld([native], kind="event")
        body["recordTime"] = record_time
        return body, parse_event(body)
    except (EpcisValidationError, KeyError, TypeError, ValueError) as exc:
        raise Unreadable(type(exc).__name__) from exc


def _lean(body: Mapping[str, Any]) -> dict[str, Any]:
    """``body`` without the standard context the query document already names."""
    own = [entry for entry in _entries(body.get("@context")) if entry != STANDARD_CONTEXT]
    lean = {k: v for k, v in body.items() if k != "@context"}
    return {"@context": own, **lean} if own else lean


def query_document(
    bodies: list[dict[str, Any]], unreadable: list[dict[str, Any]], creation_date: datetime
) -> dict[str, Any]:
    """An ``EPCISQueryDocument`` of these event bodies; rows that could not be read back are
    listed under ``itp:unreadableEvents`` (their sequence number, eventID and recordTime)."""
    head: list[Any] = [STANDARD_CONTEXT]
    document: dict[str, Any] = {
        "@context": head,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(creation_date),
    }
    if unreadable:
        head.append({ITP_PREFIX: ITP_NS})
        document[UNREADABLE] = unreadable
    results = {
        "queryName": "SimpleEventQuery",
        "resultsBody": {"eventList": [_lean(body) for body in bodies]},
    }
    document["epcisBody"] = {"queryResults": results}
    return document
