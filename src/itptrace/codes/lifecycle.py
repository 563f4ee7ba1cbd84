"""What happens to issued codes afterwards: status, cancellation, deactivation, export.

Nothing issued is ever rewritten: cancellation and deactivation are rows of their own, and
a code's status is derived from its issuance, its request's fate and the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection

from itptrace.access import Actor, Role, require_operator_or_issuer
from itptrace.codes import store
from itptrace.codes.keyset import public_keys_document
from itptrace.codes.model import (
    DeactivationReason,
    IssuerError,
    add_working_days,
)
from itptrace.context import Context
from itptrace.errors import Conflict, Forbidden, NotFound
from itptrace.gs1.element import CodePayload
from itptrace.ledger import service as ledger
from itptrace.registry.model import parse_enum


class CodeState(StrEnum):
    ISSUED = "issued"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    DEACTIVATED = "deactivated"


@dataclass(frozen=True)
class CodeRecord:
    """An issued code and the request it came from (Article 8.4.1 (a), (b), (c), (f), (g))."""

    code: str
    kind: str
    state: CodeState
    request_id: int
    operator_id: str
    facility_id: str
    machine_id: str | None
    gtin: str | None
    product_code: str | None
    intended_market: str | None
    route: str | None
    importer_id: str | None
    profile: str
    key_id: str | None
    requested_at: datetime
    expires_at: datetime
    deactivation_reason: str | None = None


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they are stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def lookup_code(ctx: Context, code: str) -> CodeRecord:
    """The issuance record and current state of a unit or aggregated UI."""
    with ctx.db.transaction() as conn:
        return lookup_code_on(conn, code, ctx.clock.now())


def lookup_code_on(conn: Connection, code: str, now: datetime) -> CodeRecord:
    """``lookup_code`` inside the caller's transaction (one query for a unit UI)."""
    found = store.find_code(conn, code)
    if found is None:
        raise NotFound(f"code {code} was never issued by this issuer", subject=code)
    kind, row = found
    expires_at = _aware(row.expires_at)
    state = CodeState.ISSUED
    if row.deactivated_ui is not None:
        state = CodeState.DEACTIVATED
    elif row.cancelled_request is not None:
        state = CodeState.CANCELLED
    elif expires_at <= now:
        state = CodeState.EXPIRED
    return CodeRecord(
        code,
        kind,
        state,
        row.id,
        row.operator_id,
        row.facility_id,
        row.machine_id,
        row.gtin,
        row.product_code,
        row.intended_market,
        row.route,
        row.importer_id,
        row.profile,
        row.key_id,
        _aware(row.requested_at),
        expires_at,
        row.deactivation_reason,
    )


def _request(ctx: Context, request_id: int) -> Any:
    with ctx.db.transaction() as conn:
        row = store.get_request(conn, request_id)
    if row is None:
        raise NotFound(f"unknown code request {request_id}", subject=str(request_id))
    return row


def request_codes(ctx: Context, actor: Actor, request_id: int) -> Iterator[CodePayload]:
    """The codes of one request, as printable payloads (only to the issuer or the requester)."""
    row = _request(ctx, request_id)
    require_operator_or_issuer(actor, row.operator_id, "reading issued codes")
    with ctx.db.transaction() as conn:
        for code in store.iter_request_codes(conn, row.kind, request_id):
            yield CodePayload(gtin=row.gtin, ui=code.code, key_id=row.key_id, tag=code.tag)


def cancel_request(ctx: Context, actor: Actor, request_id: int, reason: str) -> None:
    """Cancel a request within the configured window of working days after it was made."""
    row = _request(ctx, request_id)
    require_operator_or_issuer(actor, row.operator_id, "cancelling a code request")
    deadline = add_working_days(_aware(row.requested_at), ctx.settings.cancel_window_working_days)
    now = ctx.clock.now()
    if now > deadline:
        raise IssuerError(
            f"request {request_id} can no longer be cancelled: the window closed at "
            f"{deadline.isoformat()}",
            subject=str(request_id),
            code="cancel_window_closed",
        )
    with ctx.db.transaction() as conn:
        if store.get_cancellation(conn, request_id) is not None:
            raise Conflict(f"request {request_id} is already cancelled", subject=str(request_id))
        store.insert_cancellation(conn, request_id, actor.name, reason.strip() or "cancelled", now)
        ledger.record_cancellation(conn, request_id, now)


def deactivate_codes(
    ctx: Context, actor: Actor, codes: list[str], reason: str, detail: str = ""
) -> int:
    """Deactivate codes (EU message IDA) with a reason; all or none are recorded."""
    why = parse_enum(DeactivationReason, reason, "deactivation reason")
    if not codes:
        raise IssuerError("no codes to deactivate", code="empty_request")
    records = [lookup_code(ctx, code) for code in dict.fromkeys(codes)]
    issuer_acts = actor.role is Role.ISSUER_ADMIN and not actor.tobacco_industry
    for record in records:
        owner_acts = actor.role is Role.OPERATOR and actor.operator_id == record.operator_id
        if not (issuer_acts or owner_acts):
            raise Forbidden(
                f"{actor.name} may not deactivate code {record.code}", subject=record.code
            )
        if record.state is CodeState.DEACTIVATED:
            raise Conflict(f"code {record.code} is already deactivated", subject=record.code)
    now = ctx.clock.now()
    rows = [
        {
            "ui": r.code,
            "kind": r.kind,
            "reason": why.value,
            "detail": detail.strip()[:200],
            "deactivated_at": now,
            "deactivated_by": actor.name,
        }
        for r in records
    ]
    with ctx.db.transaction() as conn:
        store.insert_deactivations(conn, rows)
        ledger.record_deactivations(conn, [r.code for r in records], now)
    return len(rows)


def export_public_keys(ctx: Context) -> dict[str, Any]:
    """The public verification material: keys, key ids and the UI layout. No secrets."""
    return public_keys_document(ctx.settings, ctx.keys.keys(), ctx.clock.now())
