"""EPCIS 2.0 query over stored events (the SimpleEventQuery parameters), with paging.

Time, identifier and location filters run in SQL on indexed columns (``queries.store``);
the event type, action and business step are checked on the rebuilt EPCIS event. Pages follow the
sequence number, so a page token is simply the last sequence number served.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, Role
from itptrace.auth import audit
from itptrace.capture.epcis_map import FACILITY_URN, from_trace_event, ui_of
from itptrace.capture.model import TraceEvent
from itptrace.capture.native import NativeMessage
from itptrace.clock import parse_instant
from itptrace.context import Context
from itptrace.epcis import EpcisEvent
from itptrace.errors import DomainError
from itptrace.queries import store

if TYPE_CHECKING:
    from sqlalchemy import Connection

PARAMETERS = {
    "EQ_bizStep",
    "EQ_action",
    "EQ_eventType",
    "GE_eventTime",
    "LT_eventTime",
    "GE_recordTime",
    "LT_recordTime",
    "MATCH_epc",
    "MATCH_parentID",
    "MATCH_anyEPC",
    "EQ_bizLocation",
    "EQ_readPoint",
    "perPage",
    "nextPageToken",
}
NATIVE_FIELDS = set(NativeMessage.model_fields)
# Which item role each MATCH_ parameter looks at (None: any role).
MATCHES = (("MATCH_epc", "item"), ("MATCH_parentID", "parent"), ("MATCH_anyEPC", None))


class QueryError(DomainError):
    code = "query_parameter_invalid"


@dataclass(frozen=True)
class Page:
    events: list[EpcisEvent]
    next_page_token: str | None


def stored_event(details: Mapping[str, Any], uis: list[str]) -> TraceEvent:
    """Rebuild the TraceEvent of a stored row from its details and its items."""
    body = {k: v for k, v in details.items() if k in NATIVE_FIELDS}
    event = NativeMessage.model_validate({**body, "uis": uis}).to_event()
    original = details.get("original")
    if original:
        from dataclasses import replace

        event = replace(event, details=original)
    return event


def _values(params: Mapping[str, str], name: str) -> list[str]:
    return [v.strip() for v in params.get(name, "").split(",") if v.strip()]


def _token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def _after(token: str | None) -> int:
    if not token:
        return 0
    try:
        kind, seq = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        assert kind == "seq"
        return int(seq)
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise QueryError(f"nextPageToken {token!r} is not one this server issued") from None


def query_events(ctx: Context, actor: Actor, params: Mapping[str, str]) -> Page:
    """Stored events matching EPCIS query parameters; an operator sees only its own."""
    shown = dict(list(params.items())[:12])
    with audit.reading(ctx, actor, Permission.QUERY_EVENTS, details=shown) as read:
        page = _query(read.conn, actor, params)
        read.count = len(page.events)
    return page


def _query(conn: Connection, actor: Actor, params: Mapping[str, str]) -> Page:
    unknown = sorted(set(params) - PARAMETERS)
    if unknown:
        raise QueryError(f"unknown query parameter {unknown[0]}", subject=unknown[0])
    shown = params.get("perPage", "100")
    if not (shown.isascii() and shown.isdigit()):
        raise QueryError(
            f"perPage {shown!r} is not a whole number: give 1 to 1000", subject="perPage"
        )
    try:
        per_page = int(shown)
        times = {
            k: parse_instant(params[k]) for k in PARAMETERS if k.endswith("Time") and k in params
        }
    except ValueError as exc:
        raise QueryError(f"bad query parameter: {exc}") from None
    if not 1 <= per_page <= 1000:
        raise QueryError("perPage must be between 1 and 1000", subject="perPage")
    bounds = tuple(
        (column, cmp, times[name])
        for name, column, cmp in (
            ("GE_eventTime", "event_time", "ge"),
            ("LT_eventTime", "event_time", "lt"),
            ("GE_recordTime", "recorded_at", "ge"),
            ("LT_recordTime", "recorded_at", "lt"),
        )
        if name in times
    )
    items = tuple(
        (role, tuple(ui_of(v) for v in _values(params, name)))
        for name, role in (
            ("MATCH_epc", "item"),
            ("MATCH_parentID", "parent"),
            ("MATCH_anyEPC", None),
        )
        if _values(params, name)
    )
    places = tuple(
        v.removeprefix(FACILITY_URN)
        for v in _values(params, "EQ_bizLocation") + _values(params, "EQ_readPoint")
    )
    wanted = store.EventFilter(
        originator=actor.operator_id if actor.role is Role.OPERATOR else None,
        bounds=bounds,
        items=items,
        places=places,
    )
    steps, actions, types = (
        set(_values(params, n)) for n in ("EQ_bizStep", "EQ_action", "EQ_eventType")
    )
    found: list[EpcisEvent] = []
    last = _after(params.get("nextPageToken"))
    while len(found) < per_page:
        rows = store.matching_events(conn, wanted, last, per_page * 2)
        if not rows:
            return Page(found, None)
        for row in rows:
            last = int(row.seq)
            uis = list(json.loads(row.uis))
            gtins = store.gtins_of(conn, uis)
            epcis = from_trace_event(stored_event(json.loads(row.details), uis), gtins)
            if (
                (steps and epcis.biz_step not in steps)
                or (actions and epcis.action not in actions)
                or (types and epcis.type not in types)
            ):
                continue
            found.append(epcis)
            if len(found) == per_page:
                return Page(found, _token(last))
    return Page(found, None)
