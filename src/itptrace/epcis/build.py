"""Events built in code: serialised, then parsed back, so a built event is exactly what
parsing its JSON-LD gives (and carries the same event hash)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from itptrace.epcis.model import EpcisEvent, ErrorDeclaration, PersistentDisposition, Quantity
from itptrace.epcis.parse import parse_event
from itptrace.epcis.serialize import event_to_jsonld, format_offset
from itptrace.epcis.vocab import ITP_NS, ITP_PREFIX


def make_event(
    type: str,
    *,
    event_time: datetime,
    action: str | None = None,
    event_time_zone_offset: str | None = None,
    record_time: datetime | None = None,
    event_id: str | None = None,
    biz_step: str | None = None,
    disposition: str | None = None,
    epc_list: Sequence[str] = (),
    parent_id: str | None = None,
    child_epcs: Sequence[str] = (),
    input_epcs: Sequence[str] = (),
    output_epcs: Sequence[str] = (),
    quantities: Sequence[Quantity] = (),
    read_point: str | None = None,
    biz_location: str | None = None,
    biz_transactions: Sequence[tuple[str | None, str]] = (),
    sources: Sequence[tuple[str, str]] = (),
    destinations: Sequence[tuple[str, str]] = (),
    ilmd: Mapping[str, Any] | None = None,
    error_declaration: ErrorDeclaration | None = None,
    transformation_id: str | None = None,
    persistent_disposition: PersistentDisposition | None = None,
    certification_info: Sequence[Any] = (),
    sensor_elements: Sequence[Mapping[str, Any]] = (),
    namespaces: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> EpcisEvent:
    """An event built in code, validated like a received one, with ``hash_id`` and ``raw``.

    Extension and ilmd names may be CURIEs (``itp:machine``; the ``itp`` prefix
    is :data:`ITP_NS`) or full IRIs.  ``event_time`` must be timezone-aware;
    ``event_time_zone_offset`` defaults to its offset.  Raises
    :class:`EpcisValidationError` when the result would not be valid EPCIS.
    """
    offset = event_time.utcoffset()
    if offset is None:
        raise ValueError("event_time must be timezone-aware")
    draft = EpcisEvent(
        type=type, event_time=event_time.astimezone(UTC),
        event_time_zone_offset=event_time_zone_offset or format_offset(offset),
        record_time=record_time, event_id=event_id, hash_id="", action=action,
        biz_step=biz_step, disposition=disposition, epc_list=tuple(epc_list),
        parent_id=parent_id, child_epcs=tuple(child_epcs), input_epcs=tuple(input_epcs),
        output_epcs=tuple(output_epcs), quantities=tuple(quantities), read_point=read_point,
        biz_location=biz_location, biz_transactions=tuple(biz_transactions),
        sources=tuple(sources), destinations=tuple(destinations), ilmd=ilmd,
        extensions=dict(extensions or {}), error_declaration=error_declaration, raw={},
        transformation_id=transformation_id, persistent_disposition=persistent_disposition,
        certification_info=tuple(certification_info), sensor_elements=tuple(sensor_elements),
        namespaces={ITP_PREFIX: ITP_NS, **(namespaces or {})},
    )  # fmt: skip
    obj, used = event_to_jsonld(draft)
    return parse_event(obj, used)
