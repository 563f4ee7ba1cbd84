"""Checks on the items of movements and records: dispatch, arrival, transit, delivery to
retail, transactions and deactivation."""

from __future__ import annotations

import pycountry

from itptrace.capture.model import DestinationKind, Problem, TraceEvent
from itptrace.capture.rules_custody import destined_to, holds_or_receives, items_of
from itptrace.capture.rules_items import at_facility, make_problem, need_items, not_applied
from itptrace.capture.state import DEACTIVATED, IN_TRANSIT, StateView, UiState

DEACTIVATION_REASONS = {"destroyed", "stolen", "lost", "recalled", "expired"}
NOT_DISPATCHED = "arrival_not_dispatched"


def check_dispatch(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    kind = event.destination_kind or DestinationKind.DOMESTIC
    if kind is DestinationKind.DOMESTIC or event.destination_facility_id:
        destination = view.facility(event.destination_facility_id or "")
        if destination is None or not destination.active:
            problems.append(
                make_problem(
                    event,
                    "unknown_destination",
                    f"destination facility {event.destination_facility_id} is not registered",
                    event.destination_facility_id,
                )
            )
    if kind is not DestinationKind.DOMESTIC:
        if (
            not event.destination_country
            or not (event.consignee_id or event.consignee_name)
            or not event.route
        ):
            problems.append(
                make_problem(
                    event,
                    "destination_incomplete",
                    f"a {kind.value} dispatch needs destination country, consignee and route",
                    "destination",
                )
            )
        elif pycountry.countries.get(alpha_2=event.destination_country) is None:
            problems.append(
                make_problem(
                    event,
                    "unknown_country",
                    f"unknown destination country {event.destination_country}",
                    event.destination_country,
                )
            )
    if problems:
        return problems
    view.prefetch(event.uis)
    return [
        p for ui in event.uis if (p := at_facility(event, view, ui, top_level=True)) is not None
    ]


def check_arrival(
    event: TraceEvent, view: StateView, *, keep: bool = False
) -> tuple[list[Problem], list[Problem]]:
    """Refusals and flags of an arrival: custody passes only along a dispatch.

    An item is received only when it is in transit to the reporter (the dispatch named one
    of its facilities, or it as consignee: flagged ``unexpected_arrival`` when it arrives at
    another of its facilities) or when the reporter holds it already (its own goods moved or
    returned without a dispatch to that facility: flagged). Any other item is someone
    else's: ``arrival_not_dispatched`` (private unless the reporter held the item before),
    refused, or with ``keep`` a flag on an accepted event that leaves the item where it is.
    """
    problems = need_items(event)
    if problems:
        return problems, []
    view.prefetch(event.uis)
    flags: list[Problem] = []
    foreign: list[UiState] = []
    me = event.originator_id
    for ui in event.uis:
        state = view.state(ui)
        if state is None:
            problems.append(not_applied(event, ui))
        elif state.status == DEACTIVATED:
            problems.append(make_problem(event, "ui_deactivated", f"UI {ui} is deactivated", ui))
        elif state.parent is not None:
            problems.append(
                make_problem(
                    event,
                    "item_inside_container",
                    f"UI {ui} is inside container {state.parent}",
                    ui,
                )
            )
        elif destined_to(view, state, me) or state.custodian_id == me:
            if state.status != IN_TRANSIT or state.destination_facility_id not in (
                None,
                event.facility_id,
            ):
                flags.append(
                    Problem(
                        "unexpected_arrival",
                        f"UI {ui} arrived at {event.facility_id} without a dispatch to it",
                        ui,
                        event.event_id,
                        flag_only=True,
                    )
                )
        else:
            foreign.append(state)
    # An item the reporter held before is told apart (it may know of it); any other is
    # someone else's business: the reporter is told only not_in_your_custody.
    held = view.held_before(me, [state.ui for state in foreign]) if foreign else set()
    for state in foreign:
        ui, private = state.ui, state.ui not in held
        why = (
            f"is held by {state.custodian_id} at {state.facility_id} ({state.status}) and "
            if private
            else ""
        )
        refusal = Problem(
            NOT_DISPATCHED,
            f"UI {ui} {why}was not dispatched to {event.facility_id} or to {me}",
            ui,
            event.event_id,
            flag_only=keep,
            private=private,
        )
        (flags if keep else problems).append(refusal)
    return problems, flags


def check_in_transit(event: TraceEvent, view: StateView) -> list[Problem]:
    """A trans-loading concerns loose items in transit, reported by their sender (who holds
    them until they arrive) or their consignee."""
    problems = need_items(event)
    view.prefetch(event.uis)
    for ui in event.uis:
        state = view.state(ui)
        if state is None or state.status != IN_TRANSIT or state.parent is not None:
            problems.append(
                make_problem(
                    event, "item_not_in_transit", f"UI {ui} is not a dispatched item in transit", ui
                )
            )
        elif not holds_or_receives(view, ui, event.originator_id):
            problems.append(
                make_problem(
                    event,
                    "not_custodian",
                    f"UI {ui} is in transit neither from nor to {event.originator_id}",
                    ui,
                )
            )
    return problems


def check_retail_delivery(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    outlet = view.facility(event.destination_facility_id or event.facility_id or "")
    if outlet is None or outlet.type != "retail_outlet" or not outlet.active:
        problems.append(
            make_problem(
                event,
                "unknown_destination",
                "delivery to retail needs a registered retail outlet",
                event.destination_facility_id,
            )
        )
    if problems:
        return problems
    view.prefetch(event.uis)
    return [
        p
        for ui in event.uis
        if (p := at_facility(event, view, ui, top_level=False)) is not None
        and p.code != "item_inside_container"
    ]


def check_transaction(event: TraceEvent, view: StateView) -> list[Problem]:
    t = event.transaction
    if t is None:
        return [
            make_problem(
                event, "missing_field", f"{event.message_type} needs a transaction", "transaction"
            )
        ]
    problems = []
    if pycountry.currencies.get(alpha_3=t.currency) is None:
        problems.append(
            make_problem(
                event, "unknown_currency", f"unknown ISO 4217 currency {t.currency}", t.currency
            )
        )
    for party in (t.seller_id, t.buyer_id):
        operator = view.operator(party)
        if operator is None or not operator.active:
            problems.append(
                make_problem(
                    event,
                    "unknown_operator",
                    f"operator {party} is not an active registered operator",
                    party,
                )
            )
    if event.originator_id not in (t.seller_id, t.buyer_id):
        problems.append(
            make_problem(
                event,
                "originator_not_party",
                "the originator must be the seller or the buyer",
                event.originator_id,
            )
        )
    return problems + check_named(event, view)


def check_named(event: TraceEvent, view: StateView) -> list[Problem]:
    """Every identifier the event names is an applied item (or a container) of this node:
    one never issued is refused ``ui_unknown``, one issued but not applied ``ui_not_applied``."""
    named = items_of(event)
    view.prefetch(named)
    problems = []
    for ui in named:
        if view.state(ui) is not None:
            continue
        if view.issuance(ui) is None:
            problems.append(
                make_problem(event, "ui_unknown", f"{ui} was never issued by this node", ui)
            )
        else:
            problems.append(not_applied(event, ui))
    return problems


def check_deactivation(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    if event.reason not in DEACTIVATION_REASONS:
        problems.append(
            make_problem(
                event,
                "bad_reason",
                f"deactivation reason must be one of {', '.join(sorted(DEACTIVATION_REASONS))}",
                event.reason,
            )
        )
    view.prefetch(event.uis)
    for ui in event.uis:
        state = view.state(ui)
        if state is None:
            problems.append(not_applied(event, ui))
        elif state.status == DEACTIVATED:
            problems.append(
                make_problem(event, "ui_deactivated", f"UI {ui} is already deactivated", ui)
            )
        else:
            top = view.top(ui)
            if top is not None and top.custodian_id != event.originator_id:
                problems.append(
                    make_problem(
                        event,
                        "not_custodian",
                        f"UI {ui} is not held by {event.originator_id}",
                        ui,
                    )
                )
    return problems
