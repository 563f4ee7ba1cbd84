"""One random-keyed row per pack: history stays whole though packs are linked elsewhere.

An application's packs and an aggregation's children are linked to their events through
``ui_state`` and the stays, not ``event_items`` (migration 0009). These tests check that
every reader still sees every event, on both databases, including after recalls.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from itptrace.access import local_authority
from itptrace.queries.events import query_events
from itptrace.queries.service import contents, trace, where
from itptrace.repository.schema import containment, event_items, events, ui_state
from tests.integration.chain import Chain, build_chain

AUTH = local_authority()


@pytest.fixture
def chain(ctx) -> Chain:  # type: ignore[no-untyped-def]
    chain = build_chain(ctx)
    w = chain.world
    apply = chain.msg.apply(w.maker, w.plant, w.machine, chain.packs, chain.now)
    assert chain.send(chain.maker, apply).ok
    return chain


def aggregate(chain: Chain, packs: list[str], carton: str, hours: int = 0) -> int:
    w = chain.world
    at = chain.now + timedelta(hours=hours)
    event = chain.msg.aggregate(w.maker, w.plant, carton, packs, at)
    result = chain.send(chain.maker, event)
    assert result.ok, result.problems
    return result.accepted[0].seq


def types_in_trace(chain: Chain, ui: str) -> list[tuple[str, bool]]:
    return [(e.message_type, e.recalled) for e in trace(chain.ctx, AUTH, ui)]


def rows(chain: Chain, query):  # type: ignore[no-untyped-def]
    with chain.ctx.db.transaction() as conn:
        return conn.execute(query).all()


def test_an_applied_and_aggregated_pack_is_one_state_row_and_its_trace_shows_both(
    chain: Chain,
) -> None:
    pack, carton = chain.packs[0], chain.cartons[0]
    seq = aggregate(chain, chain.packs[:10], carton)
    assert rows(chain, select(event_items.c.event_seq).where(event_items.c.ui == pack)) == []
    assert rows(chain, select(func.count()).select_from(containment))[0][0] == 0
    state = rows(chain, select(ui_state).where(ui_state.c.ui == pack))[0]
    assert (state.parent, state.parent_since_seq) == (carton, seq)
    assert types_in_trace(chain, pack) == [("EUA", False), ("EPA", False)]
    found = query_events(chain.ctx, AUTH, {"MATCH_epc": pack}).events
    assert [e.type for e in found] == ["ObjectEvent", "AggregationEvent"]
    assert sorted(n.ui for n in contents(chain.ctx, AUTH, carton).children) == sorted(
        chain.packs[:10]
    )


def test_an_event_keeps_its_own_list_of_items_in_message_order(chain: Chain) -> None:
    carton, packs = chain.cartons[0], list(reversed(chain.packs[:10]))
    seq = aggregate(chain, packs, carton)
    stored = rows(chain, select(events.c.uis, events.c.parent).where(events.c.seq == seq))[0]
    assert (stored.uis, stored.parent) == ('["' + '","'.join(packs) + '"]', carton)


def test_a_disaggregation_closes_the_stay_from_its_start_and_the_past_contents_remain(
    chain: Chain,
) -> None:
    w, carton, packs = chain.world, chain.cartons[0], chain.packs[:10]
    start = aggregate(chain, packs, carton, hours=-2)
    out = chain.msg.disaggregate(w.maker, w.plant, carton, packs[:3], chain.now)
    result = chain.send(chain.maker, out)
    assert result.ok, result.problems
    end = result.accepted[0].seq
    closed = rows(chain, select(containment).order_by(containment.c.child))
    assert [(r.child, r.parent, r.from_seq, r.to_seq) for r in closed] == [
        (p, carton, start, end) for p in sorted(packs[:3])
    ]
    assert where(chain.ctx, AUTH, packs[0]).parent is None
    assert len(contents(chain.ctx, AUTH, carton).children) == 7
    between = chain.now - timedelta(hours=1)
    assert len(contents(chain.ctx, AUTH, carton, at=between).children) == 10
    # (Sorted: the trace is in event time, and the aggregation was dated before the application.)
    assert sorted(types_in_trace(chain, packs[0])) == [
        ("EPA", False),
        ("EUA", False),
        ("EUD", False),
    ]


def test_recalling_a_disaggregation_makes_the_stay_current_again_from_its_first_start(
    chain: Chain,
) -> None:
    w, carton, packs = chain.world, chain.cartons[0], chain.packs[:10]
    start = aggregate(chain, packs, carton)
    out = chain.msg.disaggregate(w.maker, w.plant, carton, packs[:3], chain.now)
    assert chain.send(chain.maker, out).ok
    assert chain.send(chain.maker, chain.msg.recall(w.maker, out.event_id, chain.now)).ok
    assert rows(chain, select(func.count()).select_from(containment))[0][0] == 0
    state = rows(chain, select(ui_state).where(ui_state.c.ui == packs[0]))[0]
    assert (state.parent, state.parent_since_seq) == (carton, start)
    assert len(contents(chain.ctx, AUTH, carton).children) == 10


def test_a_recalled_aggregation_stays_in_the_history_of_its_children(chain: Chain) -> None:
    w, carton, packs = chain.world, chain.cartons[0], chain.packs[:10]
    aggregate(chain, packs, carton)
    epa = rows(chain, select(events.c.event_id).where(events.c.message_type == "EPA"))[0][0]
    assert chain.send(chain.maker, chain.msg.recall(w.maker, epa, chain.now)).ok
    assert where(chain.ctx, AUTH, packs[0]).parent is None
    assert ("EPA", True) in types_in_trace(chain, packs[0])
    again = aggregate(chain, packs, chain.cartons[1])
    state = rows(chain, select(ui_state).where(ui_state.c.ui == packs[0]))[0]
    assert (state.parent, state.parent_since_seq) == (chain.cartons[1], again)
    # The recalled aggregation still names the first carton; only the second holds them.
    assert sorted(n.ui for n in contents(chain.ctx, AUTH, chain.cartons[1]).children) == sorted(
        packs
    )


def test_a_recalled_application_stays_in_the_history_and_the_pack_can_be_applied_again(
    chain: Chain,
) -> None:
    w, pack = chain.world, chain.packs[0]
    eua = rows(chain, select(events.c.event_id).where(events.c.message_type == "EUA"))[0][0]
    assert chain.send(chain.maker, chain.msg.recall(w.maker, eua, chain.now)).ok
    assert rows(chain, select(ui_state).where(ui_state.c.ui == pack)) == []
    assert types_in_trace(chain, pack) == [("EUA", True), ("RCL", False)]
    apply = chain.msg.apply(w.maker, w.plant, w.machine, [pack], chain.now)
    assert chain.send(chain.maker, apply).ok
    assert types_in_trace(chain, pack) == [("EUA", True), ("RCL", False), ("EUA", False)]
