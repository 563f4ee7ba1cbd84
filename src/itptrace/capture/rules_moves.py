"""Checks on the items of movements and records: dispatch, arrival, transit, delivery to
retail, transactions and deactivation."""

from __future__ import annotations

import pycountry

from itptrace.capture.model import DestinationKind, Problem, TraceEvent
from itptrace.capture.rules_items import at_facility, make_problem, need_items, not_applied
from itptrace.capture.state import DEACTIVATED, IN_TRANSIT, StateView

DEACTIVATION_REASONS = {"destroyed", "stolen", "lost", "recalled", "expired"}


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


def check_arrival(event: TraceEvent, view: StateView) -> tuple[list[Problem], list[Problem]]:
    problems = need_items(event)
    if problems:
        return problems, []
    view.prefetch(event.uis)
    flags: list[Problem] = []
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
        elif state.status != IN_TRANSIT or state.destination_facility_id not in (
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
    return problems, flags


def check_in_transit(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    view.prefetch(event.uis)
    return problems + [
        make_problem(
            event, "item_not_in_transit", f"UI {ui} is not a dispatched item in transit", ui
        )
        for ui in event.uis
        if (s := view.state(ui)) is None or s.status != IN_TRANSIT or s.parent is not None
    ]


def check_retail_delivery(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    outlet = view.facility(event.destination_facility_id or event.facility_id or "")
    if outlet is None or outlet.type != "retail_outlet":
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
        if view.operator(party) is None:
            problems.append(
                make_problem(
                    event, "unknown_operator", f"operator {party} is not registered", party
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
    view.prefetch(event.uis)
    return problems + [not_applied(event, ui) for ui in event.uis if view.state(ui) is None]


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
                        event, "not_custodian", f"UI {ui} is held by {top.custodian_id}", ui
                    )
                )
    return problems
