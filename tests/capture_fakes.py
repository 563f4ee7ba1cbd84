"""What the capture rules read, held in dicts, and tiny builders of the messages they judge.

The rules see the repository only through ``capture.state.Loaders``: the batch readers of UI
states, issued codes, a container's children, facilities, operators and stored events. A
``FakeRepository`` answers those readers from dicts: the registry (operators, facilities;
machines and products as the issued codes name them), the issued codes, the current states
and the stored events. ``check`` runs a report through the capture's own per-event step
(``capture.service._check_one``: timing, originator, then the rule or the recall), event by
event against one ``StateView`` as a capture does, and answers all or nothing. ``send``
also keeps what an accepted report changed, as the writer would, so a test builds history
report by report. No database, no clock, no keys.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from itptrace.capture.model import (
    TRANSACTION_KINDS,
    DestinationKind,
    MessageType,
    Problem,
    TraceEvent,
    Transaction,
)
from itptrace.capture.native import message_to_json
from itptrace.capture.rules import Policy
from itptrace.capture.service import _check_one
from itptrace.capture.state import (
    FacilityInfo,
    Issuance,
    Loaders,
    OperatorInfo,
    StateView,
    StoredEvent,
    UiState,
)
from itptrace.gs1.checkdigit import gs1_check_digit

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # when the reports are received
AT = NOW - timedelta(minutes=10)  # when the reported events happened
GTIN = "06009876543219"
OTHER_GTIN = "06009876543226"

# The registry: a manufacturer with a plant (two lines) and a warehouse, an importer with a
# depot, a retailer with an outlet, a rival manufacturer, and what has been deactivated.
MAKER, IMPORTER, RETAILER, RIVAL, GONE = (
    "KET01EMAKER0",
    "KET01EIMPRT0",
    "KET01ERETAL0",
    "KET01ERIVAL0",
    "KET01EGONE00",
)
PLANT, WAREHOUSE, CLOSED = "KET01FPLANT0", "KET01FWAREH0", "KET01FCLOSD0"
DEPOT, OUTLET, SHUT_OUTLET = "KET01FDEPOT0", "KET01FOUTLT0", "KET01FSHUT00"
DEPOT2 = "KET01FDEPOT2"  # the importer's second depot
RIVAL_PLANT = "KET01FRIVAL0"
LINE, LINE2 = "KET01MLINE10", "KET01MLINE20"


def registry() -> tuple[dict[str, OperatorInfo], dict[str, FacilityInfo]]:
    operators = {
        op.id: op
        for op in (
            OperatorInfo(MAKER, ("manufacturer",), True),
            OperatorInfo(IMPORTER, ("importer", "distributor"), True),
            OperatorInfo(RETAILER, ("retailer",), True),
            OperatorInfo(RIVAL, ("manufacturer",), True),
            OperatorInfo(GONE, ("wholesaler",), False),
        )
    }
    facilities = {
        f.id: f
        for f in (
            FacilityInfo(PLANT, MAKER, "manufacturing", "KE", True),
            FacilityInfo(WAREHOUSE, MAKER, "warehouse", "KE", True),
            FacilityInfo(CLOSED, MAKER, "warehouse", "KE", False),
            FacilityInfo(DEPOT, IMPORTER, "warehouse", "KE", True),
            FacilityInfo(DEPOT2, IMPORTER, "warehouse", "KE", True),
            FacilityInfo(OUTLET, RETAILER, "retail_outlet", "KE", True),
            FacilityInfo(SHUT_OUTLET, RETAILER, "retail_outlet", "KE", False),
            FacilityInfo(RIVAL_PLANT, RIVAL, "manufacturing", "KE", True),
        )
    }
    return operators, facilities


_serials = itertools.count(1)


def sscc() -> str:
    """A fresh SSCC with a right check digit."""
    body = f"0614141{next(_serials):010d}"
    return body + gs1_check_digit(body)


@dataclass
class Report:
    """What a capture answers: accepted all together, or refused with every failing event."""

    events: list[TraceEvent] = field(repr=False)
    view: StateView = field(repr=False)
    checked: list[tuple[int, TraceEvent, dict[str, Any], list[str]]] = field(repr=False)
    refused: dict[str, list[Problem]]
    recalled: dict[int, tuple[TraceEvent, Any, dict[str, Any]]] = field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def accepted(self) -> list[str]:
        return [event.event_id for _i, event, _x, _f in self.checked] if self.ok else []

    @property
    def problems(self) -> list[Problem]:
        return [p for problems in self.refused.values() for p in problems]

    def codes(self, event: TraceEvent | None = None) -> list[str]:
        """The refusal codes of ``event`` (of the whole report when None), in order."""
        if event is not None:
            return [p.code for p in self.refused.get(event.event_id, [])]
        return [p.code for p in self.problems]

    def flags(self, event: TraceEvent) -> list[str]:
        return next((f for _i, e, _x, f in self.checked if e.event_id == event.event_id), [])


@dataclass(repr=False)
class FakeRepository:
    """The facts the rules ask for, in dicts; see the module docstring."""

    operators: dict[str, OperatorInfo] = field(default_factory=lambda: registry()[0])
    facilities: dict[str, FacilityInfo] = field(default_factory=lambda: registry()[1])
    issued: dict[str, Issuance] = field(default_factory=dict)
    states: dict[str, UiState] = field(default_factory=dict)
    events: dict[str, StoredEvent] = field(default_factory=dict)
    details: dict[int, dict[str, Any]] = field(default_factory=dict)
    latest: dict[str, int] = field(default_factory=dict)
    containers: dict[str, set[str]] = field(default_factory=dict)  # every parent ever
    flags_of: dict[int, list[str]] = field(default_factory=dict)
    seq: int = 0

    def __repr__(self) -> str:
        return f"FakeRepository({len(self.states)} states, {len(self.events)} events)"

    # -- the issuer --------------------------------------------------------------------

    def issue(
        self,
        count: int = 1,
        *,
        kind: str = "unit",
        operator: str = MAKER,
        facility: str = PLANT,
        machine: str | None = LINE,
        gtin: str | None = GTIN,
        expires_at: datetime = NOW + timedelta(days=180),
        cancelled: bool = False,
    ) -> list[str]:
        """``count`` codes of one request; like the store, they share one ``Issuance``."""
        if kind == "aggregate":
            machine = gtin = None
        issuance = Issuance(
            kind, operator, facility, machine, gtin, expires_at, cancelled, deactivated=False
        )
        tag = "u" if kind == "unit" else "a"
        codes = [f"KET01{tag}{next(_serials):09d}{facility[-4:]}" for _ in range(count)]
        self.issued.update(dict.fromkeys(codes, issuance))
        return codes

    def deactivate_code(self, code: str) -> None:
        """The issuer deactivated ``code`` (before it was applied)."""
        self.issued[code] = replace(self.issued[code], deactivated=True)

    # -- the loaders the rules read through --------------------------------------------

    def loaders(self) -> Loaders:
        return Loaders(
            states=lambda uis: {u: self.states[u] for u in uis if u in self.states},
            issuances=lambda codes: {c: self.issued[c] for c in codes if c in self.issued},
            children=self.children,
            facility=self.facilities.get,
            operator=self.operators.get,
            event=self.events.get,
            latest_seq=lambda uis: {u: self.latest[u] for u in uis if u in self.latest},
            details=lambda seq: json.loads(json.dumps(self.details[seq], default=str)),
            held=self.held_before,
            consignees=self.consignees,
        )

    def held_before(self, operator: str, uis: list[str]) -> set[str]:
        """As the store: an unrecalled custody event of ``operator`` names the UI or one of
        its containers (now or before)."""
        custody = {"EUA", "EPA", "EUD", "EDP", "ERP", "ETL", "EVR", "IDA"}
        shown = {
            ui
            for stored in self.events.values()
            if stored.originator_id == operator
            and not stored.recalled
            and self.details[stored.seq]["message_type"] in custody
            and "arrival_not_dispatched" not in self.flags_of.get(stored.seq, ())
            for ui in stored.uis
        }
        return {ui for ui in uis if ui in shown or self.containers.get(ui, set()) & shown}

    def consignees(self, uis: list[str]) -> dict[str, str | None]:
        """The consignee of the latest dispatch naming each of ``uis``."""
        found: dict[str, str | None] = {}
        for stored in sorted(self.events.values(), key=lambda e: e.seq):
            details = self.details[stored.seq]
            if details["message_type"] == "EDP":
                for ui in set(stored.uis) & set(uis):
                    found[ui] = (details.get("destination") or {}).get("consignee")
        return found

    def children(self, parent: str) -> list[str]:
        """The items that say they are inside ``parent`` now (as the store derives them)."""
        return sorted(ui for ui, s in self.states.items() if s.parent == parent)

    def view(self) -> StateView:
        return StateView(self.loaders())

    # -- capture -----------------------------------------------------------------------

    def check(
        self, *events: TraceEvent, received: datetime = NOW, policy: Policy | None = None
    ) -> Report:
        """Check a report as a capture does, without keeping anything."""
        view, policy = self.view(), policy or Policy()
        view.prefetch([ui for e in events for ui in (*e.uis, *([e.parent] if e.parent else []))])
        checked: list[tuple[int, TraceEvent, dict[str, Any], list[str]]] = []
        refused: dict[str, list[Problem]] = {}
        recalled: dict[int, tuple[TraceEvent, Any, dict[str, Any]]] = {}
        for index, event in enumerate(events):
            problems, extra = _check_one(event, index, view, received, policy, recalled)
            hard = [p for p in problems if not p.flag_only]
            if hard:
                refused[event.event_id] = hard
            else:
                checked.append((index, event, extra, [p.code for p in problems]))
        return Report(list(events), view, checked, refused, recalled)

    def send(self, *events: TraceEvent, received: datetime = NOW) -> Report:
        """Capture a report: keep its effects when it is accepted, nothing when refused."""
        report = self.check(*events, received=received)
        if report.ok:
            self._keep(report)
        return report

    def accept(self, *events: TraceEvent) -> Report:
        """Capture a report that must be accepted (a step of a test's history)."""
        report = self.send(*events)
        assert report.ok, report.problems
        return report

    def _keep(self, report: Report) -> None:
        """What the writer stores of an accepted report, as far as the rules read it back."""
        seq_of: dict[int, int] = {}
        for index, event, extra, flags in report.checked:
            self.seq += 1
            seq_of[index] = seq = self.seq
            self.flags_of[seq] = flags
            items = list(event.uis)
            if index in report.recalled:
                target = report.recalled[index][1]
                items = list(target.uis)  # a recall names the items of what it recalls
                self.events[target.event_id] = replace(target, recalled=True)
            named = (*items, *([event.parent] if event.parent else []))
            self.events[event.event_id] = StoredEvent(
                event.event_id, seq, event.originator_id, "", False, named
            )
            body = message_to_json(event)
            body.pop("uis", None)
            self.details[seq] = {**body, **extra}
            # A recalled event still names its items: it stays in their history.
            self.latest.update(dict.fromkeys(named, seq))
        view = report.view
        for ui, state in view.changed.items():
            if ui in view.removed:
                continue
            created = seq_of[view.created[ui]] if ui in view.created else state.created_seq
            self.states[ui] = state._replace(created_seq=created, last_seq=seq_of[view.touched[ui]])
        for ui in view.removed:
            self.states.pop(ui, None)
        for ui, state in self.states.items():
            if state.parent is not None:
                self.containers.setdefault(ui, set()).add(state.parent)
        for parents in self.containers.values():  # containers of containers, too
            todo = list(parents)
            while todo:
                for grand in self.containers.get(todo.pop(), set()) - parents:
                    parents.add(grand)
                    todo.append(grand)

    # -- history in one line: the usual steps, each accepted ------------------------------

    def packs(self, count: int = 3, **issue: Any) -> list[str]:
        """``count`` packs issued to and applied by the maker at its plant."""
        uis = self.issue(count, **issue)
        self.accept(application(uis))
        return uis

    def carton(self, children: list[str], *, by: str = MAKER, facility: str = PLANT) -> str:
        """A new aggregated UI of ``by`` holding ``children``."""
        (parent,) = self.issue(kind="aggregate", operator=by, facility=facility)
        self.accept(aggregation(parent, children, by=by, facility=facility))
        return parent

    def shipped(self, uis: list[str], *, to: str = DEPOT) -> None:
        """The maker dispatched ``uis`` from its plant to ``to``."""
        self.accept(dispatch(uis, to=to))

    def delivered(self, uis: list[str]) -> None:
        """The maker dispatched ``uis`` to the importer's depot and they arrived there."""
        self.shipped(uis)
        self.accept(arrival(uis))

    # -- reading back ------------------------------------------------------------------

    def where(self, ui: str) -> UiState:
        """The stored state of ``ui``, with place and holder of its outermost container."""
        state = self.states[ui]
        top, seen = state, {ui}
        while top.parent is not None and top.parent not in seen:
            seen.add(top.parent)
            top = self.states[top.parent]
        return state._replace(
            status=top.status, facility_id=top.facility_id, custodian_id=top.custodian_id
        )


# -- messages --------------------------------------------------------------------------

_message_codes = itertools.count(1)


def message(
    kind: MessageType,
    uis: list[str] | tuple[str, ...] = (),
    *,
    by: str = MAKER,
    facility: str | None = PLANT,
    when: datetime = AT,
    **fields: Any,
) -> TraceEvent:
    return TraceEvent(
        f"T-{next(_message_codes):06d}", kind, by, when, facility, tuple(uis), **fields
    )


def application(
    uis: list[str], *, machine: str | None = LINE, when: datetime = AT, **kw: Any
) -> TraceEvent:
    stamp = kw.pop("production_stamp", when.strftime("%y%m%d%H"))
    return message(
        MessageType.EUA, uis, when=when, machine_id=machine, production_stamp=stamp, **kw
    )


def aggregation(parent: str, children: list[str], **kw: Any) -> TraceEvent:
    return message(MessageType.EPA, children, parent=parent, **kw)


def disaggregation(
    parent: str, children: list[str] | tuple[str, ...] = (), **kw: Any
) -> TraceEvent:
    return message(MessageType.EUD, children, parent=parent, **kw)


def dispatch(
    uis: list[str], *, to: str | None = DEPOT, kind: DestinationKind | None = None, **kw: Any
) -> TraceEvent:
    return message(
        MessageType.EDP,
        uis,
        destination_facility_id=to,
        destination_kind=kind or DestinationKind.DOMESTIC,
        **kw,
    )


def export(
    uis: list[str],
    *,
    kind: DestinationKind = DestinationKind.EXPORT,
    to: str | None = None,
    country: str | None = "UG",
    consignee_name: str | None = "Kampala Traders",
    route: str | None = "Malaba",
    **kw: Any,
) -> TraceEvent:
    """A dispatch leaving the domestic market (export by default), complete unless told."""
    return dispatch(
        uis,
        to=to,
        kind=kind,
        destination_country=country,
        consignee_name=consignee_name,
        route=route,
        **kw,
    )


def arrival(uis: list[str], *, by: str = IMPORTER, facility: str = DEPOT, **kw: Any) -> TraceEvent:
    return message(MessageType.ERP, uis, by=by, facility=facility, **kw)


def transloading(uis: list[str], *, by: str = MAKER, **kw: Any) -> TraceEvent:
    return message(MessageType.ETL, uis, by=by, facility=None, vehicle="KBX 123A", **kw)


def retail_delivery(
    uis: list[str], *, by: str = IMPORTER, facility: str = DEPOT, outlet: str | None = OUTLET
) -> TraceEvent:
    return message(MessageType.EVR, uis, by=by, facility=facility, destination_facility_id=outlet)


def transaction(
    uis: list[str],
    *,
    kind: MessageType = MessageType.EIV,
    by: str = MAKER,
    seller: str = MAKER,
    buyer: str = IMPORTER,
    currency: str = "KES",
) -> TraceEvent:
    deal = Transaction(
        TRANSACTION_KINDS[kind], f"{kind}-1", Decimal("1200.50"), currency, seller, buyer
    )
    return message(kind, uis, by=by, facility=None, transaction=deal)


def deactivation(
    uis: list[str], *, reason: str | None = "destroyed", by: str = MAKER
) -> TraceEvent:
    return message(MessageType.IDA, uis, by=by, facility=None, reason=reason)


def recall(recalled: TraceEvent | str | None, *, by: str = MAKER) -> TraceEvent:
    target = recalled.event_id if isinstance(recalled, TraceEvent) else recalled
    return message(
        MessageType.RCL, by=by, facility=None, recalled_event_id=target, reason="sent in error"
    )
