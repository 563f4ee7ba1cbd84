"""An operator reads another's goods only for the spans it held them or was their consignee.

Operator A (the manufacturer) makes packs, cartons and a case; operators B and C, traders
named nowhere in the codes' issuance, are its counterparts (the world's importer is the
importer of record). For each state of A's goods B's
``where``, ``trace``, ``contents`` and ``report`` answers must show exactly B's spans, and
outside them answer as for a UI nobody ever reported. Writing about A's goods (an order, an
invoice, a payment naming A's case) never widens what B reads, whether or not the write is
accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from itptrace.access import Actor, Role, local_authority, local_issuer
from itptrace.capture.model import MessageType, TraceEvent
from itptrace.context import Context
from itptrace.errors import DomainError, Forbidden, NotFound
from itptrace.queries.report import report
from itptrace.queries.service import contents, trace, where
from itptrace.registry import service as registry
from itptrace.registry.model import Facility, Operator
from tests.integration.chain import Chain, build_chain

UNKNOWN = "KET01nEvErIsSuEdX"


@dataclass
class Goods:
    """A's packs in two cartons in one case, and the events reported so far."""

    chain: Chain
    buyer: Operator
    depot: Facility
    third: Operator
    store: Facility
    t0: datetime
    sent: dict[str, TraceEvent] = field(default_factory=dict)

    @property
    def a(self) -> Actor:
        return self.chain.maker

    @property
    def b(self) -> Actor:
        return Actor("buyer", Role.OPERATOR, operator_id=self.buyer.id)

    @property
    def c(self) -> Actor:
        return Actor("third", Role.OPERATOR, operator_id=self.third.id)

    @property
    def pack(self) -> str:
        return self.chain.packs[0]

    @property
    def carton(self) -> str:
        return self.chain.cartons[0]

    @property
    def case(self) -> str:
        return self.chain.cases[0]

    def send(self, name: str, actor: Actor, event: TraceEvent) -> None:
        result = self.chain.send(actor, event)
        assert result.ok, result.problems
        self.sent[name] = event

    def ids(self, *names: str) -> set[str]:
        return {self.sent[n].event_id for n in names}


def trader(ctx: Context, name: str) -> tuple[Operator, Facility]:
    """A registered wholesaler with one warehouse."""
    admin = local_issuer()
    operator = registry.add_operator(
        ctx, admin, name=name, country="UG", roles=["wholesaler"], tobacco_industry=False
    )
    place = registry.add_facility(
        ctx,
        admin,
        operator_id=operator.id,
        name=f"{name} store",
        type="warehouse",
        address="Jinja",
        country="UG",
    )
    return operator, place


@pytest.fixture
def goods(ctx: Context) -> Goods:
    chain = build_chain(ctx, packs=20, cartons=2, cases=1)
    buyer, depot = trader(ctx, "Buyer")
    third, store = trader(ctx, "Third")
    t0 = chain.now.replace(microsecond=0) - timedelta(hours=2)
    found = Goods(chain, buyer, depot, third, store, t0)
    m, w, t = chain.msg, chain.world, found.t0
    found.send("apply", found.a, m.apply(w.maker, w.plant, w.machine, chain.packs, t))
    for i, carton in enumerate(chain.cartons):
        packs = chain.packs[i * 10 : i * 10 + 10]
        found.send(f"pack{i}", found.a, m.aggregate(w.maker, w.plant, carton, packs, t))
    found.send("case", found.a, m.aggregate(w.maker, w.plant, found.case, chain.cartons, t))
    return found


def ship_to_b(g: Goods) -> None:
    w = g.chain.world
    event = g.chain.msg.dispatch(w.maker, w.plant, [g.case], g.t0, to=g.depot.id)
    g.send("to_b", g.a, event)


def arrive_at_b(g: Goods) -> None:
    arrival = g.chain.msg.arrive(g.buyer.id, g.depot.id, [g.case], g.t0 + timedelta(hours=1))
    g.send("at_b", g.b, arrival)


def ship_elsewhere(g: Goods) -> None:
    w = g.chain.world
    event = g.chain.msg.dispatch(w.maker, w.plant, [g.case], g.t0, to=g.store.id)
    g.send("to_c", g.a, event)


