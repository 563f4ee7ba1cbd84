"""EPCIS 2.0 events as values: the normalised event, its parts and a parsed document.

Normalisation: times are aware UTC datetimes (the sender's offset is kept in
``event_time_zone_offset``); CBV values are their short names, other values full URIs;
extension field names are full IRIs. EPC identifiers are kept as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

DocumentKind = Literal["capture", "query", "event"]


@dataclass(frozen=True)
class Quantity:
    """A quantity element; ``role`` is "input" or "output" in a TransformationEvent.

    ``quantity`` is ``None`` when the sender gave none (EPCIS allows that).
    """

    epc_class: str
    quantity: Decimal | None
    uom: str | None = None
    role: str | None = None


@dataclass(frozen=True)
class ErrorDeclaration:
    """A later declaration that an event was in error (``reason``: CBV short name or URI)."""

    declaration_time: datetime
    reason: str | None = None
    corrective_event_ids: tuple[str, ...] = ()
    extensions: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PersistentDisposition:
    """Dispositions an event sets and unsets (CBV short names or URIs)."""

    set: tuple[str, ...] = ()
    unset: tuple[str, ...] = ()


@dataclass(frozen=True)
class EpcisEvent:
    """One EPCIS 2.0 event, normalised; see the module docstring.

    ``raw`` (the JSON object as received, or as serialised by
    :func:`make_event`) and ``namespaces`` (the prefixes in force) take no
    part in equality: two events are equal when they say the same thing.
    """

    type: str
    event_time: datetime
    event_time_zone_offset: str
    record_time: datetime | None
    event_id: str | None
    hash_id: str
    action: str | None
    biz_step: str | None
    disposition: str | None
    epc_list: tuple[str, ...]
    parent_id: str | None
    child_epcs: tuple[str, ...]
    input_epcs: tuple[str, ...]
    output_epcs: tuple[str, ...]
    quantities: tuple[Quantity, ...]
    read_point: str | None
    biz_location: str | None
    biz_transactions: tuple[tuple[str | None, str], ...]
    sources: tuple[tuple[str, str], ...]
    destinations: tuple[tuple[str, str], ...]
    ilmd: Mapping[str, Any] | None
    extensions: Mapping[str, Any]
    error_declaration: ErrorDeclaration | None
    raw: Mapping[str, Any] = field(compare=False, repr=False)
    transformation_id: str | None = None
    persistent_disposition: PersistentDisposition | None = None
    certification_info: tuple[Any, ...] = ()
    sensor_elements: tuple[Mapping[str, Any], ...] = ()
    read_point_extensions: Mapping[str, Any] = field(default_factory=dict)
    biz_location_extensions: Mapping[str, Any] = field(default_factory=dict)
    namespaces: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class EpcisDocument:
    """A parsed document: its prefix map, events and header fields."""

    context: dict[str, str]
    events: tuple[EpcisEvent, ...]
    kind: DocumentKind
    schema_version: str | None = None
    creation_date: datetime | None = None
    sender: str | None = None
    receiver: str | None = None
    query_name: str | None = None
