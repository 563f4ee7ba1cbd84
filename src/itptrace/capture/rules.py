"""The business rules of a real supply chain, one function per message type.

Each rule function checks an event against the ``StateView`` and, only when nothing is
wrong, applies its effect to the view. Problems carry a code from ``catalogue.CATALOGUE``.
Flags (late report, unexpected arrival) are problems with ``flag_only`` set: the event is
accepted and the flag is stored with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itptrace.capture import rules_items as items
from itptrace.capture import rules_moves as moves
from itptrace.capture.model import DestinationKind, MessageType, Problem, TraceEvent
from itptrace.capture.state import (
    ACTIVE,
    DEACTIVATED,
    IN_TRANSIT,
    RETAIL,
    Containment,
    StateView,
    UiState,
)


@dataclass(frozen=True)
class Policy:
    """Deadlines (EU defaults): report within 3 h; dispatch and trans-loading up to 24 h ahead.

    ``unexpected_arrival``: what an arrival of items neither held by the reporter nor in
    transit to it does: ``refuse`` it (the default), or ``flag`` it, accepting the event
    without moving those items' custody (the Party's setting ``ITPTRACE_UNEXPECTED_ARRIVAL``).
    Either way the authorities get an alert.
    """

    report_within: timedelta = timedelta(hours=3)
    announce_ahead: timedelta = timedelta(hours=24)
    clock_skew: timedelta = timedelta(minutes=5)
    unexpected_arrival: str = "refuse"


Outcome = tuple[list[Problem], dict[str, object]]


def _p(event: TraceEvent, code: str, message: str, subject: str | None = None) -> Problem:
    return Problem(code, message, subject, event.event_id)


def check_timing(event: TraceEvent, received: datetime, policy: Policy) -> list[Problem]:
    ahead = (
        policy.announce_ahead
        if event.message_type in (MessageType.EDP, MessageType.ETL)
        else timedelta(0)
    )
    if event.event_time > received + ahead + policy.clock_skew:
        return [
            _p(
                event,
                "event_in_future",
                f"event time {event.event_time.isoformat()} is later "
                f"than allowed for {event.message_type}",
                event.event_id,
            )
        ]
    if received - event.event_time > policy.report_within:
        late = Problem(
            "late_report",
            f"reported {received - event.event_time} after the event, "
            f"beyond {policy.report_within}",
            event.event_id,
            event.event_id,
            flag_only=True,
        )
        return [late]
    return []


def check_originator(event: TraceEvent, view: StateView) -> list[Problem]:
    operator = view.operator(event.originator_id)
    if operator is None or not operator.active:
        return [
            _p(
                event,
                "unknown_originator",
                f"originator {event.originator_id} is not an active registered economic operator",
                event.originator_id,
            )
        ]
    if event.facility_id is None:
        if event.message_type in _NEEDS_FACILITY:
            return [
                _p(event, "missing_field", f"{event.message_type} needs a facility", "facility")
            ]
        return []
    facility = view.facility(event.facility_id)
    if facility is None or not facility.active:
        return [
            _p(
                event,
                "unknown_facility",
                f"facility {event.facility_id} is not an active registered facility",
                event.facility_id,
            )
        ]
    if facility.operator_id != event.originator_id:
        return [
            _p(
                event,
                "facility_not_own",
                f"operator {event.originator_id} may report only for "
                f"its own facilities, not {event.facility_id}",
                event.facility_id,
            )
        ]
    return []


_NEEDS_FACILITY = {
    MessageType.EUA,
    MessageType.EPA,
    MessageType.EUD,
    MessageType.EDP,
    MessageType.ERP,
    MessageType.EVR,
}


def apply_application(event: TraceEvent, view: StateView) -> Outcome:
    problems = items.check_application(event, view)
    if problems:
        return problems, {}
    # One new state per pack, built positionally (much cheaper for a NamedTuple than by
    # keyword) from values read once, the issuance straight from the view's cache.
    facility, custodian = event.facility_id, event.originator_id
    issuances = view.issuances
    new: list[UiState] = []
    for ui in event.uis:
        issuance = issuances[ui] if ui in issuances else view.issuance(ui)
        assert issuance is not None
        gtin = issuance.gtin
        new.append(UiState(ui, "unit", ACTIVE, None, facility, custodian, None, None, None, gtin))
    view.put_new(new)
    return [], {}


def apply_aggregation(event: TraceEvent, view: StateView, index: int) -> Outcome:
    problems = items.check_aggregation(event, view)
    if problems:
        return problems, {}
    assert event.parent is not None
    if view.state(event.parent) is None:
        kind = "sscc" if event.parent.isdigit() else "aggregate"
        view.put(
            UiState(event.parent, kind, ACTIVE, None, event.facility_id, event.originator_id),
            new=True,
        )
    view.put_all_inside(event.uis, event.parent, index)
    view.children(event.parent).extend(event.uis)
    return [], {}


def apply_disaggregation(event: TraceEvent, view: StateView, index: int) -> Outcome:
    problems, children = items.check_disaggregation(event, view)
    if problems:
        return problems, {}
    assert event.parent is not None
    current = view.children(event.parent)
    view.prefetch(children)
    for child in children:
        # A child leaving its container takes over where the container is and who holds it.
        place = placement(view, event.parent)
        own = view.state(child)
        if own is not None and own.status == DEACTIVATED:
            place["status"] = DEACTIVATED  # a deactivated pack stays so outside its carton
        view.update(child, parent=None, **place)
        current.remove(child)
        view.closed.append(Containment(child, event.parent, index))
    return [], {"children": children}


def placement(view: StateView, ui: str) -> dict[str, object]:
    """The place, holder and status of the outermost container of ``ui``."""
    top = view.top(ui)
    assert top is not None
    return {
        "status": top.status,
        "facility_id": top.facility_id,
        "custodian_id": top.custodian_id,
        "destination_facility_id": top.destination_facility_id,
        "destination_kind": top.destination_kind,
        "destination_country": top.destination_country,
    }


def _before(view: StateView, uis: tuple[str, ...]) -> dict[str, object]:
    return {"before": {ui: state._asdict() for ui in uis if (state := view.state(ui)) is not None}}


def apply_dispatch(event: TraceEvent, view: StateView) -> Outcome:
    problems = moves.check_dispatch(event, view)
    if problems:
        return problems, {}
    extra = _before(view, event.uis)
    kind = event.destination_kind or DestinationKind.DOMESTIC
    for ui in event.uis:
        view.update(
            ui,
            status=IN_TRANSIT,
            destination_facility_id=event.destination_facility_id,
            destination_kind=kind.value,
            destination_country=event.destination_country,
        )
    return [], extra


def apply_arrival(event: TraceEvent, view: StateView, policy: Policy) -> Outcome:
    problems, flags = moves.check_arrival(event, view, keep=policy.unexpected_arrival == "flag")
    if problems:
        return problems, {}
    kept = {p.subject for p in flags if p.code == moves.NOT_DISPATCHED}
    moved = tuple(ui for ui in event.uis if ui not in kept)
    extra = _before(view, moved)
    if kept:
        extra["not_moved"] = sorted(str(ui) for ui in kept)
    for ui in moved:
        view.update(
            ui,
            status=ACTIVE,
            facility_id=event.facility_id,
            custodian_id=event.originator_id,
            destination_facility_id=None,
            destination_kind=None,
            destination_country=None,
        )
    return flags, extra


def apply_transloading(event: TraceEvent, view: StateView) -> Outcome:
    return moves.check_in_transit(event, view), {}


def apply_retail_delivery(event: TraceEvent, view: StateView) -> Outcome:
    problems = moves.check_retail_delivery(event, view)
    if problems:
        return problems, {}
    extra = _before(view, event.uis)
    outlet = event.destination_facility_id or event.facility_id
    for ui in event.uis:
        view.update(
            ui,
            status=RETAIL,
            facility_id=outlet,
            destination_facility_id=None,
            destination_kind=None,
            destination_country=None,
        )
    return [], extra


def apply_transaction(event: TraceEvent, view: StateView) -> Outcome:
    return moves.check_transaction(event, view), {}


def apply_deactivation(event: TraceEvent, view: StateView) -> Outcome:
    problems = moves.check_deactivation(event, view)
    if problems:
        return problems, {}
    extra = _before(view, event.uis)
    for ui in event.uis:
        view.update(ui, status=DEACTIVATED)
    return [], extra


def apply_other(event: TraceEvent, view: StateView) -> Outcome:
    """An event no tobacco rule applies to changes nothing, but names only applied items
    (its reporter's custody of them is checked before, by ``rules_custody``)."""
    return moves.check_named(event, view), {}


Rule = Callable[[TraceEvent, StateView, int, Policy], Outcome]

RULES: dict[MessageType, Rule] = {
    MessageType.EUA: lambda e, v, i, p: apply_application(e, v),
    MessageType.EPA: lambda e, v, i, p: apply_aggregation(e, v, i),
    MessageType.EUD: lambda e, v, i, p: apply_disaggregation(e, v, i),
    MessageType.EDP: lambda e, v, i, p: apply_dispatch(e, v),
    MessageType.ERP: lambda e, v, i, p: apply_arrival(e, v, p),
    MessageType.ETL: lambda e, v, i, p: apply_transloading(e, v),
    MessageType.EVR: lambda e, v, i, p: apply_retail_delivery(e, v),
    MessageType.EIV: lambda e, v, i, p: apply_transaction(e, v),
    MessageType.EPO: lambda e, v, i, p: apply_transaction(e, v),
    MessageType.EPR: lambda e, v, i, p: apply_transaction(e, v),
    MessageType.IDA: lambda e, v, i, p: apply_deactivation(e, v),
    MessageType.OTHER: lambda e, v, i, p: apply_other(e, v),
}
