"""The state the rules read and change, kept in memory for one capture.

``StateView`` answers questions about UIs, issued codes and the registry through loader
callables (the store's batch readers), caches the answers, and records every change the
accepted events make, so a whole document is checked against the state as it will be after
its earlier events, and then written in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

ACTIVE = "active"
IN_TRANSIT = "in_transit"
RETAIL = "retail"
DEACTIVATED = "deactivated"


class UiState(NamedTuple):
    """Where a UI is and in what condition. Items inside a container follow the container.

    The fields are the columns of ``ui_state`` in table order, so a state is its own row.
    A tuple, not a dataclass: a large document makes and changes one per pack, and tuples
    are several times cheaper to build and copy.
    """

    ui: str
    kind: str  # unit, aggregate or sscc
    status: str
    parent: str | None
    facility_id: str | None
    custodian_id: str | None
    destination_facility_id: str | None = None
    destination_kind: str | None = None
    destination_country: str | None = None
    gtin: str | None = None
    created_seq: int | None = None
    last_seq: int | None = None
    parent_since_seq: int | None = None  # set by the writer, from the aggregation's seq


@dataclass(frozen=True)
class Issuance:
    """What the issuer recorded for a code: who may apply it, where, for which product.

    Shared by every code of one request unless the code itself is deactivated.
    """

    kind: str
    operator_id: str
    facility_id: str
    machine_id: str | None
    gtin: str | None
    expires_at: datetime
    cancelled: bool
    deactivated: bool


@dataclass(frozen=True)
class FacilityInfo:
    id: str
    operator_id: str
    type: str
    country: str
    active: bool


@dataclass(frozen=True)
class OperatorInfo:
    id: str
    roles: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    seq: int
    originator_id: str
    fingerprint: str
    recalled: bool
    uis: tuple[str, ...]


@dataclass
class Loaders:
    states: Callable[[list[str]], dict[str, UiState]]
    issuances: Callable[[list[str]], dict[str, Issuance]]
    children: Callable[[str], list[str]]
    facility: Callable[[str], FacilityInfo | None]
    operator: Callable[[str], OperatorInfo | None]
    event: Callable[[str], StoredEvent | None]
    latest_seq: Callable[[list[str]], dict[str, int]]
    details: Callable[[int], dict[str, object]]
    # (operator, uis) -> those of uis the operator held before (``rules_custody``).
    held: Callable[[str, list[str]], set[str]]
    # uis -> the consignee their (latest) dispatch named, for those dispatched to no facility.
    consignees: Callable[[list[str]], dict[str, str | None]]


@dataclass
class Containment:
    """A child entering (``opened``) or leaving (``closed``) a parent, by the event at index."""

    child: str
    parent: str
    event_index: int


@dataclass
class StateView:
    loaders: Loaders
    states: dict[str, UiState | None] = field(default_factory=dict)
    issuances: dict[str, Issuance | None] = field(default_factory=dict)
    kids: dict[str, list[str]] = field(default_factory=dict)
    changed: dict[str, UiState] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    opened: list[Containment] = field(default_factory=list)
    closed: list[Containment] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)
    touched: dict[str, int] = field(default_factory=dict)
    current_index: int = 0
    reverted_from: set[int] = field(default_factory=set)
    reopened: set[int] = field(default_factory=set)
    _facilities: dict[str, FacilityInfo | None] = field(default_factory=dict)
    _operators: dict[str, OperatorInfo | None] = field(default_factory=dict)
    _consignees: dict[str, str | None] = field(default_factory=dict)
    _held: dict[tuple[str, str], bool] = field(default_factory=dict)

    def prefetch(self, uis: Iterable[str]) -> None:
        wanted = [u for u in dict.fromkeys(uis) if u not in self.states]
        for start in range(0, len(wanted), 20_000):
            chunk = wanted[start : start + 20_000]
            found = self.loaders.states(chunk)
            issued = self.loaders.issuances([u for u in chunk if u not in found])
            for ui in chunk:
                self.states[ui] = found.get(ui)
                if ui not in found:
                    self.issuances[ui] = issued.get(ui)

    def state(self, ui: str) -> UiState | None:
        if ui not in self.states:
            self.prefetch([ui])
        return self.states[ui]

    def issuance(self, code: str) -> Issuance | None:
        if code not in self.issuances:
            self.issuances[code] = self.loaders.issuances([code]).get(code)
        return self.issuances[code]

    def children(self, parent: str) -> list[str]:
        if parent not in self.kids:
            # A container unknown to the store, or made by this report, has no stored children.
            state = self.state(parent)
            stored = state is not None and parent not in self.created
            self.kids[parent] = list(self.loaders.children(parent)) if stored else []
        return self.kids[parent]

    def top(self, ui: str) -> UiState | None:
        """The outermost container holding ``ui`` (``ui`` itself when not contained)."""
        state = self.state(ui)
        seen = {ui}
        while state is not None and state.parent is not None and state.parent not in seen:
            seen.add(state.parent)
            state = self.state(state.parent)
        return state

    def ancestors(self, ui: str) -> list[str]:
        chain: list[str] = []
        state = self.state(ui)
        while state is not None and state.parent is not None and state.parent not in chain:
            chain.append(state.parent)
            state = self.state(state.parent)
        return chain

    def consignee(self, ui: str) -> str | None:
        """The consignee the dispatch of ``ui`` named (asked only of an item dispatched to
        no registered facility, e.g. an export)."""
        if ui not in self._consignees:
            self._consignees.update(self.loaders.consignees([ui]))
            self._consignees.setdefault(ui, None)
        return self._consignees[ui]

    def held_before(self, operator: str, uis: list[str]) -> set[str]:
        """Those of ``uis`` that ``operator`` held before (stored history, one batch)."""
        wanted = [ui for ui in uis if (operator, ui) not in self._held]
        if wanted:
            found = self.loaders.held(operator, wanted)
            self._held.update({(operator, ui): ui in found for ui in wanted})
        return {ui for ui in uis if self._held[(operator, ui)]}

    def facility(self, facility_id: str) -> FacilityInfo | None:
        if facility_id not in self._facilities:
            self._facilities[facility_id] = self.loaders.facility(facility_id)
        return self._facilities[facility_id]

    def operator(self, operator_id: str) -> OperatorInfo | None:
        if operator_id not in self._operators:
            self._operators[operator_id] = self.loaders.operator(operator_id)
        return self._operators[operator_id]

    def put(self, state: UiState, *, new: bool = False) -> None:
        self.states[state.ui] = state
        self.changed[state.ui] = state
        self.touched[state.ui] = self.current_index
        self.removed.discard(state.ui)
        if new:
            self.created[state.ui] = self.current_index

    def update(self, ui: str, **changes: object) -> None:
        current = self.state(ui)
        assert current is not None, f"update of unknown UI {ui}"
        self.put(current._replace(**changes))  # type: ignore[arg-type]

    def put_new(self, states: list[UiState]) -> None:
        """``put(state, new=True)`` for each of ``states`` (an application's packs), with one
        dictionary update each instead of a method call per pack."""
        by_ui = {state.ui: state for state in states}
        self.states.update(by_ui)
        self.changed.update(by_ui)
        index = dict.fromkeys(by_ui, self.current_index)
        self.touched.update(index)
        self.created.update(index)
        if self.removed:  # only after a recall earlier in the report
            self.removed.difference_update(by_ui)

    def put_all_inside(self, uis: Iterable[str], parent: str, index: int) -> None:
        """Each of ``uis`` (top-level items known to the view) goes into ``parent`` by the
        event at ``index``: the hot path of aggregation, one pass for a whole event."""
        states, changed, touched = self.states, self.changed, self.touched
        current = self.current_index
        for ui in uis:
            s = states[ui]
            assert s is not None, f"aggregation of unknown UI {ui}"
            states[ui] = changed[ui] = UiState._make((*s[:3], parent, *s[4:]))
            touched[ui] = current
        if self.removed:
            self.removed.difference_update(uis)
        self.opened.extend([Containment(ui, parent, index) for ui in uis])
