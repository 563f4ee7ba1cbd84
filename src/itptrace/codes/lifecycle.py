"""What happens to issued codes afterwards: status, cancellation, deactivation, export.

Nothing issued is ever rewritten: cancellation and deactivation are rows of their own, and
a code's status is derived from its issuance, its request's fate and the clock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, allowed, authorize
from itptrace.auth import audit
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

if TYPE_CHECKING:
    from sqlalchemy import Connection

PAGE = 10_000  # codes per page unless asked otherwise
MAX_PAGE = 100_000


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
    with ctx.db.reading() as conn:
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


@dataclass(frozen=True)
class CodeRequest:
    """A code request as stored, with how many of its codes are in each state now."""

    request_id: int
    kind: str
    quantity: int
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
    cancelled_at: datetime | None
    counts: dict[CodeState, int]


def state_counts(
    quantity: int, deactivated: int, *, cancelled: bool, expired: bool
) -> dict[CodeState, int]:
    """How many codes of a request are in each state, as ``lookup_code`` would say of each:
    deactivated first, then the request's cancellation, then its expiry."""
    rest = quantity - deactivated
    counts = dict.fromkeys(CodeState, 0)
    counts[CodeState.DEACTIVATED] = deactivated
    if cancelled:
        counts[CodeState.CANCELLED] = rest
    elif expired:
        counts[CodeState.EXPIRED] = rest
    else:
        counts[CodeState.ISSUED] = rest
    return counts


def get_request(ctx: Context, actor: Actor, request_id: int) -> CodeRequest:
    """A code request and its counts by state, in one read whatever its size (only to the
    issuer or the requester)."""
    # One read; a refusal is recorded (a request's metadata is not a pack-level read).
    with audit.reading(ctx, actor, Permission.ISSUER_REQUEST, subject=str(request_id)) as read:
        row = store.get_request_with_counts(read.conn, request_id)
        if row is None:
            raise NotFound(f"unknown code request {request_id}", subject=str(request_id))
        if not allowed(actor, Permission.ISSUER_REQUEST, row.operator_id):
            raise Forbidden(
                f"{actor.name} may not read code request {request_id}", subject=str(request_id)
            )
    expires_at = _aware(row.expires_at)
    cancelled_at = None if row.cancelled_at is None else _aware(row.cancelled_at)
    counts = state_counts(
        row.quantity,
        row.deactivated,
        cancelled=cancelled_at is not None,
        expired=expires_at <= ctx.clock.now(),
    )
    return CodeRequest(
        row.id,
        row.kind,
        row.quantity,
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
        cancelled_at,
        counts,
    )


def _request(ctx: Context, request_id: int) -> Any:
    with ctx.db.reading() as conn:
        row = store.get_request(conn, request_id)
    if row is None:
        raise NotFound(f"unknown code request {request_id}", subject=str(request_id))
    return row


@dataclass(frozen=True)
class CodePage:
    """Codes of a request in code order; ``next_after`` is the last of them when more
    follow (the ``after`` of the next page), None on the last page."""

    request_id: int
    codes: list[CodePayload]
    next_after: str | None


def code_page(
    ctx: Context, actor: Actor, request_id: int, *, after: str | None = None, limit: int = PAGE
) -> CodePage:
    """At most ``limit`` printable codes of a request, in code order, after the code ``after``
    (from the first when None); only to the issuer or the requester. Read by key: a page deep
    into a large request costs what the first page does."""
    if not 1 <= limit <= MAX_PAGE:
        raise IssuerError(
            f"limit must be between 1 and {MAX_PAGE}, got {limit}",
            subject="limit",
            code="bad_limit",
        )
    row = _request(ctx, request_id)
    shown = {"after": after, "limit": limit}
    with audit.reading(
        ctx,
        actor,
        Permission.ISSUER_CODES,
        subject=str(request_id),
        operator_id=row.operator_id,
        details=shown,
    ) as read:
        found = store.request_codes_after(read.conn, row.kind, request_id, after, limit + 1)
        read.count = min(len(found), limit)
    codes = [
        CodePayload(gtin=row.gtin, ui=c.code, key_id=row.key_id, tag=c.tag) for c in found[:limit]
    ]
    return CodePage(request_id, codes, codes[-1].ui if len(found) > limit else None)


def request_codes(ctx: Context, actor: Actor, request_id: int) -> Iterator[CodePayload]:
    """Every code of one request in code order, as printable payloads (only to the issuer or
    the requester), read a page at a time: no transaction stays open between pages."""
    after: str | None = None
    while True:
        page = code_page(ctx, actor, request_id, after=after)
        yield from page.codes
        if page.next_after is None:
            return
        after = page.next_after


def cancel_request(ctx: Context, actor: Actor, request_id: int, reason: str) -> None:
    """Cancel a request within the configured window of working days after it was made."""
    row = _request(ctx, request_id)
    authorize(actor, Permission.ISSUER_CANCEL, operator_id=row.operator_id)
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
    authorize(actor, Permission.ISSUER_DEACTIVATE)
    for record in records:
        if not allowed(actor, Permission.ISSUER_DEACTIVATE, record.operator_id):
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
        store.add_deactivated(conn, Counter(r.request_id for r in records))
        ledger.record_deactivations(conn, [r.code for r in records], now)
    return len(rows)


def export_public_keys(ctx: Context) -> dict[str, Any]:
    """The public verification material: keys, key ids and the UI layout. No secrets."""
    return public_keys_document(ctx.settings, ctx.keys.keys(), ctx.clock.now())
