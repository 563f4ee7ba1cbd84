"""The native JSON form of the EU message set, validated field by field.

A native report is one message object, a list of them, or ``{"messages": [...]}``. Every
message carries its type, a unique message code (the event id), the originating operator
and the event time with a UTC offset. Unknown fields are refused rather than ignored, so a
misspelt field never silently drops data.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from itptrace.capture.model import (
    TRANSACTION_KINDS,
    DestinationKind,
    MessageType,
    Problem,
    TraceEvent,
    Transaction,
)

Code = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Destination(_Strict):
    kind: DestinationKind = DestinationKind.DOMESTIC
    facility: Code | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] | None = None
    consignee: Code | None = None
    consignee_name: Annotated[str, Field(max_length=200)] | None = None
    route: Annotated[str, Field(max_length=500)] | None = None


class NativeTransaction(_Strict):
    number: Code
    amount: Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=4)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    seller: Code
    buyer: Code


class NativeMessage(_Strict):
    message_type: MessageType
    message_code: Code
    originator: Code
    event_time: datetime
    facility: Code | None = None
    uis: Annotated[list[Code], Field(max_length=1_000_000)] = []
    parent: Code | None = None
    machine: Code | None = None
    production_stamp: Annotated[str, Field(pattern=r"^\d{8}$")] | None = None
    destination: Destination | None = None
    vehicle: Annotated[str, Field(max_length=100)] | None = None
    transaction: NativeTransaction | None = None
    reason: Annotated[str, Field(max_length=200)] | None = None
    recalled_message_code: Code | None = None

    @field_validator("event_time")
    @classmethod
    def _with_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event_time needs a UTC offset, e.g. 2026-01-05T08:00:00Z")
        # EU rule: UTC time stamps to the second.
        return value.astimezone(UTC).replace(microsecond=0)

    def to_event(self) -> TraceEvent:
        destination = self.destination
        transaction = None
        if self.transaction is not None and self.message_type in TRANSACTION_KINDS:
            t = self.transaction
            transaction = Transaction(
                TRANSACTION_KINDS[self.message_type],
                t.number,
                t.amount,
                t.currency,
                t.seller,
                t.buyer,
            )
        return TraceEvent(
            event_id=self.message_code,
            message_type=self.message_type,
            originator_id=self.originator,
            event_time=self.event_time,
            facility_id=self.facility,
            uis=tuple(self.uis),
            parent=self.parent,
            machine_id=self.machine,
            production_stamp=self.production_stamp,
            destination_facility_id=destination.facility if destination else None,
            destination_kind=destination.kind if destination else None,
            destination_country=destination.country if destination else None,
            consignee_id=destination.consignee if destination else None,
            consignee_name=destination.consignee_name if destination else None,
            route=destination.route if destination else None,
            vehicle=self.vehicle,
            transaction=transaction,
            reason=self.reason,
            recalled_event_id=self.recalled_message_code,
            source="native",
        )


def _messages(document: Any) -> list[Any]:
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "messages" in document:
        messages = document["messages"]
        return messages if isinstance(messages, list) else [messages]
    return [document]


def parse_native(document: Any) -> tuple[list[TraceEvent], list[Problem]]:
    """Every message of a native report as events, and a problem for each malformed one."""
    events: list[TraceEvent] = []
    problems: list[Problem] = []
    for index, raw in enumerate(_messages(document)):
        code = raw.get("message_code") if isinstance(raw, dict) else None
        try:
            events.append(NativeMessage.model_validate(raw).to_event())
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "message"
                problems.append(
                    Problem(
                        "malformed",
                        f"message {index} field '{where}': {error['msg']}",
                        subject=where,
                        event_id=str(code) if code else None,
                    )
                )
    return events, problems


def message_to_json(event: TraceEvent) -> dict[str, Any]:
    """The native JSON form of a stored event (the inverse of ``parse_native``)."""
    out: dict[str, Any] = {
        "message_type": event.message_type.value,
        "message_code": event.event_id,
        "originator": event.originator_id,
        "event_time": _time_text(event.event_time),
    }
    # The optional fields in this order, each only when set (one of these per event of a
    # capture, so plain tests rather than a dictionary filtered afterwards).
    for key, value in (
        ("facility", event.facility_id),
        ("parent", event.parent),
        ("machine", event.machine_id),
        ("production_stamp", event.production_stamp),
        ("vehicle", event.vehicle),
        ("reason", event.reason),
        ("recalled_message_code", event.recalled_event_id),
    ):
        if value is not None:
            out[key] = value
    if event.uis:
        out["uis"] = list(event.uis)
    if event.destination_kind is not None:
        destination = {
            "kind": event.destination_kind.value,
            "facility": event.destination_facility_id,
            "country": event.destination_country,
            "consignee": event.consignee_id,
            "consignee_name": event.consignee_name,
            "route": event.route,
        }
        out["destination"] = {k: v for k, v in destination.items() if v is not None}
    if event.transaction is not None:
        t = event.transaction
        out["transaction"] = {
            "number": t.number,
            "amount": str(t.amount),
            "currency": t.currency,
            "seller": t.seller_id,
            "buyer": t.buyer_id,
        }
    return out


def _time_text(value: datetime) -> str:
    """``value`` in ISO 8601 with ``Z`` for UTC, as a native message writes it."""
    if value.tzinfo is UTC:
        return _utc_time_text(value)
    return value.isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=1024)
def _utc_time_text(value: datetime) -> str:
    # The events of one report mostly share their time. Equal UTC datetimes have equal
    # fields, hence equal text (not so for other zones: 08:00Z equals 11:00+03:00).
    return value.isoformat().replace("+00:00", "Z")
