"""What every event of a report is checked for (time, originator, facility), who may report,
and the report as a whole: all or nothing, every failing event listed with its reasons.

Over the in-memory fake of ``tests/capture_fakes``; no database.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrace.access import Actor, Role
from itptrace.capture.catalogue import CATALOGUE
from itptrace.capture.model import MessageType, TraceEvent
from itptrace.capture.rules import Policy
from itptrace.capture.service import capture
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.errors import Forbidden
from tests.capture_fakes import (
    AT,
    CLOSED,
    DEPOT,
    GONE,
    IMPORTER,
    MAKER,
    NOW,
    OUTLET,
    PLANT,
    RETAILER,
    WAREHOUSE,
    FakeRepository,
    aggregation,
    application,
    arrival,
    deactivation,
    disaggregation,
    dispatch,
    export,
    message,
    recall,
    retail_delivery,
    sscc,
    transaction,
    transloading,
)

# -- time ----------------------------------------------------------------------------------


def test_an_event_reported_within_three_hours_carries_no_flag() -> None:
    repo = FakeRepository()
    report = repo.send(event := application(repo.issue(), when=NOW - timedelta(hours=3)))
    assert report.ok and report.flags(event) == []


def test_an_event_reported_after_three_hours_is_accepted_and_flagged_late() -> None:
    repo = FakeRepository()
    late = application(repo.issue(), when=NOW - timedelta(hours=3, seconds=1))
    report = repo.send(late)
    assert report.ok and report.flags(late) == ["late_report"]


def test_the_reporting_deadline_is_a_policy() -> None:
    repo = FakeRepository()
    event = application(repo.issue(), when=NOW - timedelta(hours=2))
    assert repo.check(event, policy=Policy(report_within=timedelta(hours=1))).flags(event) == [
        "late_report"
    ]


def test_a_late_event_that_breaks_a_rule_is_refused_for_the_rule_alone() -> None:
    repo = FakeRepository()
    report = repo.send(application(["KET01neverissued0000"], when=NOW - timedelta(hours=5)))
    assert report.codes() == ["ui_unknown"]


def test_an_event_later_than_now_is_refused_beyond_five_minutes_of_clock_skew() -> None:
    repo = FakeRepository()
    packs = repo.issue(2)
    soon = NOW + timedelta(minutes=5)
    assert repo.send(application(packs[:1], when=soon)).ok
    report = repo.send(application(packs[1:], when=soon + timedelta(seconds=1)))
    assert report.codes() == ["event_in_future"]


@pytest.mark.parametrize("announce", [dispatch, transloading])
def test_a_dispatch_or_trans_loading_may_be_announced_a_day_ahead(announce: Any) -> None:
    repo = FakeRepository()
    packs = repo.packs(1)
    if announce is transloading:
        repo.shipped(packs)
    ahead = NOW + timedelta(hours=24, minutes=5)
    assert repo.send(announce(packs, when=ahead)).ok
    too_far = announce(packs, when=ahead + timedelta(seconds=1))
    assert repo.send(too_far).codes() == ["event_in_future"]


def test_an_event_in_the_future_is_refused_before_any_rule_is_asked() -> None:
    repo = FakeRepository()
    report = repo.send(application(["KET01neverissued0000"], when=NOW + timedelta(hours=1)))
    assert report.codes() == ["event_in_future"]


# -- originator and facility ---------------------------------------------------------------


@pytest.mark.parametrize("originator", ["KET01ENOBODY", GONE])
def test_the_originator_is_an_active_registered_operator(originator: str) -> None:
    repo = FakeRepository()
    report = repo.send(deactivation(repo.packs(1), by=originator))
    assert [(p.code, p.subject) for p in report.problems] == [("unknown_originator", originator)]


@pytest.mark.parametrize(
    "kind",
    [MessageType.EUA, MessageType.EPA, MessageType.EUD, MessageType.EDP, MessageType.ERP, "EVR"],
)
def test_production_and_movements_name_the_facility_they_happen_at(kind: str) -> None:
    repo = FakeRepository()
    event = message(MessageType(kind), repo.packs(1), facility=None)
    assert repo.send(event).codes() == ["missing_field"]


@pytest.mark.parametrize("facility", ["KET01FNOWHERE", CLOSED])
def test_the_facility_is_an_active_registered_facility(facility: str) -> None:
    repo = FakeRepository()
    report = repo.send(dispatch(repo.packs(1), facility=facility))
    assert [(p.code, p.subject) for p in report.problems] == [("unknown_facility", facility)]


def test_an_operator_reports_only_for_its_own_facilities() -> None:
    repo = FakeRepository()
    packs = repo.packs(1)
    assert repo.send(application(repo.issue(), facility=DEPOT)).codes() == ["facility_not_own"]
    assert repo.send(arrival(packs, by=IMPORTER, facility=WAREHOUSE)).codes() == [
        "facility_not_own"
    ]
    repo.shipped(packs)
    wrong_van = replace(transloading(packs, by=MAKER), facility_id=DEPOT)
    assert repo.send(wrong_van).codes() == ["facility_not_own"]


def test_deactivation_transactions_trans_loading_and_recall_need_no_facility() -> None:
    repo = FakeRepository()
    packs = repo.packs(3)
    repo.shipped(packs[:1])
    repo.accept(sent := dispatch(packs[1:2], to=WAREHOUSE))
    report = repo.send(
        transloading(packs[:1]), transaction(packs), deactivation(packs[2:]), recall(sent)
    )
    assert report.ok


def test_an_event_no_tobacco_rule_applies_to_is_kept_as_received() -> None:
    repo = FakeRepository()
    report = repo.send(message(MessageType.OTHER, repo.packs(1), facility=None))
    assert report.ok and report.view.changed == {}


# -- who may report ------------------------------------------------------------------------


class ReachedTheDatabase(Exception):
    """Raised where a capture starts its transaction: the authorisation let it through."""


class _NoDatabase:
    def transaction(self) -> Any:
        raise ReachedTheDatabase


class _Clock:
    def now(self) -> datetime:
        return NOW


class _AuditTrail:
    """Stands for the group commit: counts the audit records a capture asks to store."""

    def __init__(self) -> None:
        self.records = 0

    def run(self, _write: Any) -> int:
        self.records += 1
        return self.records


def no_database(**settings: Any) -> Context:
    ctx = Context(  # type: ignore[arg-type]
        settings=Settings(**settings),
        db=_NoDatabase(),
        clock=_Clock(),
        keys=None,
        names=None,
        public_keys=None,
        leaf_sources={},
        jobs=None,
    )
    ctx.group_commit = _AuditTrail()  # type: ignore[assignment]
    return ctx


NO_DATABASE = no_database()


def maker_user(operator: str = MAKER) -> Actor:
    return Actor("nyota-line-1", Role.OPERATOR, operator_id=operator)


def test_an_operator_user_reports_as_its_operator() -> None:
    with pytest.raises(ReachedTheDatabase):
        capture(NO_DATABASE, maker_user(), [deactivation(["KET01u1"])])


def test_the_issuer_reports_for_an_operator_only_where_the_node_allows_it() -> None:
    issuer = Actor("local-issuer", Role.ISSUER_ADMIN)
    with pytest.raises(ReachedTheDatabase):
        capture(no_database(capture_on_behalf=True), issuer, [deactivation(["KET01u1"])])
    ctx = no_database()
    with pytest.raises(Forbidden) as refused:
        capture(ctx, issuer, [deactivation(["KET01u1"])])
    assert refused.value.code == "on_behalf_refused"
    assert ctx.group_commit.records == 1  # type: ignore[attr-defined]  # the refusal's record


def test_a_user_reports_only_as_the_operator_it_is_bound_to() -> None:
    events = [deactivation(["KET01u1"]), deactivation(["KET01u2"], by=IMPORTER)]
    with pytest.raises(Forbidden) as refused:
        capture(NO_DATABASE, maker_user(), events)
    assert (refused.value.code, refused.value.subject) == (
        "originator_not_actor",
        events[1].event_id,
    )


@pytest.mark.parametrize(
    "actor",
    [
        Actor("customs-1", Role.AUTHORITY),
        Actor("inspector-1", Role.INSPECTOR),
        Actor("industry-admin", Role.ISSUER_ADMIN, tobacco_industry=True),
    ],
)
def test_no_one_else_reports_events(actor: Actor) -> None:
    with pytest.raises(Forbidden):
        capture(NO_DATABASE, actor, [deactivation(["KET01u1"])])


# -- the report as a whole -----------------------------------------------------------------


def test_a_report_is_checked_against_the_state_its_earlier_events_leave() -> None:
    repo = FakeRepository()
    packs = repo.issue(4)
    (carton,) = repo.issue(kind="aggregate")
    report = repo.send(
        application(packs),
        aggregation(carton, packs[:3]),
        dispatch([carton, packs[3]], to=DEPOT),
        arrival([carton, packs[3]]),
        disaggregation(carton, packs[:1], by=IMPORTER, facility=DEPOT),
        retail_delivery(packs[:1], outlet=OUTLET),
    )
    assert report.ok and len(report.accepted) == 6
    assert repo.where(packs[1]).custodian_id == IMPORTER
    assert repo.states[packs[0]].status == "retail"


def test_one_failing_event_refuses_the_whole_report_and_nothing_of_it_is_kept() -> None:
    repo = FakeRepository()
    packs = repo.issue(3)
    good = application(packs)
    bad = aggregation("KET01nope", packs)
    worse = dispatch(packs, to="KET01FNOWHERE")
    report = repo.send(good, bad, worse)
    assert report.accepted == [] and set(report.refused) == {bad.event_id, worse.event_id}
    assert repo.states == {} and repo.events == {}
    assert repo.send(good).ok  # the good event was not kept: it is accepted alone


def test_every_failing_event_is_listed_with_each_of_its_reasons() -> None:
    repo = FakeRepository()
    (unused,) = repo.issue()
    (other_line,) = repo.issue(machine="KET01MLINE20")
    packs = repo.issue(2)
    first = application([*packs, "KET01neverissued0000", other_line])
    second = transaction([unused], seller=RETAILER, currency="ZZZ", buyer="KET01ENOBODY")
    report = repo.send(first, second)
    assert {event: [p.code for p in problems] for event, problems in report.refused.items()} == {
        first.event_id: ["ui_unknown", "ui_machine_mismatch"],
        second.event_id: [
            "unknown_currency",
            "unknown_operator",
            "originator_not_party",
            "ui_not_applied",
        ],
    }
    assert all(p.event_id in report.refused and p.code in CATALOGUE for p in report.problems)


def test_a_refused_event_leaves_nothing_behind_for_the_events_after_it() -> None:
    repo = FakeRepository()
    packs = repo.packs(2)
    (carton,) = repo.issue(kind="aggregate")
    half_good = aggregation(carton, [packs[0], "KET01neverissued0000"])
    loose = dispatch(packs[:1])
    report = repo.send(half_good, loose)
    assert not report.ok and report.codes(loose) == []
    assert report.view.states[carton] is None


def test_a_flagged_event_is_accepted_with_its_flag_beside_unflagged_ones() -> None:
    repo = FakeRepository()
    packs = repo.packs(2)
    late = dispatch(packs[:1], when=NOW - timedelta(hours=4))
    on_time = dispatch(packs[1:])
    report = repo.send(late, on_time)
    assert report.ok and (report.flags(late), report.flags(on_time)) == (["late_report"], [])


# -- properties ----------------------------------------------------------------------------


def _history() -> tuple[FakeRepository, list[str], list[str]]:
    """Packs loose, in a carton, in transit, delivered, deactivated; codes unused; events."""
    repo = FakeRepository()
    packs = repo.packs(8)
    carton = repo.carton(packs[:2])
    repo.shipped(packs[2:3])
    repo.delivered(packs[3:4])
    repo.accept(deactivation(packs[4:5]))
    spares = [*repo.issue(2, kind="aggregate"), sscc()]
    pool = [*packs, carton, *spares, *repo.issue(2), "KET01neverissued0000"]
    return repo, pool, list(repo.events)


KINDS = [k for k in MessageType if k is not MessageType.OTHER]
# Who reports where: mostly an operator at its own facility, now and then not.
PLACES = [(MAKER, PLANT), (MAKER, WAREHOUSE), (IMPORTER, DEPOT), (RETAILER, OUTLET)] * 4 + [
    (MAKER, DEPOT),
    (MAKER, CLOSED),
    (GONE, PLANT),
    (IMPORTER, None),
]
FACILITIES = [PLANT, WAREHOUSE, DEPOT, OUTLET, CLOSED, None]


POOL, STORED = (len(made) for made in _history()[1:])
# One event as plain choices (kind, items and parent as places in the pool, who and where,
# minutes before the event was received, destination, reason, which stored event to recall,
# export or not), turned into a message over a fresh history by ``report_of``.
EVENT = st.tuples(
    st.sampled_from(KINDS),
    st.lists(st.integers(0, POOL - 1), min_size=1, max_size=3, unique=True),
    st.sampled_from(PLACES),
    st.sampled_from([0, 0, 0, 0, 300, -120]),
    st.integers(0, POOL - 1),
    st.sampled_from(FACILITIES),
    st.sampled_from(["stolen", "lost", "vanished"]),
    st.integers(0, STORED),
    st.booleans(),
)


def report_of(specs: list[tuple[Any, ...]]) -> tuple[FakeRepository, list[TraceEvent]]:
    repo, pool, stored = _history()
    events = []
    for kind, items, (by, facility), before, parent, to, reason, target, abroad in specs:
        uis = [pool[i] for i in items]
        fields: dict[str, Any] = {"by": by, "facility": facility}
        fields["when"] = AT - timedelta(minutes=before)
        if kind in (MessageType.EPA, MessageType.EUD):
            fields["parent"] = pool[parent]
        elif kind in (MessageType.EDP, MessageType.EVR):
            fields["destination_facility_id"] = to
        elif kind is MessageType.IDA:
            fields["reason"] = reason
        elif kind is MessageType.RCL:
            uis = []
            fields["recalled_event_id"] = [*stored, "T-never-sent"][target]
        event = message(kind, uis, **fields)
        if kind in (MessageType.EIV, MessageType.EPO, MessageType.EPR):
            event = replace(event, transaction=transaction([], kind=kind).transaction)
        elif kind is MessageType.EDP and abroad:
            event = export(uis, by=by, facility=facility, when=fields["when"])
        events.append(event)
    return repo, events


@settings(max_examples=100, deadline=None, database=None)
@given(st.lists(EVENT, min_size=1, max_size=4))
def test_a_refused_event_changes_nothing_and_every_problem_is_catalogued(
    specs: list[tuple[Any, ...]],
) -> None:
    repo, events = report_of(specs)
    report = repo.check(*events)
    for problems in report.refused.values():
        assert problems and all(p.code in CATALOGUE and not p.flag_only for p in problems)
    # Rules change the view only when all their checks pass: the accepted events of the
    # report, checked again without the refused ones, pass and change exactly the same.
    again = repo.check(*[event for _i, event, _x, _f in report.checked])
    assert again.ok and again.view.changed == report.view.changed
    assert again.view.removed == report.view.removed


# -- the catalogue -------------------------------------------------------------------------

# Codes no rule gives: a parser's ("malformed") and the idempotency check of the capture
# loop ("duplicate_event_id"), both tested against the database in tests/integration.
NOT_FROM_THE_RULES = {"malformed", "duplicate_event_id"}


def test_every_code_the_rules_can_give_has_a_unit_test() -> None:
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in sorted(here.glob("test_capture_rules_*.py")))
    untested = [c for c in CATALOGUE if f'"{c}"' not in text and c not in NOT_FROM_THE_RULES]
    assert untested == []