def move_on_to_c(g: Goods) -> None:
    ship_to_b(g)
    arrive_at_b(g)
    m, later = g.chain.msg, g.t0 + timedelta(hours=1, minutes=10)
    g.send("b_to_c", g.b, m.dispatch(g.buyer.id, g.depot.id, [g.case], later, to=g.store.id))
    g.send("at_c", g.c, m.arrive(g.third.id, g.store.id, [g.case], later + timedelta(minutes=5)))


def unknown_answer(call: Callable[[str], Any]) -> tuple[str, str]:
    """The code and message (with the UI blanked) of an answer about a never-issued UI."""
    with pytest.raises(DomainError) as refused:
        call(UNKNOWN)
    return refused.value.code, refused.value.message.replace(UNKNOWN, "<ui>")


def assert_unseen(g: Goods, actor: Actor) -> None:
    """Every read answers as for a UI never reported: nothing says the goods exist."""
    ctx = g.chain.ctx
    calls: list[tuple[Callable[[str], Any], str]] = [
        (lambda ui: where(ctx, actor, ui), g.pack),
        (lambda ui: trace(ctx, actor, ui), g.pack),
        (lambda ui: contents(ctx, actor, ui), g.case),
        (lambda ui: contents(ctx, actor, ui), g.carton),
        (lambda ui: report(ctx, actor, ui), g.pack),
    ]
    for call, ui in calls:
        with pytest.raises(NotFound) as refused:
            call(ui)
        got = (refused.value.code, refused.value.message.replace(ui, "<ui>"))
        assert got == unknown_answer(call), ui


def trace_ids(g: Goods, actor: Actor, ui: str) -> set[str]:
    return {e.event_id for e in trace(g.chain.ctx, actor, ui)}


def test_an_operator_sees_nothing_of_goods_still_at_anothers_plant(goods: Goods) -> None:
    assert_unseen(goods, goods.b)


def test_an_operator_sees_nothing_of_goods_in_transit_to_someone_else(goods: Goods) -> None:
    ship_elsewhere(goods)
    assert_unseen(goods, goods.b)
    assert trace_ids(goods, goods.c, goods.pack) == goods.ids("to_c")


def test_the_consignee_reads_a_shipment_to_it_from_its_dispatch_on(goods: Goods) -> None:
    ship_to_b(goods)
    ctx, b, depot = goods.chain.ctx, goods.b, goods.depot.id
    found = where(ctx, b, goods.pack)
    assert (found.status, found.destination_facility_id) == ("in_transit", depot)
    assert trace_ids(goods, b, goods.pack) == goods.ids("to_b")
    assert contents(ctx, b, goods.case).unit_count == 20
    with pytest.raises(Forbidden):
        report(ctx, b, goods.pack)  # it sees the pack; the report is the manufacturer's


def test_the_receiver_reads_goods_delivered_to_it_but_not_their_past(goods: Goods) -> None:
    ship_to_b(goods)
    arrive_at_b(goods)
    ctx, b = goods.chain.ctx, goods.b
    found = where(ctx, b, goods.pack)
    assert (found.custodian_id, found.facility_id) == (b.operator_id, goods.depot.id)
    assert trace_ids(goods, b, goods.pack) == goods.ids("to_b", "at_b")
    assert trace_ids(goods, b, goods.case) == goods.ids("to_b", "at_b")
    assert contents(ctx, b, goods.case).unit_count == 20


def test_a_former_holder_reads_only_its_own_span_after_moving_goods_on(goods: Goods) -> None:
    move_on_to_c(goods)
    ctx, b = goods.chain.ctx, goods.b
    found = where(ctx, b, goods.pack)
    assert found.status == "not_in_your_custody"
    assert (found.facility_id, found.custodian_id, found.parent) == (None, None, None)
    assert trace_ids(goods, b, goods.pack) == goods.ids("to_b", "at_b", "b_to_c", "at_c")
    # C, the holder now, reads from B's dispatch to it on, and nothing of A's plant.
    assert trace_ids(goods, goods.c, goods.pack) == goods.ids("b_to_c", "at_c")
    assert where(ctx, goods.c, goods.pack).custodian_id == goods.third.id
    # B's contents answer is the tree as it left B's custody.
    assert contents(ctx, b, goods.case).unit_count == 20


