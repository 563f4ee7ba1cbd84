"""EPCIS 2.0 query over stored events (the SimpleEventQuery parameters), with paging.

Every filter runs in SQL on indexed columns (``queries.store``): time, identifier,
location, and the EPCIS terms (``EQ_eventType``, ``EQ_action``, ``EQ_bizStep``) kept beside
each event. Pages follow the sequence number, so a page token is simply the last sequence
number looked at. One request looks at most at ``SCAN_WINDOW`` sequence numbers: a page
that found too few events in them says where to go on (a token, perhaps on an empty page),
so a filter matching nothing never walks the whole table. A page is capped in events
(``perPage``), EPCs and bytes; it holds at least one event, however large. Events come
back as captured (``queries.captured``); a stored row that cannot be read back fails no
page: it is left out of the events, named in the page's ``unreadable`` list and logged.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, Role
from itptrace.auth import audit
from itptrace.capture.epcis_map import FACILITY_URN, term_key, ui_of
from itptrace.capture.store import aware
from itptrace.clock import parse_instant
from itptrace.context import Context
from itptrace.epcis import EpcisEvent
from itptrace.epcis.serialize import format_time
from itptrace.epcis.vocab import BIZ_STEP, all_prefixes, vocabulary_term
from itptrace.errors import DomainError
from itptrace.queries import captured, store

if TYPE_CHECKING:
    from sqlalchemy import Connection

LOG = logging.getLogger(__name__)
SCAN_WINDOW = 100_000  # sequence numbers one request looks at
MAX_PAGE_EPCS = 10_000  # identifiers in the events of one page (beyond its first event)
MAX_PAGE_BYTES = 4 * 1024 * 1024  # serialised events of one page (beyond its first event)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_EPC_FIELDS = ("epcList", "childEPCs", "inputEPCList", "outputEPCList")
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
# Which item role each MATCH_ parameter looks at (None: any role).
MATCHES = (("MATCH_epc", "item"), ("MATCH_parentID", "parent"), ("MATCH_anyEPC", None))
# The EQ_ parameters on the EPCIS terms, and the events column each filters.
TERMS = (("EQ_eventType", "event_type"), ("EQ_action", "action"), ("EQ_bizStep", "biz_step"))


class QueryError(DomainError):
    code = "query_parameter_invalid"


@dataclass(frozen=True)
class Page:
    """One page of events: their JSON-LD bodies (each with its ``@context``), the parsed
    events, the token of the next page, and the stored rows that could not be read back
    (``seq``, ``eventID``, ``recordTime``)."""

    events: list[EpcisEvent]
    next_page_token: str | None
    bodies: list[dict[str, Any]] = field(default_factory=list)
    unreadable: list[dict[str, Any]] = field(default_factory=list)

    def document(self, creation_date: datetime) -> dict[str, Any]:
        """The page as an EPCIS 2.0 ``EPCISQueryDocument``."""
        return captured.query_document(self.bodies, self.unreadable, creation_date)


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


def _filter(actor: Actor, params: Mapping[str, str]) -> store.EventFilter:
    """What the parameters ask for, in the terms of the SQL filter (errors name the fix)."""
    unknown = sorted(set(params) - PARAMETERS)
    if unknown:
        raise QueryError(f"unknown query parameter {unknown[0]}", subject=unknown[0])
    for name in sorted(params):
        if name.startswith(("EQ_", "MATCH_", "GE_", "LT_")) and not _values(params, name):
            # An empty value would otherwise mean "no filter": the opposite of what was asked.
            raise QueryError(f"{name} needs a value, e.g. {_EXAMPLES[name[:3]]}", subject=name)
    times = {}
    for name in sorted(k for k in params if k.endswith("Time")):
        try:
            times[name] = parse_instant(params[name].strip())
        except ValueError:
            raise QueryError(
                f"{name} must be a date-time with its offset, e.g. {name}=2026-01-05T08:00:00Z",
                subject=name,
            ) from None
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
        for name, role in MATCHES
        if _values(params, name)
    )
    places = tuple(
        v.removeprefix(FACILITY_URN)
        for v in _values(params, "EQ_bizLocation") + _values(params, "EQ_readPoint")
    )
    terms = tuple(
        (column, tuple(_term(name, v) for v in _values(params, name)))
        for name, column in TERMS
        if _values(params, name)
    )
    return store.EventFilter(
        originator=actor.operator_id if actor.role is Role.OPERATOR else None,
        bounds=bounds,
        items=items,
        places=places,
        terms=terms,
    )


_EXAMPLES = {
    "EQ_": "EQ_bizStep=shipping",
    "MAT": "MATCH_epc=urn:itptrace:ui:KET01...",
    "GE_": "GE_eventTime=2026-01-05T08:00:00Z",
    "LT_": "LT_eventTime=2026-01-06T00:00:00Z",
}


def _term(name: str, value: str) -> str:
    """A bizStep in any of its spellings as the events table keeps it (its short name)."""
    if name != "EQ_bizStep":
        return value
    return term_key(vocabulary_term(BIZ_STEP, value, all_prefixes(None)) or value) or value


def _per_page(params: Mapping[str, str]) -> int:
    text = params.get("perPage", "100").strip()
    if not (text.isdigit() and 1 <= int(text) <= 1000):
        raise QueryError("perPage must be a whole number from 1 to 1000", subject="perPage")
    return int(text)


def _epcs(body: Mapping[str, Any]) -> int:
    lists = sum(len(body.get(name) or ()) for name in _EPC_FIELDS)
    return lists + (1 if body.get("parentID") else 0)


def _query(conn: Connection, actor: Actor, params: Mapping[str, str]) -> Page:
    wanted = _filter(actor, params)
    per_page = _per_page(params)
    after = _after(params.get("nextPageToken"))
    until = after + SCAN_WINDOW
    rows = store.matching_events(conn, wanted, after, per_page, until)
    parsed = [_details(row.details) for row in rows]
    digests = [d.get("epcis_context") for d in parsed if d is not None]
    contexts = store.contexts(conn, [d for d in digests if isinstance(d, str)])
    events: list[EpcisEvent] = []
    bodies: list[dict[str, Any]] = []
    unreadable: list[dict[str, Any]] = []
    last, epcs, size, full = after, 0, 0, len(rows) == per_page
    for row, details in zip(rows, parsed, strict=True):
        try:
            if details is None:
                raise captured.Unreadable("details are not a JSON object")
            uis = list(json.loads(row.uis))
            gtins = store.gtins_of(conn, uis) if "epcis" not in details else {}
            recorded = aware(row.recorded_at)
            body, event = captured.render(details, uis, recorded, gtins, contexts)
        except (captured.Unreadable, ValueError, TypeError) as exc:
            LOG.warning("stored event %s (seq %s) cannot be read back as EPCIS: %r",
                        row.event_id, row.seq, exc)  # fmt: skip
            unreadable.append(_unreadable(row))
            last = int(row.seq)
            continue
        count, length = _epcs(body), len(_COMPACT.encode(body))
        if bodies and (epcs + count > MAX_PAGE_EPCS or size + length > MAX_PAGE_BYTES):
            full = True  # the next page starts with this event
            break
        events.append(event)
        bodies.append(body)
        last, epcs, size = int(row.seq), epcs + count, size + length
    if full:
        return Page(events, _token(last), bodies, unreadable)
    if until < store.last_seq(conn):
        return Page(events, _token(until), bodies, unreadable)  # the window ended early
    return Page(events, None, bodies, unreadable)


def _unreadable(row: Any) -> dict[str, Any]:
    return {
        "seq": int(row.seq),
        "eventID": row.event_id,
        "recordTime": format_time(aware(row.recorded_at)),
        "reason": "the stored event cannot be read back as EPCIS 2.0",
    }


def _details(text: str) -> dict[str, Any] | None:
    try:
        details = json.loads(text)
    except ValueError:
        return None
    return details if isinstance(details, dict) else None
