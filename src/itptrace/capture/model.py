"""The internal event model every report converges on, whatever format it came in.

Native EU-style messages (EUA, EPA, ...) and EPCIS 2.0 events are both turned into
``TraceEvent``; the rules, the repository and the queries only ever see this model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class MessageType(StrEnum):
    """The EU data-dictionary messages (Implementing Regulation 2018/574, Annex II)."""

    EUA = "EUA"
    EPA = "EPA"
    EUD = "EUD"
    EDP = "EDP"
    ERP = "ERP"
    ETL = "ETL"
    EVR = "EVR"
    EIV = "EIV"
    EPO = "EPO"
    EPR = "EPR"
    IDA = "IDA"
    RCL = "RCL"
    OTHER = "OTHER"


MESSAGE_NAMES: dict[str, str] = {
    MessageType.EUA: "application of unit-level UIs on unit packets",
    MessageType.EPA: "aggregation into a container",
    MessageType.EUD: "disaggregation of a container",
    MessageType.EDP: "dispatch",
    MessageType.ERP: "arrival",
    MessageType.ETL: "trans-loading",
    MessageType.EVR: "delivery to retail by vending van",
    MessageType.EIV: "invoice",
    MessageType.EPO: "purchase order",
    MessageType.EPR: "payment",
    MessageType.IDA: "deactivation",
    MessageType.RCL: "recall of an earlier message",
    MessageType.OTHER: "an EPCIS event no tobacco rule applies to",
}
"""What each message code means, in words a reader of a trace follows."""


class DestinationKind(StrEnum):
    DOMESTIC = "domestic"
    EXPORT = "export"
    DUTY_FREE = "duty_free"
    FREE_ZONE = "free_zone"
    TRANSIT = "transit"


TRANSACTION_KINDS = {
    MessageType.EIV: "invoice",
    MessageType.EPO: "order",
    MessageType.EPR: "payment",
}
MOVEMENTS = {MessageType.EDP, MessageType.ERP, MessageType.ETL, MessageType.EVR}


@dataclass(frozen=True)
class Transaction:
    """An invoice, order or payment (Article 8.4.1 (e))."""

    kind: str
    number: str
    amount: Decimal
    currency: str
    seller_id: str
    buyer_id: str


@dataclass(frozen=True)
class TraceEvent:
    """One reported event, in the repository's own terms.

    ``uis`` are the items the event is about (unit or aggregated UIs); ``parent`` is the
    container of an aggregation or disaggregation. ``details`` keeps what the sender gave
    beyond the modelled fields (e.g. the EPCIS original of an OTHER event).
    """

    event_id: str
    message_type: MessageType
    originator_id: str
    event_time: datetime
    facility_id: str | None = None
    uis: tuple[str, ...] = ()
    parent: str | None = None
    machine_id: str | None = None
    production_stamp: str | None = None
    destination_facility_id: str | None = None
    destination_kind: DestinationKind | None = None
    destination_country: str | None = None
    consignee_id: str | None = None
    consignee_name: str | None = None
    route: str | None = None
    vehicle: str | None = None
    transaction: Transaction | None = None
    reason: str | None = None
    recalled_event_id: str | None = None
    source: str = "native"
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Problem:
    """Why an event is refused (or flagged): a catalogued code, a message, the identifier.

    ``private``: the reason concerns an item outside the reporter's custody, so the reporter
    is told only ``NOT_IN_YOUR_CUSTODY`` (``shown``); the full reason is stored with the
    refusal for the authorities.
    """

    code: str
    message: str
    subject: str | None = None
    event_id: str | None = None
    flag_only: bool = False
    private: bool = False

    def shown(self) -> Problem:
        """The problem as the reporter sees it."""
        if not self.private:
            return self
        return Problem(
            NOT_IN_YOUR_CUSTODY,
            f"UI {self.subject} is not in your custody",
            self.subject,
            self.event_id,
            self.flag_only,
        )

    def stored(self) -> dict[str, object]:
        """The problem as a stored refusal keeps it: as shown, with the withheld reason."""
        shown = self.shown()
        row: dict[str, object] = {
            "code": shown.code,
            "message": shown.message,
            "subject": shown.subject,
            "event_id": shown.event_id,
            "flag_only": shown.flag_only,
        }
        if self.private:
            row["withheld"] = {"code": self.code, "message": self.message}
        return row


NOT_IN_YOUR_CUSTODY = "not_in_your_custody"


class CaptureError(Exception):
    """A report refused as a whole; ``problems`` lists every failing event and reason."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(p.message for p in problems[:5]))
        self.problems = problems
