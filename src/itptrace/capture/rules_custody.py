"""Who may write about an item: its holder, its consignee, or an operator that held it.

The adversary is often a reporting party itself (ITP Art. 8.12), so no event is taken from
an operator about goods outside its span of custody: every event but an application (which
is checked against the issuer's record), a recall (checked against the recalled message's
sender) and an arrival (its own rule asks the same) passes ``custody_problems`` before its
own rule. An item is the reporter's to write about when, looking at its outermost container,

- the reporter holds it now (``custodian_id``), or
- it is in transit to the reporter (the dispatch named one of the reporter's facilities,
  or the reporter as consignee), or
- the reporter held it before: one of its accepted, unrecalled custody events (application,
  packing, dispatch, arrival, ...) names the item or a container the item was ever in.

The first two are read from the view's cached state; only the items failing them are looked
up in history, all of one event in one batch (``StateView.held_before``). An item outside
that span gets a ``private`` problem: the reporter is told ``not_in_your_custody`` and
nothing about who holds it; the full reason is stored for the authorities.
"""

from __future__ import annotations

from itptrace.capture.model import MessageType, Problem, TraceEvent
from itptrace.capture.state import IN_TRANSIT, StateView, UiState

#: Events whose reporter needs no earlier custody of the items (their own rules decide).
#: An arrival's own rule (``rules_moves.check_arrival``) asks the same of its items.
UNGATED = frozenset({MessageType.EUA, MessageType.RCL, MessageType.ERP})
#: The stored code of a custody refusal, where the message type has one of its own.
CODE_OF = {MessageType.IDA: "not_custodian"}


def destined_to(view: StateView, state: UiState, operator: str) -> bool:
    """Whether ``state`` (an outermost container) is in transit to ``operator``."""
    if state.status != IN_TRANSIT:
        return False
    if state.destination_facility_id is not None:
        facility = view.facility(state.destination_facility_id)
        return facility is not None and facility.operator_id == operator
    return view.consignee(state.ui) == operator


def holds_or_receives(view: StateView, ui: str, operator: str) -> bool:
    """Whether ``operator`` holds ``ui`` now or it is on its way to ``operator``."""
    state = view.state(ui)
    if state is None:
        return False
    top = state if state.parent is None else view.top(ui)
    if top is None:
        return False
    return top.custodian_id == operator or destined_to(view, top, operator)


def items_of(event: TraceEvent) -> list[str]:
    """Every identifier the event names: its items, then its parent (once each)."""
    named = list(event.uis)
    if event.parent is not None and event.parent not in named:
        named.append(event.parent)
    return named


def custody_problems(event: TraceEvent, view: StateView) -> list[Problem]:
    """A private problem for each item outside the reporter's span of custody (module
    docstring); none when the reporter may write about them all."""
    if event.message_type in UNGATED:
        return []
    me = event.originator_id
    states = view.states
    doubtful: list[str] = []
    unknown: list[str] = []
    for ui in items_of(event):
        state = states[ui] if ui in states else view.state(ui)
        if state is None:
            # A code nobody applied yet: the issuer's record says whose it is. One issued
            # to someone else is never the reporter's; its own or none: the rule decides.
            # A new container's code is the aggregation rule's to judge (parent_not_usable).
            issued = view.issuance(ui) if ui != event.parent else None
            if issued is not None and issued.operator_id != me:
                unknown.append(ui)
            continue
        top = state if state.parent is None else view.top(ui)
        if top is not None and (top.custodian_id == me or destined_to(view, top, me)):
            continue
        doubtful.append(ui)
    if doubtful:
        held = view.held_before(me, doubtful)
        doubtful = [ui for ui in doubtful if ui not in held]
    if not doubtful and not unknown:
        return []
    code = CODE_OF.get(event.message_type, "not_in_your_custody")
    problems = []
    for ui in dict.fromkeys([*unknown, *doubtful]):
        top = view.top(ui)
        where = (
            f"is held by {top.custodian_id} at {top.facility_id} ({top.status})"
            if top is not None
            else "was issued to another operator and never applied"
        )
        problems.append(
            Problem(
                code,
                f"UI {ui} {where}; {me} never held it nor was it sent to {me}",
                ui,
                event.event_id,
                private=True,
            )
        )
    return problems
