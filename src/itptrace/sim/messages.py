"""Builders of well-formed tobacco messages, for the demo, tests, simulation and benches."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from itptrace.capture.model import DestinationKind, MessageType, TraceEvent, Transaction


@dataclass
class Messages:
    """Makes messages for one originator at a time, numbering message codes uniquely."""

    prefix: str = "MSG"
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def _code(self) -> str:
        return f"{self.prefix}-{next(self.counter):08d}"

    def apply(
        self, originator: str, facility: str, machine: str, uis: list[str], at: datetime
    ) -> TraceEvent:
        return TraceEvent(
            self._code(),
            MessageType.EUA,
            originator,
            at,
            facility,
            tuple(uis),
            machine_id=machine,
            production_stamp=at.strftime("%y%m%d%H"),
        )

    def aggregate(
        self, originator: str, facility: str, parent: str, children: list[str], at: datetime
    ) -> TraceEvent:
        return TraceEvent(
            self._code(), MessageType.EPA, originator, at, facility, tuple(children), parent=parent
        )

    def disaggregate(
        self, originator: str, facility: str, parent: str, children: list[str], at: datetime
    ) -> TraceEvent:
        return TraceEvent(
            self._code(), MessageType.EUD, originator, at, facility, tuple(children), parent=parent
        )

    def dispatch(
        self,
        originator: str,
        facility: str,
        uis: list[str],
        at: datetime,
        *,
        to: str | None = None,
        kind: DestinationKind = DestinationKind.DOMESTIC,
        country: str | None = None,
        consignee: str | None = None,
        consignee_name: str | None = None,
        route: str | None = None,
    ) -> TraceEvent:
        return TraceEvent(
            self._code(),
            MessageType.EDP,
            originator,
            at,
            facility,
            tuple(uis),
            destination_facility_id=to,
            destination_kind=kind,
            destination_country=country,
            consignee_id=consignee,
            consignee_name=consignee_name,
            route=route,
        )

    def arrive(self, originator: str, facility: str, uis: list[str], at: datetime) -> TraceEvent:
        return TraceEvent(self._code(), MessageType.ERP, originator, at, facility, tuple(uis))

    def transload(self, originator: str, uis: list[str], at: datetime, vehicle: str) -> TraceEvent:
        return TraceEvent(
            self._code(), MessageType.ETL, originator, at, None, tuple(uis), vehicle=vehicle
        )

    def retail(
        self, originator: str, facility: str, outlet: str, uis: list[str], at: datetime
    ) -> TraceEvent:
        return TraceEvent(
            self._code(),
            MessageType.EVR,
            originator,
            at,
            facility,
            tuple(uis),
            destination_facility_id=outlet,
        )

    def transaction(
        self,
        kind: MessageType,
        originator: str,
        uis: list[str],
        at: datetime,
        *,
        number: str,
        amount: str,
        currency: str,
        seller: str,
        buyer: str,
    ) -> TraceEvent:
        deal = Transaction(
            {MessageType.EIV: "invoice", MessageType.EPO: "order", MessageType.EPR: "payment"}[
                kind
            ],
            number,
            Decimal(amount),
            currency,
            seller,
            buyer,
        )
        return TraceEvent(self._code(), kind, originator, at, None, tuple(uis), transaction=deal)

    def deactivate(self, originator: str, uis: list[str], at: datetime, reason: str) -> TraceEvent:
        return TraceEvent(
            self._code(), MessageType.IDA, originator, at, None, tuple(uis), reason=reason
        )

    def recall(self, originator: str, recalled: str, at: datetime) -> TraceEvent:
        return TraceEvent(
            self._code(),
            MessageType.RCL,
            originator,
            at,
            recalled_event_id=recalled,
            reason="sent in error",
        )


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