def test_the_manufacturer_reads_its_own_span_and_not_its_buyers_later_business(
    goods: Goods,
) -> None:
    move_on_to_c(goods)
    ctx, a = goods.chain.ctx, goods.a
    ids = goods.ids("apply", "pack0", "case", "to_b", "at_b")
    assert trace_ids(goods, a, goods.pack) == ids
    assert where(ctx, a, goods.pack).status == "not_in_your_custody"
    assert contents(ctx, a, goods.case).unit_count == 20


def test_the_importer_of_record_knows_the_pack_but_reads_nothing_it_never_held(
    goods: Goods,
) -> None:
    move_on_to_c(goods)
    ctx, importer = goods.chain.ctx, goods.chain.importer
    assert where(ctx, importer, goods.pack).status == "not_in_your_custody"
    assert trace(ctx, importer, goods.pack) == []
    with pytest.raises(NotFound):
        contents(ctx, importer, goods.case)  # the case's code names no importer


def test_the_manufacturers_report_holds_only_its_span_and_its_own_side_of_deals(
    goods: Goods,
) -> None:
    move_on_to_c(goods)
    m, w, b, t = goods.chain.msg, goods.chain.world, goods.buyer.id, goods.t0
    deal: dict[str, Any] = {"amount": "9.00", "currency": "KES"}
    goods.send(
        "invoice",
        goods.a,
        m.transaction(MessageType.EIV, w.maker, [goods.case], t, number="INV-1",
                      seller=w.maker, buyer=b, **deal),
    )  # fmt: skip
    goods.send(
        "invoice_b",
        goods.b,
        m.transaction(MessageType.EIV, b, [goods.case], t, number="INV-1",
                      seller=w.maker, buyer=b, **deal),
    )  # fmt: skip
    goods.send(
        "payment",
        goods.b,
        m.transaction(MessageType.EPR, b, [goods.case], t, number="PAY-1",
                      seller=w.maker, buyer=b, **deal),
    )  # fmt: skip
    goods.send(
        "resale",
        goods.b,
        m.transaction(MessageType.EIV, b, [goods.case], t + timedelta(hours=1, minutes=9),
                      number="B-INV-7", seller=b, buyer=goods.third.id, **deal),
    )  # fmt: skip
    ctx = goods.chain.ctx
    mine = {i.key: i for i in report(ctx, goods.a, goods.pack).items}
    assert mine["e"].value == {"customer": b, "invoice": "INV-1", "order": None, "payment": None}
    assert mine["e"].sources == tuple(goods.ids("invoice"))
    assert mine["i"].value == []  # B's resale to C is B's business
    assert {(h["event"], h["facility"]) for h in mine["h"].value} == {
        ("EDP", w.plant),
        ("ERP", goods.depot.id),
    }
    assert mine["e"].marks == {} and mine["i"].marks == {}
    theirs = {i.key: i for i in report(ctx, local_authority(), goods.pack).items}
    assert theirs["e"].value["payment"] == "PAY-1"
    assert theirs["e"].marks == {"invoice INV-1": "confirmed", "payment PAY-1": "declared_by_buyer"}
    assert theirs["i"].value == [goods.third.id]
    assert theirs["i"].marks == {"invoice B-INV-7": "declared_by_seller"}


def test_a_transaction_both_parties_declare_differently_is_marked_disputed(
    goods: Goods,
) -> None:
    ship_to_b(goods)
    m, w, b, t = goods.chain.msg, goods.chain.world, goods.buyer.id, goods.t0
    for actor, by, amount in ((goods.a, w.maker, "9.00"), (goods.b, b, "1.00")):
        goods.send(
            by,
            actor,
            m.transaction(MessageType.EIV, by, [goods.case], t, number="INV-9",
                          amount=amount, currency="KES", seller=w.maker, buyer=b),
        )  # fmt: skip
    items = {i.key: i for i in report(goods.chain.ctx, local_authority(), goods.pack).items}
    assert items["e"].marks == {"invoice INV-9": "disputed"}


