"""Every code of the error catalogue, triggered on its own through ``capture()``.

One case per code builds the situation the code names (events sent first, or a registry or
issuer action) and then sends one offending event; the test checks that exactly that code
comes back, with its message and the offending identifier, and that a refused event is
stored with its reason and changes nothing else. A code added to the catalogue without a
case here fails ``test_every_catalogued_code_has_a_case``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.catalogue import CATALOGUE
from itptrace.capture.model import DestinationKind, MessageType, Problem, TraceEvent
from itptrace.capture.native import parse_native
from itptrace.capture.service import capture
from itptrace.clock import FixedClock
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.errors import Forbidden
from itptrace.gs1.checkdigit import gs1_check_digit
from itptrace.queries.refused import list_refused
from itptrace.registry import service as registry
from itptrace.repository.schema import containment, events, refused_events, ui_state
from itptrace.sim.messages import hours
from tests.integration.chain import Chain, build_chain

NOBODY = "KET01ENOBODY"


@dataclass
class Case:
    """The offending event (None: a report of one malformed message) and what must be said."""

    event: TraceEvent | None
    subject: str | None
    says: str  # a fragment of the problem's message
    before: tuple[TraceEvent, ...] = ()  # sent first, one by one, each accepted
    actor: Actor | None = None  # default: the manufacturer
    parse_problems: list[Problem] | None = None


def apply(c: Chain, uis: list[str] | None = None, **changes: object) -> TraceEvent:
    w = c.world
    event = c.msg.apply(w.maker, w.plant, w.machine, uis or c.packs[:3], c.now)
    return replace(event, **changes)  # type: ignore[arg-type]


def agg(c: Chain, parent: str, children: list[str]) -> TraceEvent:
    return c.msg.aggregate(c.world.maker, c.world.plant, parent, children, c.now)


def send(c: Chain, uis: list[str], **kwargs: object) -> TraceEvent:
    kwargs.setdefault("to", c.world.depot)
    return c.msg.dispatch(c.world.maker, c.world.plant, uis, c.now, **kwargs)  # type: ignore[arg-type]


def deal(c: Chain, **terms: str) -> TraceEvent:
    w = c.world
    agreed = {"currency": "KES", "seller": w.maker, "buyer": w.importer, **terms}
    return c.msg.transaction(
        MessageType.EIV, w.maker, c.packs[:2], c.now, number="I-7", amount="9.5", **agreed
    )


def malformed(c: Chain) -> Case:
    raw = {
        "message_type": "EUA",
        "message_code": "M-1",
        "originator": c.world.maker,
        "event_time": "2026-01-05T08:00:00",
        "uis": c.packs[:1],
    }
    parsed, problems = parse_native(raw)
    assert parsed == []
    return Case(None, "event_time", "needs a UTC offset", parse_problems=problems)


def second_plant(c: Chain, *, active: bool) -> str:
    issuer_ = local_issuer()
    plant = registry.add_facility(
        c.ctx,
        issuer_,
        operator_id=c.world.maker,
        name="Plant 2",
        type="manufacturing",
        address="Thika",
        country="KE",
    )
    if not active:
        registry.deactivate_facility(c.ctx, issuer_, plant.id)
    return plant.id


def expired(c: Chain) -> Case:
    assert isinstance(c.ctx.clock, FixedClock)
    c.ctx.clock.advance(timedelta(days=c.ctx.settings.code_expiry_days + 1))
    return Case(apply(c, c.packs[:1]), c.packs[0], "expired on")


def cancelled(c: Chain) -> Case:
    w, actor = c.world, local_issuer()
    wanted = issuer.UnitRequest(w.maker, w.plant, w.machine, w.gtin, "UG", 2)
    batch = issuer.request_unit_codes(c.ctx, actor, wanted)
    spare = [p.ui for p in lifecycle.request_codes(c.ctx, actor, batch.request_id)]
    lifecycle.cancel_request(c.ctx, actor, batch.request_id, "misprinted")
    return Case(apply(c, spare[:1]), spare[0], "cancelled request")


def deactivated(c: Chain, code: str) -> str:
    lifecycle.deactivate_codes(c.ctx, local_issuer(), [code], "destroyed")
    return code


def wrong_sscc() -> str:
    body = "06009876500000012"
    return body + str((int(gs1_check_digit(body)) + 1) % 10)


def A(c: Chain) -> TraceEvent:  # noqa: N802 - reads as "the application" in the table
    """The application of every pack: the usual first step."""
    return apply(c, c.packs)


def using(event: TraceEvent, make: Callable[[TraceEvent], Case]) -> Case:
    return make(event)


# Each case: the situation, the offending event, its subject and a fragment of its message.
# fmt: off
CASES: dict[str, Callable[[Chain], Case]] = {
    # the report itself
    "malformed": malformed,
    "missing_field": lambda c: Case(
        replace(agg(c, c.cartons[0], c.packs[:2]), parent=None), "parent", "needs a parent",
        before=(A(c),),
    ),
    "duplicate_event_id": lambda c: using(apply(c), lambda e: Case(
        replace(e, uis=tuple(c.packs[5:7])), e.event_id, "already used", before=(e,),
    )),
    "duplicate_item": lambda c: Case(apply(c, c.packs[:2] + c.packs[:1]), "uis", "listed twice"),
    "event_in_future": lambda c: using(
        apply(c, event_time=c.now + hours(2), production_stamp=None),
        lambda e: Case(e, e.event_id, "later than allowed"),
    ),
    "unknown_originator": lambda c: Case(
        apply(c, originator_id=NOBODY), NOBODY, "not an active registered economic operator",
        actor=Actor("nobody", Role.OPERATOR, operator_id=NOBODY),
    ),
    "not_in_your_custody": lambda c: Case(
        c.msg.arrive(c.world.importer, c.world.depot, c.packs[:1], c.now), c.packs[0],
        "is not in your custody", before=(A(c),), actor=c.importer,
    ),
    "unknown_facility": lambda c: using(
        apply(c, facility_id=second_plant(c, active=False)),
        lambda e: Case(e, e.facility_id, "not an active registered facility"),
    ),
    "facility_not_own": lambda c: Case(
        apply(c, facility_id=c.world.depot), c.world.depot, "only for its own facilities"
    ),
    "originator_not_actor": lambda c: using(apply(c), lambda e: Case(
        e, e.event_id, f"may report only as {c.world.importer}", actor=c.importer,
    )),
    # application
    "ui_unknown": lambda c: Case(apply(c, ["KET01zzzzzzzzzZZZZZ"]), "KET01zzzzzzzzzZZZZZ",
                                 "never issued"),
    "ui_not_issued_to_operator": lambda c: Case(
        apply(c, c.packs[:1], originator_id=c.world.importer, facility_id=c.world.depot),
        c.packs[0], "issued to another operator", actor=c.importer,
    ),
    "ui_facility_mismatch": lambda c: Case(
        apply(c, c.packs[:1], facility_id=second_plant(c, active=True)), c.packs[0],
        f"issued for facility {c.world.plant}",
    ),
    "ui_machine_mismatch": lambda c: Case(
        apply(c, c.packs[:1], machine_id="KET01MOTHER0"), c.packs[0],
        f"issued for machine {c.world.machine}",
    ),
    "ui_expired": expired,
    "ui_cancelled": cancelled,
    "ui_deactivated": lambda c: Case(
        apply(c, [deactivated(c, c.packs[0])]), c.packs[0], "is deactivated"
    ),
    "ui_already_applied": lambda c: Case(
        apply(c, c.packs[1:2]), c.packs[1], "already applied", before=(A(c),)
    ),
    "bad_timestamp": lambda c: Case(
        apply(c, production_stamp="26130508"), "26130508", "not a valid date"
    ),
    "timestamp_mismatch": lambda c: Case(
        apply(c, production_stamp="26010412"), "26010412", "does not match event time"
    ),
    # aggregation
    "ui_not_applied": lambda c: Case(
        agg(c, c.cartons[0], c.packs[:1]), c.packs[0], "has not been applied"
    ),
    "parent_unknown": lambda c: Case(
        agg(c, "KET01nope", c.packs[:2]), "KET01nope", "neither an issued aggregated UI nor",
        before=(A(c),),
    ),
    "parent_invalid_sscc": lambda c: Case(
        agg(c, wrong_sscc(), c.packs[:2]), wrong_sscc(), "not a valid SSCC", before=(A(c),)
    ),
    "parent_not_usable": lambda c: Case(
        agg(c, deactivated(c, c.cartons[0]), c.packs[:2]), c.cartons[0], "not usable by",
        before=(A(c),),
    ),
    "child_already_aggregated": lambda c: Case(
        agg(c, c.cartons[1], c.packs[2:3]), c.packs[2], f"inside container {c.cartons[0]}",
        before=(A(c), agg(c, c.cartons[0], c.packs[:3])),
    ),
    "aggregation_cycle": lambda c: Case(
        agg(c, c.cartons[0], c.cases[:1]), c.cartons[0], "cannot contain itself",
        before=(A(c), agg(c, c.cartons[0], c.packs[:3]), agg(c, c.cases[0], c.cartons[:1])),
    ),
    "not_a_child": lambda c: Case(
        c.msg.disaggregate(c.world.maker, c.world.plant, c.cartons[0], c.packs[5:6],
                           c.now),
        c.packs[5], f"is not in {c.cartons[0]}", before=(A(c), agg(c, c.cartons[0], c.packs[:3])),
    ),
    # movements
    "item_inside_container": lambda c: Case(
        send(c, c.packs[1:2]), c.packs[1], f"inside container {c.cartons[0]}",
        before=(A(c), agg(c, c.cartons[0], c.packs[:3])),
    ),
    "item_in_transit": lambda c: Case(
        send(c, c.packs[1:2]), c.packs[1], "in transit", before=(A(c), send(c, c.packs[:2]))
    ),
    "item_not_at_facility": lambda c: Case(
        send(c, c.packs[:1]), c.packs[0], f"not at facility {c.world.plant}",
        before=(A(c), send(c, c.packs[:2]),
                c.msg.arrive(c.world.importer, c.world.depot, c.packs[:2], c.now)),
    ),
    "item_not_in_transit": lambda c: Case(
        c.msg.transload(c.world.maker, c.packs[:1], c.now, vehicle="KBZ 123A"), c.packs[0],
        "not a dispatched item in transit", before=(A(c),),
    ),
    "unknown_destination": lambda c: Case(
        send(c, c.packs[:1], to="KET01FNOPE00"), "KET01FNOPE00", "is not registered",
        before=(A(c),),
    ),
    "destination_incomplete": lambda c: Case(
        send(c, c.packs[:1], to=None, kind=DestinationKind.EXPORT, country="UG"),
        "destination", "needs destination country, consignee and route", before=(A(c),),
    ),
    "unknown_country": lambda c: Case(
        send(c, c.packs[:1], to=None, kind=DestinationKind.DUTY_FREE, country="XQ",
             consignee_name="Airport shop", route="JKIA"),
        "XQ", "unknown destination country XQ", before=(A(c),),
    ),
    # transactions
    "unknown_currency": lambda c: Case(
        deal(c, currency="XXQ"), "XXQ", "unknown ISO 4217 currency", before=(A(c),)
    ),
    "unknown_operator": lambda c: Case(
        deal(c, buyer=NOBODY), NOBODY, "not an active registered", before=(A(c),)
    ),
    "originator_not_party": lambda c: Case(
        deal(c, seller=c.world.importer, buyer=c.world.importer), c.world.maker,
        "must be the seller or the buyer", before=(A(c),),
    ),
    # deactivation and recall
    "bad_reason": lambda c: Case(
        c.msg.deactivate(c.world.maker, c.packs[:1], c.now, "vanished"), "vanished",
        "reason must be one of", before=(A(c),),
    ),
    "not_custodian": lambda c: Case(  # the consignee of goods still in the sender's hands
        c.msg.deactivate(c.world.importer, c.packs[:1], c.now, "stolen"), c.packs[0],
        f"is not held by {c.world.importer}", before=(A(c), send(c, c.packs[:1])),
        actor=c.importer,
    ),
    "unknown_event": lambda c: Case(
        c.msg.recall(c.world.maker, "MSG-NEVER", c.now), "MSG-NEVER", "no stored message"
    ),
    "recall_not_own": lambda c: using(A(c), lambda e: Case(
        c.msg.recall(c.world.importer, e.event_id, c.now), e.event_id, "only the sender",
        before=(e,), actor=c.importer,
    )),
    "already_recalled": lambda c: using(A(c), lambda e: Case(
        c.msg.recall(c.world.maker, e.event_id, c.now), e.event_id, "already recalled",
        before=(e, c.msg.recall(c.world.maker, e.event_id, c.now)),
    )),
    "recall_superseded": lambda c: using(A(c), lambda e: Case(
        c.msg.recall(c.world.maker, e.event_id, c.now), e.event_id, "recall them first",
        before=(e, send(c, c.packs[:1])),
    )),
    # flags: accepted, and the flag stored with the event
    "late_report": lambda c: using(
        apply(c, event_time=c.now - hours(4), production_stamp=None),
        lambda e: Case(e, e.event_id, "after the event"),
    ),
    "unexpected_arrival": lambda c: Case(  # the sender takes back what it dispatched
        c.msg.arrive(c.world.maker, c.world.plant, c.packs[:1], c.now), c.packs[0],
        "without a dispatch to it", before=(A(c), send(c, c.packs[:1])),
    ),
    "arrival_not_dispatched": lambda c: Case(  # the maker no longer holds what it delivered
        c.msg.arrive(c.world.maker, c.world.plant, c.packs[:1], c.now), c.packs[0],
        "was not dispatched to", before=(
            A(c), send(c, c.packs[:1]),
            c.msg.arrive(c.world.importer, c.world.depot, c.packs[:1], c.now),
        ),
    ),
}
# fmt: on


@pytest.fixture
def chain(ctx: Context) -> Chain:
    return build_chain(ctx, packs=12, cartons=2, cases=1)


def stored(ctx: Context) -> tuple[int, ...]:
    with ctx.db.transaction() as conn:
        tables = (events, ui_state, containment, refused_events)
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in tables)


def prepared(chain: Chain, code: str) -> Case:
    made = CASES[code](chain)
    for event in made.before:
        sender = chain.importer if event.originator_id == chain.world.importer else chain.maker
        result = chain.send(sender, event)
        assert result.ok and len(result.accepted) == 1, result.problems
    return made


def test_every_catalogued_code_has_a_case() -> None:
    assert sorted(CASES) == sorted(CATALOGUE)


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_the_catalogued_code_names_the_problem_and_the_offending_identifier(
    chain: Chain, code: str
) -> None:
    assert code in CASES, f"no case triggers {code}"
    made = prepared(chain, code)
    actor = made.actor or chain.maker
    sent = [made.event] if made.event is not None else []
    before = stored(chain.ctx)
    if code == "originator_not_actor":
        # Authorisation fails before any rule runs: the whole report is forbidden.
        with pytest.raises(Forbidden) as refused:
            capture(chain.ctx, actor, sent)
        assert (refused.value.code, refused.value.subject) == (code, made.subject)
        assert made.says in refused.value.message and stored(chain.ctx) == before
        return
    result = capture(chain.ctx, actor, sent, parse_problems=made.parse_problems)
    assert [p.code for p in result.problems] == [code], result.problems
    problem = result.problems[0]
    assert (problem.subject, problem.flag_only) == (made.subject, code in FLAGS)
    assert made.says in problem.message, problem.message
    if problem.flag_only:
        assert result.ok and [a.flags for a in result.accepted] == [[code]]
        return
    assert not result.ok and result.accepted == []
    after = stored(chain.ctx)
    assert after[:3] == before[:3]
    assert after[3] == before[3] + 1
    last = list_refused(chain.ctx, local_issuer(), limit=1000)[-1]
    if made.event is not None:
        assert last.event_id == made.event.event_id
    assert [(p["code"], p["subject"]) for p in last.problems] == [(code, made.subject)]


FLAGS = {"late_report", "unexpected_arrival"}


def test_a_malformed_message_is_stored_with_its_reason(chain: Chain) -> None:
    made = malformed(chain)
    capture(chain.ctx, chain.maker, [], parse_problems=made.parse_problems)
    refused = list_refused(chain.ctx, local_issuer())
    assert [p["code"] for r in refused for p in r.problems] == ["malformed"]


def test_a_malformed_message_refuses_the_whole_document(chain: Chain) -> None:
    made = malformed(chain)
    result = capture(chain.ctx, chain.maker, [apply(chain)], parse_problems=made.parse_problems)
    assert not result.ok and result.accepted == []


def test_a_unit_pack_cannot_be_used_as_a_container(chain: Chain) -> None:
    assert chain.send(chain.maker, A(chain)).ok
    result = chain.send(chain.maker, agg(chain, chain.packs[0], chain.packs[1:3]))
    assert [(p.code, p.subject) for p in result.problems] == [("parent_unknown", chain.packs[0])]
