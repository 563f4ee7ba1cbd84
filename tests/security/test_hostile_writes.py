"""A hostile operator writing about a competitor's goods, over a real database (both kinds).

Operator A (the maker) holds a carton of packs; operator B (a rival with a warehouse) tries
every message type on it in each state of its life: still at A's plant, in transit to a
third operator C, in transit to B, and delivered to B. Wherever B has no part in the goods
(the first two states) every write is refused, nothing is stored but the refusal, custody
does not move and B is told nothing about who holds them; where B is the consignee or the
holder, what it may write is its own business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from itptrace.access import Actor, Role, local_authority, local_issuer
from itptrace.capture.custody_alerts import list_custody_alerts
from itptrace.capture.model import MessageType, TraceEvent
from itptrace.capture.service import capture, capture_document
from itptrace.context import Context
from itptrace.errors import Forbidden
from itptrace.queries.refused import list_refused
from itptrace.queries.service import where
from itptrace.registry import service as registry
from itptrace.repository.schema import custody_alerts, events
from tests.integration.chain import Chain, build_chain

STATES = ["at_a_plant", "in_transit_to_c", "in_transit_to_b", "delivered_to_b"]
OUTSIDE = {"at_a_plant", "in_transit_to_c"}  # B has no part in the goods


@dataclass
class Scene:
    chain: Chain
    b: Actor
    b_store: str
    outlet: str
    carton: str
    packs: list[str]

    @property
    def a(self) -> str:
        return self.chain.world.maker


def scene(ctx: Context, state: str) -> Scene:
    chain = build_chain(ctx, packs=6, cartons=2, cases=1)
    admin = local_issuer()
    rival = registry.add_operator(
        ctx, admin, name="Rival Ltd", country="KE", roles=["distributor"], tobacco_industry=True
    )
    store = registry.add_facility(
        ctx,
        admin,
        operator_id=rival.id,
        name="Rival store",
        type="warehouse",
        address="Mombasa",
        country="KE",
    )
    outlet = registry.add_facility(
        ctx,
        admin,
        operator_id=chain.world.importer,
        name="Kiosk",
        type="retail_outlet",
        address="Mombasa Road",
        country="KE",
    )
    b = Actor("rival", Role.OPERATOR, operator_id=rival.id, tobacco_industry=True)
    w, m, t = chain.world, chain.msg, chain.now
    packs, carton = chain.packs[:4], chain.cartons[0]
    steps = [
        m.apply(w.maker, w.plant, w.machine, packs, t),
        m.aggregate(w.maker, w.plant, carton, packs, t),
    ]
    if state != "at_a_plant":
        to = w.depot if state == "in_transit_to_c" else store.id
        steps.append(m.dispatch(w.maker, w.plant, [carton], t, to=to))
    assert chain.send(chain.maker, *steps).ok
    if state == "delivered_to_b":
        assert chain.send(b, m.arrive(rival.id, store.id, [carton], t)).ok
    return Scene(chain, b, store.id, outlet.id, carton, packs)


def _b_writes(s: Scene) -> dict[str, Callable[[], TraceEvent]]:
    """Every message type B can send about A's goods, each from B's own store."""
    m, t, b, c = s.chain.msg, s.chain.now, s.b.operator_id or "", s.chain
    w = c.world
    (spare,) = c.cartons[1:2]

    def deal(kind: MessageType) -> TraceEvent:
        return m.transaction(
            kind, b, [s.carton], t, number="X-1", amount="10", currency="KES", seller=s.a, buyer=b
        )

    return {
        "EUA": lambda: m.apply(b, s.b_store, w.machine, s.packs[:1], t),
        "EPA": lambda: m.aggregate(b, s.b_store, spare, [s.carton], t),
        "EUD": lambda: m.disaggregate(b, s.b_store, s.carton, s.packs[:1], t),
        "EDP": lambda: m.dispatch(b, s.b_store, [s.carton], t, to=w.depot),
        "ERP": lambda: m.arrive(b, s.b_store, [s.carton], t),
        "ETL": lambda: m.transload(b, [s.carton], t, "KBX 999Z"),
        "EVR": lambda: m.retail(b, s.b_store, s.outlet, s.packs[:1], t),
        "EIV": lambda: deal(MessageType.EIV),
        "EPO": lambda: deal(MessageType.EPO),
        "EPR": lambda: deal(MessageType.EPR),
        "IDA": lambda: m.deactivate(b, [s.carton], t, "destroyed"),
        "OTHER": lambda: TraceEvent(
            "hostile-observe", MessageType.OTHER, b, t, s.b_store, (s.carton,), source="epcis"
        ),
    }


def _stored_events(ctx: Context) -> int:
    with ctx.db.transaction() as conn:
        return int(conn.execute(select(func.count()).select_from(events)).scalar_one())


def _holder(ctx: Context, ui: str) -> tuple[str, str | None, str | None]:
    found = where(ctx, local_authority(), ui)
    return found.status, found.custodian_id, found.facility_id


KINDS = ["EUA", "EPA", "EUD", "EDP", "ERP", "ETL", "EVR", "EIV", "EPO", "EPR", "IDA", "OTHER"]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("kind", KINDS)
def test_an_operator_writing_about_a_competitors_goods_is_refused_or_harmless(
    ctx: Context, state: str, kind: str
) -> None:
    s = scene(ctx, state)
    before = (_stored_events(ctx), _holder(ctx, s.carton), _holder(ctx, s.packs[0]))
    result = capture(ctx, s.b, [_b_writes(s)[kind]()])
    for problem in result.problems:  # whatever B is told, it never names A or A's plant
        told = problem.message.replace(problem.subject or "", "")  # (a carton's code names
        assert s.a not in told and s.chain.world.plant not in told  # its facility)
    if state in OUTSIDE:
        assert not result.ok and result.accepted == []
        assert (_stored_events(ctx), _holder(ctx, s.carton), _holder(ctx, s.packs[0])) == before
        return
    # B is the consignee or the holder: what it did is about goods in its own span.
    status, custodian, _facility = _holder(ctx, s.carton)
    assert custodian in (s.a, s.b.operator_id) and status in (
        "active",
        "in_transit",
        "deactivated",
    )


def test_a_custody_hijack_is_refused_and_the_authority_is_alerted(ctx: Context) -> None:
    s = scene(ctx, "at_a_plant")
    w, m, t = s.chain.world, s.chain.msg, s.chain.now
    b = s.b.operator_id or ""
    hijack = m.arrive(b, s.b_store, [s.carton], t)
    result = capture(ctx, s.b, [hijack])
    assert [(p.code, p.subject) for p in result.problems] == [("not_in_your_custody", s.carton)]
    assert _holder(ctx, s.carton) == ("active", s.a, w.plant)
    # A can still dispatch its carton
    assert s.chain.send(s.chain.maker, m.dispatch(s.a, w.plant, [s.carton], t, to=w.depot)).ok
    # the authorities have an alert naming both operators, and the full stored reason
    alerts = list_custody_alerts(ctx, local_authority())
    assert [(a.event_id, a.reporter_id, a.outcome, a.holders) for a in alerts] == [
        (hijack.event_id, b, "refused", {s.a: [s.carton]})
    ]
    with pytest.raises(Forbidden):  # the reporter does not read them
        list_custody_alerts(ctx, s.b)
    (stored,) = [r for r in list_refused(ctx, local_authority()) if r.event_id == hijack.event_id]
    assert stored.problems[0]["withheld"]["code"] == "arrival_not_dispatched"
    assert s.a in stored.problems[0]["withheld"]["message"]
    (own,) = [r for r in list_refused(ctx, s.b) if r.event_id == hijack.event_id]
    assert "withheld" not in own.problems[0]  # B reads its refusal without the reason


def test_with_the_flag_setting_an_unexpected_arrival_is_kept_without_moving_custody(
    ctx: Context,
) -> None:
    s = scene(ctx, "at_a_plant")
    flagging = ctx.settings.model_copy(update={"unexpected_arrival": "flag"})
    ctx.settings = flagging
    hijack = s.chain.msg.arrive(s.b.operator_id or "", s.b_store, [s.carton], s.chain.now)
    result = capture(ctx, s.b, [hijack])
    assert result.ok and result.accepted[0].flags == ["arrival_not_dispatched"]
    assert [p.code for p in result.problems] == ["not_in_your_custody"]
    assert _holder(ctx, s.carton)[1] == s.a
    with ctx.db.transaction() as conn:
        outcomes = conn.execute(select(custody_alerts.c.outcome)).scalars().all()
    assert outcomes == ["flagged"]
    # the kept arrival shows no custody: B still may not dispatch the carton
    b, t = s.b.operator_id or "", s.chain.now
    onward = s.chain.msg.dispatch(b, s.b_store, [s.carton], t, to=s.chain.world.depot)
    assert not capture(ctx, s.b, [onward]).ok


def test_every_stored_event_records_its_submitter_beside_its_originator(ctx: Context) -> None:
    s = scene(ctx, "at_a_plant")
    with ctx.db.transaction() as conn:
        rows = conn.execute(select(events.c.originator_id, events.c.submitter)).all()
    assert {(r.originator_id, r.submitter) for r in rows} == {(s.a, f"{s.a}/maker")}


def test_the_issuer_reports_in_an_operators_name_only_where_the_node_allows_it(
    ctx: Context,
) -> None:
    s = scene(ctx, "at_a_plant")
    w, m, t = s.chain.world, s.chain.msg, s.chain.now
    event = m.dispatch(s.a, w.plant, [s.carton], t, to=w.depot)
    with pytest.raises(Forbidden) as refused:
        capture(ctx, local_issuer(), [event])
    assert refused.value.code == "on_behalf_refused"
    ctx.settings = ctx.settings.model_copy(update={"capture_on_behalf": True})
    assert capture(ctx, local_issuer("clerk"), [event]).ok
    with ctx.db.transaction() as conn:
        submitter = conn.execute(
            select(events.c.submitter).where(events.c.event_id == event.event_id)
        ).scalar_one()
    assert submitter == "clerk"


def test_an_epcis_event_naming_identifiers_never_issued_is_refused(ctx: Context) -> None:
    s = scene(ctx, "delivered_to_b")
    document = {
        "@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-05T08:00:00Z",
        "epcisBody": {
            "eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2026-01-05T07:55:00Z",
                    "eventTimeZoneOffset": "+00:00",
                    "epcList": [
                        f"urn:itptrace:ui:{s.carton}",
                        "urn:epc:id:sgtin:0614141.107346.2017",
                    ],
                    "action": "OBSERVE",
                    "bizStep": "inspecting",
                    "bizLocation": {"id": f"urn:itptrace:facility:{s.b_store}"},
                }
            ]
        },
    }
    result = capture_document(ctx, s.b, document)
    assert [p.code for p in result.problems] == ["ui_unknown"]
