"""Checks on the items of an event: issued, applied, where they are, who holds them.

The checks of production (application, aggregation, disaggregation) and the helpers the
checks of movements (``rules_moves``) share.
"""

from __future__ import annotations

from itptrace.capture.model import Problem, TraceEvent
from itptrace.capture.state import ACTIVE, DEACTIVATED, IN_TRANSIT, Issuance, StateView
from itptrace.codes.model import IssuerError, check_application_timestamp
from itptrace.gs1.checkdigit import is_valid_sscc


def make_problem(event: TraceEvent, code: str, message: str, subject: str | None = None) -> Problem:
    return Problem(code, message, subject, event.event_id)


def not_applied(event: TraceEvent, ui: str) -> Problem:
    return make_problem(event, "ui_not_applied", f"UI {ui} has not been applied or aggregated", ui)


def need_items(event: TraceEvent) -> list[Problem]:
    if not event.uis:
        return [make_problem(event, "missing_field", f"{event.message_type} lists no UIs", "uis")]
    if len(set(event.uis)) != len(event.uis):
        return [
            make_problem(event, "duplicate_item", "the same UI is listed twice in one event", "uis")
        ]
    return []


def check_application(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    if problems:
        return problems
    if event.production_stamp is not None:
        try:
            stamp = check_application_timestamp(event.production_stamp)
        except IssuerError as exc:
            return [make_problem(event, "bad_timestamp", exc.message, event.production_stamp)]
        drift = abs(
            stamp - event.event_time.replace(tzinfo=None, minute=0, second=0, microsecond=0)
        )
        if drift.total_seconds() > 3600:
            return [
                make_problem(
                    event,
                    "timestamp_mismatch",
                    f"time stamp {event.production_stamp} does not "
                    f"match event time {event.event_time.isoformat()}",
                    event.production_stamp,
                )
            ]
    view.prefetch(event.uis)
    # A production batch shares one Issuance object per code request, so each distinct
    # object is judged once and every UI only looks up its verdict: the per-UI work of a
    # 10,000-pack application is then two dictionary reads. The lookups fall back to the
    # view's loaders for a UI the prefetch did not cover.
    states, issuances = view.states, view.issuances
    judged: object = _UNJUDGED
    verdict: tuple[str, str] | None = None
    for ui in event.uis:
        if (state := states[ui] if ui in states else view.state(ui)) is not None:
            # Another operator's pack: the reporter learns nothing of it (rules_custody).
            top = view.top(ui)
            theirs = top is not None and top.custodian_id != event.originator_id
            problems.append(
                Problem(
                    "ui_already_applied",
                    f"UI {ui} was already applied"
                    + (f" and is held by {state.custodian_id}" if theirs else ""),
                    ui,
                    event.event_id,
                    private=theirs,
                )
            )
            continue
        issued = issuances[ui] if ui in issuances else view.issuance(ui)
        if issued is not judged:
            judged, verdict = issued, _judge_issuance(event, issued)
        if verdict is not None:
            code, reason = verdict
            problems.append(make_problem(event, code, f"UI {ui} {reason}", ui))
    return problems


_UNJUDGED = object()


def _judge_issuance(event: TraceEvent, issued: Issuance | None) -> tuple[str, str] | None:
    """Why a code of ``issued`` may not be applied by ``event`` (problem code and the message
    after "UI <ui> "), or None when it may."""
    if issued is None or issued.kind != "unit":
        return "ui_unknown", "was never issued as a unit-level UI"
    if issued.operator_id != event.originator_id:
        return "ui_not_issued_to_operator", "was issued to another operator"
    if issued.facility_id != event.facility_id:
        return "ui_facility_mismatch", f"was issued for facility {issued.facility_id}"
    if event.machine_id is not None and issued.machine_id != event.machine_id:
        return "ui_machine_mismatch", f"was issued for machine {issued.machine_id}"
    if issued.deactivated:
        return "ui_deactivated", "is deactivated"
    if issued.cancelled:
        return "ui_cancelled", "belongs to a cancelled request"
    if issued.expires_at <= event.event_time:
        return "ui_expired", f"expired on {issued.expires_at.date()}"
    return None


def at_facility(event: TraceEvent, view: StateView, ui: str, *, top_level: bool) -> Problem | None:
    state = view.state(ui)
    if state is None:
        return not_applied(event, ui)
    if state.status == DEACTIVATED:
        return make_problem(event, "ui_deactivated", f"UI {ui} is deactivated", ui)
    if top_level and state.parent is not None:
        return make_problem(
            event, "item_inside_container", f"UI {ui} is inside container {state.parent}", ui
        )
    # A nested item is where its outermost container is; its own row may be out of date.
    top = view.top(ui)
    state = top if top is not None else state
    if state.status == IN_TRANSIT:
        return make_problem(event, "item_in_transit", f"UI {ui} is in transit", ui)
    if state.status != ACTIVE or state.facility_id != event.facility_id:
        return make_problem(
            event, "item_not_at_facility", f"UI {ui} is not at facility {event.facility_id}", ui
        )
    return None


def check_aggregation(event: TraceEvent, view: StateView) -> list[Problem]:
    problems = need_items(event)
    parent = event.parent
    if parent is None:
        return [
            *problems,
            make_problem(event, "missing_field", "aggregation needs a parent", "parent"),
        ]
    if problems:
        return problems
    states = view.states
    if parent not in states or not all(ui in states for ui in event.uis):
        view.prefetch([*event.uis, parent])
    parent_state = view.state(parent)
    if parent_state is None:
        if parent.isdigit():
            if not is_valid_sscc(parent):
                return [
                    make_problem(
                        event, "parent_invalid_sscc", f"parent {parent} is not a valid SSCC", parent
                    )
                ]
        else:
            issued = view.issuance(parent)
            if issued is None or issued.kind != "aggregate":
                return [
                    make_problem(
                        event,
                        "parent_unknown",
                        f"parent {parent} is neither an issued aggregated UI nor an SSCC",
                        parent,
                    )
                ]
            if issued.operator_id != event.originator_id or issued.deactivated or issued.cancelled:
                return [
                    make_problem(
                        event,
                        "parent_not_usable",
                        f"aggregated UI {parent} is not usable by {event.originator_id}",
                        parent,
                    )
                ]
    else:
        if parent_state.kind == "unit":
            return [
                make_problem(
                    event, "parent_unknown", f"{parent} is a unit pack, not a container", parent
                )
            ]
        problem = at_facility(event, view, parent, top_level=False)
        if problem is not None:
            return [problem]
    # A container new to the view (the usual case) is inside nothing, so has no ancestors.
    ancestors = view.ancestors(parent) if parent_state is not None else []
    if parent in event.uis or any(a in event.uis for a in ancestors):
        return [make_problem(event, "aggregation_cycle", f"{parent} cannot contain itself", parent)]
    facility = event.facility_id
    for child in event.uis:
        # The usual child is a loose item active at the event's facility: then its own row
        # says where it is and ``at_facility`` would find nothing, so it is not asked.
        state = states.get(child)
        if (
            state is not None
            and state.parent is None
            and state.status == ACTIVE
            and state.facility_id == facility
        ):
            continue
        problem = at_facility(event, view, child, top_level=True)
        if problem is not None:
            if problem.code == "item_inside_container":
                problem = make_problem(event, "child_already_aggregated", problem.message, child)
            problems.append(problem)
    return problems


def check_disaggregation(event: TraceEvent, view: StateView) -> tuple[list[Problem], list[str]]:
    parent = event.parent
    if parent is None:
        return [make_problem(event, "missing_field", "disaggregation needs a parent", "parent")], []
    problem = at_facility(event, view, parent, top_level=False)
    if problem is not None:
        return [problem], []
    current = view.children(parent)
    wanted = list(event.uis) or list(current)
    missing = [c for c in wanted if c not in set(current)]
    return [
        make_problem(event, "not_a_child", f"UI {c} is not in {parent}", c) for c in missing
    ], wanted
