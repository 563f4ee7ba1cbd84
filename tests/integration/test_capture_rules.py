"""Capture and the business rules on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from itptrace.access import local_authority
from itptrace.capture.model import DestinationKind, MessageType
from itptrace.context import Context
from itptrace.sim.messages import hours
from tests.integration.chain import Chain, build_chain

AUTH = local_authority()


@pytest.fixture
def chain(ctx: Context) -> Chain:
    return build_chain(ctx)


def applied(chain: Chain) -> Chain:
    w = chain.world
    result = chain.send(
        chain.maker, chain.msg.apply(w.maker, w.plant, w.machine, chain.packs, chain.now)
    )
    assert result.ok, result.problems
    return chain


def codes(result: object) -> list[str]:
    return [p.code for p in result.problems]  # type: ignore[attr-defined]


def test_applied_codes_are_accepted_with_sequence_numbers(chain: Chain) -> None:
    w = chain.world
    result = chain.send(
        chain.maker,
        chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:10], chain.now),
        chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[10:], chain.now),
    )
    assert result.ok and [a.seq for a in result.accepted] == [1, 2]


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda c: {"uis": ["KET01zzzzzzzzzZZZZZZZZ"]}, "ui_unknown"),
        (lambda c: {"machine": "KET01MOTHER0"}, "ui_machine_mismatch"),
        (lambda c: {"uis": [c.cartons[0]]}, "ui_unknown"),
        (lambda c: {"stamp": "26010412"}, "timestamp_mismatch"),
        (lambda c: {"facility": c.world.depot}, "facility_not_own"),
    ],
)
def test_an_application_breaking_a_rule_is_refused_and_stored_with_its_reason(
    chain: Chain, mutate, code
) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    w = chain.world
    event = chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:3], chain.now)
    change = mutate(chain)
    event = replace(
        event,
        uis=tuple(change.get("uis", event.uis)),
        machine_id=change.get("machine", event.machine_id),
        production_stamp=change.get("stamp", event.production_stamp),
        facility_id=change.get("facility", event.facility_id),
    )
    result = chain.send(chain.maker, event)
    assert not result.ok and code in codes(result) and result.accepted == []
    from itptrace.access import local_issuer
    from itptrace.queries.refused import list_refused

    refused = list_refused(chain.ctx, local_issuer())
    assert refused[-1].event_id == event.event_id and code in [
        p["code"] for p in refused[-1].problems
    ]


def test_applying_a_code_twice_is_refused(chain: Chain) -> None:
    applied(chain)
    w = chain.world
    result = chain.send(
        chain.maker, chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:1], chain.now)
    )
    assert codes(result) == ["ui_already_applied"]


def test_an_identical_resubmission_is_idempotent_and_a_changed_one_is_refused(chain: Chain) -> None:
    w = chain.world
    event = chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:2], chain.now)
    first = chain.send(chain.maker, event)
    again = chain.send(chain.maker, event)
    assert first.ok and again.ok and again.duplicates == [event.event_id] and again.accepted == []
    from dataclasses import replace

    changed = replace(event, uis=tuple(chain.packs[2:4]))
    assert codes(chain.send(chain.maker, changed)) == ["duplicate_event_id"]


def test_a_document_is_all_or_nothing_and_lists_every_failing_event(chain: Chain) -> None:
    w = chain.world
    good = chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:2], chain.now)
    bad1 = chain.msg.aggregate(w.maker, w.plant, "KET01nope", chain.packs[:2], chain.now)
    bad2 = chain.msg.dispatch(w.maker, w.plant, chain.packs[5:6], chain.now, to=w.depot)
    result = chain.send(chain.maker, good, bad1, bad2)
    assert result.accepted == [] and {p.event_id for p in result.problems if not p.flag_only} == {
        bad1.event_id,
        bad2.event_id,
    }
    # The good event was not stored: sent again it is accepted, not answered as a duplicate.
    again = chain.send(chain.maker, good)
    assert again.ok and again.duplicates == []
    assert [a.event_id for a in again.accepted] == [good.event_id]


def test_aggregation_nests_and_a_pack_is_never_in_two_containers(chain: Chain) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    carton, other = chain.cartons[0], chain.cartons[1]
    assert chain.send(chain.maker, m.aggregate(w.maker, w.plant, carton, chain.packs[:10], t)).ok
    result = chain.send(chain.maker, m.aggregate(w.maker, w.plant, other, chain.packs[5:15], t))
    assert set(codes(result)) == {"child_already_aggregated"}
    assert chain.send(chain.maker, m.aggregate(w.maker, w.plant, chain.cases[0], [carton], t)).ok
    # The case holds the carton: packing the case into the carton would be a cycle.
    cycle = chain.send(chain.maker, m.aggregate(w.maker, w.plant, carton, [chain.cases[0]], t))
    assert [(p.code, p.subject) for p in cycle.problems] == [("aggregation_cycle", carton)]
    assert not cycle.ok and cycle.accepted == []


def test_disaggregation_only_of_current_children(chain: Chain) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    chain.send(chain.maker, m.aggregate(w.maker, w.plant, chain.cartons[0], chain.packs[:10], t))
    assert codes(
        chain.send(
            chain.maker,
            m.disaggregate(w.maker, w.plant, chain.cartons[0], chain.packs[10:11], t),
        )
    ) == ["not_a_child"]
    assert chain.send(
        chain.maker, m.disaggregate(w.maker, w.plant, chain.cartons[0], chain.packs[:3], t)
    ).ok
    assert chain.send(
        chain.maker, m.aggregate(w.maker, w.plant, chain.cartons[1], chain.packs[:3], t)
    ).ok


def test_dispatch_moves_a_container_with_everything_in_it_and_arrival_receives_it(
    chain: Chain,
) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    chain.send(chain.maker, m.aggregate(w.maker, w.plant, chain.cartons[0], chain.packs[:10], t))
    inside = chain.send(chain.maker, m.dispatch(w.maker, w.plant, chain.packs[:1], t, to=w.depot))
    assert codes(inside) == ["item_inside_container"]
    assert chain.send(
        chain.maker, m.dispatch(w.maker, w.plant, [chain.cartons[0]], t, to=w.depot)
    ).ok
    again = chain.send(chain.maker, m.dispatch(w.maker, w.plant, [chain.cartons[0]], t, to=w.depot))
    assert codes(again) == ["item_in_transit"]
    arrival = chain.send(chain.importer, m.arrive(w.importer, w.depot, [chain.cartons[0]], t))
    assert arrival.ok and arrival.accepted[0].flags == []
    from itptrace.queries.service import where

    assert where(chain.ctx, AUTH, chain.packs[3]).facility_id == w.depot


def test_an_arrival_of_goods_never_dispatched_to_the_reporter_is_refused(chain: Chain) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    result = chain.send(chain.importer, m.arrive(w.importer, w.depot, chain.packs[:1], t))
    assert [(p.code, p.subject) for p in result.problems] == [
        ("not_in_your_custody", chain.packs[0])
    ]
    assert w.maker not in result.problems[0].message


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"to": "KET01FNOPE00"}, "unknown_destination"),
        ({"kind": DestinationKind.EXPORT, "country": "UG"}, "destination_incomplete"),
        (
            {"kind": DestinationKind.EXPORT, "country": "XQ", "consignee_name": "X", "route": "R"},
            "unknown_country",
        ),
    ],
)
def test_a_dispatch_needs_a_complete_destination(
    chain: Chain, kwargs: dict[str, object], code: str
) -> None:
    applied(chain)
    w = chain.world
    event = chain.msg.dispatch(w.maker, w.plant, chain.packs[:1], chain.now, **kwargs)  # type: ignore[arg-type]
    assert codes(chain.send(chain.maker, event)) == [code]


def test_an_operator_cannot_report_for_another_operator(chain: Chain) -> None:
    from itptrace.errors import Forbidden

    w = chain.world
    with pytest.raises(Forbidden):
        chain.send(
            chain.importer,
            chain.msg.apply(w.maker, w.plant, w.machine, chain.packs[:1], chain.now),
        )


def test_late_reports_are_accepted_and_flagged_and_future_ones_refused(chain: Chain) -> None:
    w, m = chain.world, chain.msg
    late = chain.send(
        chain.maker,
        m.apply(w.maker, w.plant, w.machine, chain.packs[:1], chain.now - hours(4)),
    )
    assert late.ok and late.accepted[0].flags == ["late_report"]
    ahead = chain.send(
        chain.maker,
        m.dispatch(w.maker, w.plant, chain.packs[:1], chain.now + hours(20), to=w.depot),
    )
    assert ahead.ok
    future = chain.send(
        chain.maker,
        m.apply(w.maker, w.plant, w.machine, chain.packs[1:2], chain.now + hours(2)),
    )
    assert codes(future) == ["event_in_future"]


def test_transactions_need_known_parties_and_a_real_currency(chain: Chain) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    ok = m.transaction(
        MessageType.EIV,
        w.maker,
        chain.packs[:5],
        t,
        number="INV-1",
        amount="120.50",
        currency="KES",
        seller=w.maker,
        buyer=w.importer,
    )
    assert chain.send(chain.maker, ok).ok
    bad = m.transaction(
        MessageType.EPR,
        w.maker,
        chain.packs[:5],
        t,
        number="PAY-1",
        amount="1",
        currency="XXQ",
        seller=w.maker,
        buyer="KET01ENOBODY",
    )
    assert set(codes(chain.send(chain.maker, bad))) == {"unknown_currency", "unknown_operator"}


def test_deactivation_needs_a_reason_and_blocks_later_movements(chain: Chain) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    assert codes(
        chain.send(chain.maker, m.deactivate(w.maker, chain.packs[:1], t, "vanished"))
    ) == ["bad_reason"]
    assert chain.send(chain.maker, m.deactivate(w.maker, chain.packs[:1], t, "destroyed")).ok
    assert codes(
        chain.send(chain.maker, m.dispatch(w.maker, w.plant, chain.packs[:1], t, to=w.depot))
    ) == ["ui_deactivated"]


def test_a_recall_undoes_the_latest_message_and_keeps_its_history(chain: Chain) -> None:
    applied(chain)
    w, m, t = chain.world, chain.msg, chain.now
    dispatch = m.dispatch(w.maker, w.plant, chain.packs[:2], t, to=w.depot)
    assert chain.send(chain.maker, dispatch).ok
    assert chain.send(chain.maker, m.recall(w.maker, dispatch.event_id, t)).ok
    from itptrace.queries.service import where

    assert where(chain.ctx, AUTH, chain.packs[0]).status == "active"
    assert codes(chain.send(chain.maker, m.recall(w.maker, dispatch.event_id, t))) == [
        "already_recalled"
    ]
    assert codes(chain.send(chain.importer, m.recall(w.importer, "MSG-00000000", t))) == [
        "recall_not_own"
    ]
