"""The Article 8.4.1 report of a unit pack: items (a) to (j), each with its source.

Items (a), (b), (c), (f) and (g) come from the issuer's record behind the UI (the product
code) and the application event; (d) from the application's time stamp; (e) and (i) from
the transactions reported on the pack or any container holding it at the time; (h) and (j)
from its movements. A missing item says so, and the report gives its completeness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from itptrace.access import Actor, Permission
from itptrace.auth import audit
from itptrace.capture.model import TRANSACTION_KINDS, MessageType
from itptrace.codes.lifecycle import lookup_code
from itptrace.context import Context
from itptrace.errors import Forbidden, NotFound
from itptrace.queries.scope import Sight
from itptrace.queries.service import TraceEntry, full_trace, sight_of
from itptrace.registry import service as registry

ISSUER_RECORD = "issuer record"
ITEMS = {
    "a": "date and location of manufacture",
    "b": "manufacturing facility",
    "c": "machine used",
    "d": "production shift or time of manufacture",
    "e": "first customer not affiliated with the manufacturer, invoice, order and payment",
    "f": "intended market of retail sale",
    "g": "product description",
    "h": "warehousing and shipping",
    "i": "known subsequent purchasers",
    "j": "intended route, shipment date, destination, departure point and consignee",
}


@dataclass(frozen=True)
class ReportItem:
    key: str
    title: str
    value: Any
    sources: tuple[str, ...]
    # Items (e) and (i), for authorities: each transaction ("invoice INV-1") marked
    # "confirmed" (seller and buyer declared it alike), "disputed" (both declared it, not
    # alike), "declared_by_seller" or "declared_by_buyer" (one party only).
    marks: dict[str, str] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return self.value not in (None, [], {}, "")


@dataclass
class Report:
    ui: str
    items: list[ReportItem] = field(default_factory=list)

    @property
    def completeness(self) -> float:
        return sum(item.present for item in self.items) / len(ITEMS)

    @property
    def missing(self) -> list[str]:
        return [item.key for item in self.items if not item.present]


def _first(entries: list[TraceEntry], kind: str) -> TraceEntry | None:
    return next((e for e in entries if e.message_type == kind and not e.recalled), None)


def _deals(entries: list[TraceEntry]) -> list[tuple[TraceEntry, dict[str, Any]]]:
    return [
        (e, e.details["transaction"])
        for e in entries
        if "transaction" in e.details and not e.recalled
    ]


Deal = tuple[TraceEntry, dict[str, Any]]


def _name(entry: TraceEntry, deal: dict[str, Any]) -> str:
    return f"{TRANSACTION_KINDS[MessageType(entry.message_type)]} {deal['number']}"


def marks(deals: list[Deal]) -> dict[str, str]:
    """Each transaction of ``deals`` marked by who declared it (see ``ReportItem.marks``).

    A transaction is one kind, number, seller and buyer; each party declares its side by
    reporting it (the reporter of a transaction is always one of its parties).
    """
    sides: dict[tuple[str, str, str], dict[str, set[tuple[str, str]]]] = {}
    for entry, deal in deals:
        key = (_name(entry, deal), deal["seller"], deal["buyer"])
        side = "seller" if entry.originator_id == deal["seller"] else "buyer"
        terms = (str(deal["amount"]), str(deal["currency"]))
        sides.setdefault(key, {}).setdefault(side, set()).add(terms)
    found: dict[str, str] = {}
    for (name, *_rest), declared in sorted(sides.items()):
        if len(declared) == 1:
            mark = f"declared_by_{next(iter(declared))}"
        else:
            agreed = len(declared["seller"] | declared["buyer"]) == 1
            mark = "confirmed" if agreed else "disputed"
        # Two pairs of parties may number their documents alike: an unconfirmed one stands.
        if found.get(name, "confirmed") == "confirmed":
            found[name] = mark
    return found


def _first_customer(maker: str, entries: list[TraceEntry]) -> tuple[Any, tuple[str, ...]]:
    deals = [(e, t) for e, t in _deals(entries) if t["seller"] == maker and t["buyer"] != maker]
    # The manufacturer's own invoice names its first customer; a buyer's claim only if none.
    deals.sort(key=lambda d: d[0].originator_id != maker)
    invoice = next(((e, t) for e, t in deals if e.message_type == "EIV"), None)
    if invoice is None:
        return None, ()
    buyer = invoice[1]["buyer"]
    related = [(e, t) for e, t in deals if t["buyer"] == buyer]
    value = {"customer": buyer, "invoice": invoice[1]["number"]}
    for kind, name in (("EPO", "order"), ("EPR", "payment")):
        match = next((t for e, t in related if e.message_type == kind), None)
        value[name] = match["number"] if match else None
    return value, tuple(e.event_id for e, _ in related)


def report(ctx: Context, actor: Actor, ui: str) -> Report:
    """Items (a) to (j) of Article 8.4.1 for one unit-level UI.

    An operator gets the report only of packs whose codes were issued to it, holding only
    what it may read of them; an authority's report marks who declared each transaction.
    """
    with audit.reading(ctx, actor, Permission.QUERY_REPORT, subject=ui) as read:
        found = _report(ctx, actor, ui)
        read.count = 1
    return found


def _sight(ctx: Context, actor: Actor, ui: str) -> Sight | None:
    """An operator's sight of ``ui``; one that may not know the UI is answered as for a
    code never issued (the words of ``lookup_code``), so it learns nothing of it."""
    try:
        with ctx.db.reading() as conn:
            return sight_of(conn, actor, ui)
    except NotFound:
        raise NotFound(f"code {ui} was never issued by this issuer", subject=ui) from None


def _report(ctx: Context, actor: Actor, ui: str) -> Report:
    record = lookup_code(ctx, ui)
    sight = _sight(ctx, actor, ui)
    if sight is not None and record.operator_id != actor.operator_id:
        raise Forbidden(f"{actor.name} may read reports only of its own packs", subject=ui)
    if record.kind != "unit":
        raise NotFound(f"{ui} is not a unit-level UI", subject=ui)
    try:
        entries = full_trace(ctx, ui)
    except NotFound:
        entries = []
    if sight is not None:
        # The manufacturer's report holds only what it may read: its own spans of custody
        # and its own side of the transactions.
        entries = [e for e in entries if sight.readable(e.seq, e.message_type, e.originator_id)]
    applied = _first(entries, "EUA")
    facility = registry.get_facility(ctx, record.facility_id)
    product = registry.get_product(ctx, record.gtin or "")
    from_app = (applied.event_id,) if applied else ()
    maker = record.operator_id
    customer, customer_sources = _first_customer(maker, entries)
    later = sorted(
        {
            t["buyer"]
            for _e, t in _deals(entries)
            if t["buyer"] not in (maker, (customer or {}).get("customer"))
        }
    )
    deals = _deals(entries) if sight is None else []  # marks are for the authorities
    first = [d for d in deals if d[0].event_id in customer_sources]
    moves = [
        e for e in entries if e.message_type in ("EDP", "ERP", "ETL", "EVR") and not e.recalled
    ]
    shipped = _first(entries, "EDP")
    destination = dict(shipped.details.get("destination", {})) if shipped else {}
    if destination.get("facility") and not destination.get("consignee"):
        # A domestic dispatch goes to a registered facility: its operator is the consignee.
        destination["consignee"] = registry.get_facility(ctx, destination["facility"]).operator_id
    items = [
        ReportItem(
            "a",
            ITEMS["a"],
            {
                "date": applied.event_time.isoformat(),
                "facility": facility.address,
                "country": facility.country,
            }
            if applied
            else None,
            from_app,
        ),
        ReportItem(
            "b", ITEMS["b"], {"id": facility.id, "name": facility.name}, (ISSUER_RECORD, *from_app)
        ),
        ReportItem("c", ITEMS["c"], record.machine_id, (ISSUER_RECORD,)),
        ReportItem(
            "d", ITEMS["d"], applied.details.get("production_stamp") if applied else None, from_app
        ),
        ReportItem("e", ITEMS["e"], customer, customer_sources, marks(first)),
        ReportItem("f", ITEMS["f"], record.intended_market, (ISSUER_RECORD,)),
        ReportItem(
            "g",
            ITEMS["g"],
            {"gtin": product.gtin, "brand": product.brand, "description": product.description},
            (ISSUER_RECORD,),
        ),
        ReportItem(
            "h",
            ITEMS["h"],
            [
                {
                    "event": e.message_type,
                    "time": e.event_time.isoformat(),
                    "facility": e.facility_id,
                }
                for e in moves
            ],
            tuple(e.event_id for e in moves),
        ),
        ReportItem(
            "i",
            ITEMS["i"],
            later,
            tuple(e.event_id for e, _ in _deals(entries)),
            marks([d for d in deals if d[1]["buyer"] in later]),
        ),
        ReportItem(
            "j",
            ITEMS["j"],
            {
                "route": destination.get("route") or record.route or None,
                "shipment_date": shipped.event_time.isoformat(),
                "departure": shipped.facility_id,
                "destination": destination.get("facility") or destination.get("country"),
                "consignee": destination.get("consignee") or destination.get("consignee_name"),
            }
            if shipped
            else None,
            (shipped.event_id,) if shipped else (),
        ),
    ]
    return Report(ui, items)