TRANSACTIONS = (MessageType.EPO, MessageType.EIV, MessageType.EPR)
STATES: dict[str, Callable[[Goods], None]] = {
    "at_plant": lambda g: None,
    "in_transit_elsewhere": ship_elsewhere,
    "in_transit_to_b": ship_to_b,
    "delivered_to_b": lambda g: (ship_to_b(g), arrive_at_b(g)),
    "moved_on_to_c": move_on_to_c,
}


def reads(g: Goods, actor: Actor) -> dict[str, Any]:
    """Everything ``actor`` reads about A's goods, as comparable values."""
    ctx, found = g.chain.ctx, {}
    for name, call in {
        "where": lambda: where(ctx, actor, g.pack),
        "trace_pack": lambda: sorted(trace_ids(g, actor, g.pack)),
        "trace_case": lambda: sorted(trace_ids(g, actor, g.case)),
        "contents": lambda: contents(ctx, actor, g.case),
        "report": lambda: report(ctx, actor, g.pack).items,
    }.items():
        try:
            found[name] = call()
        except DomainError as refused:
            found[name] = (refused.code, refused.message)
    return found


def hostile_writes(g: Goods, state: str) -> list[TraceEvent]:
    """B's reports about A's goods: an order, an invoice and a payment naming A as seller,
    a trans-loading and (unless the goods are on their way to B) an arrival at B's depot."""
    m, w, at = g.chain.msg, g.chain.world, g.t0 + timedelta(hours=1, minutes=30)
    found = [
        m.transaction(kind, g.buyer.id, [g.case], at, number=f"HOSTILE-{kind}", amount="1.00",
                      currency="KES", seller=w.maker, buyer=g.buyer.id)
        for kind in TRANSACTIONS
    ]  # fmt: skip
    found.append(m.transload(g.buyer.id, [g.case], at, vehicle="KBX 001"))
    if state != "in_transit_to_b":
        found.append(m.arrive(g.buyer.id, g.depot.id, [g.case], at))
    return found


@pytest.mark.parametrize("state", list(STATES))
def test_reporting_on_anothers_goods_never_widens_what_an_operator_reads(
    goods: Goods, state: str
) -> None:
    STATES[state](goods)
    before = reads(goods, goods.b)
    for event in hostile_writes(goods, state):
        goods.chain.send(goods.b, event)  # accepted or refused: either way B reads no more
    after = reads(goods, goods.b)
    # B's own transactions are its side of the deal, and its trans-loading of goods on their
    # way to it is in its span: they may appear where B already read, nowhere else.
    hostile = {e.event_id for e in trace(goods.chain.ctx, local_authority(), goods.pack)} - {
        e.event_id for e in goods.sent.values()
    }
    for key in ("trace_pack", "trace_case"):
        if isinstance(after[key], list):
            after[key] = sorted(set(after[key]) - hostile)
    assert after == before


def test_a_buyers_forged_invoice_does_not_make_it_the_first_customer_in_the_report(
    goods: Goods,
) -> None:
    ship_elsewhere(goods)
    m, w, t = goods.chain.msg, goods.chain.world, goods.t0
    terms: dict[str, Any] = {"amount": "5.00", "currency": "KES", "seller": w.maker}
    forged = m.transaction(
        MessageType.EIV, goods.buyer.id, [goods.case], t, number="FAKE-1",
        buyer=goods.buyer.id, **terms,
    )  # fmt: skip
    goods.chain.send(goods.b, forged)  # before the real invoice; accepted or not
    real = m.transaction(
        MessageType.EIV, w.maker, [goods.case], t, number="INV-3",
        buyer=goods.third.id, **terms,
    )  # fmt: skip
    goods.send("real", goods.a, real)
    items = {i.key: i for i in report(goods.chain.ctx, local_authority(), goods.pack).items}
    assert items["e"].value["customer"] == goods.third.id
    assert items["e"].marks == {"invoice INV-3": "declared_by_seller"}
    if goods.buyer.id in items["i"].value:  # the forgery was stored: marked for what it is
        assert items["i"].marks == {"invoice FAKE-1": "declared_by_buyer"}
