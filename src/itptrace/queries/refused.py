"""The refused reports, stored with their reasons (never silently dropped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, Role
from itptrace.auth import audit
from itptrace.capture.store import aware
from itptrace.context import Context
from itptrace.queries import store

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass(frozen=True)
class Refusal:
    id: int
    received_at: datetime
    originator_id: str | None
    event_id: str | None
    message_type: str | None
    problems: list[dict[str, Any]]
    payload: dict[str, Any]


# A page of refusals holds at most this many bytes of stored reasons and payloads (beyond
# its first refusal, which it holds however large): each row is bounded, their number is
# ``limit``, and 1000 bounded rows still make tens of MB. The EPCIS query caps the same way.
MAX_PAGE_BYTES = 4 * 1024 * 1024
# Rows are read this many at a time, so a page cut short by bytes reads little beyond it.
_BATCH = 100
# What a row adds to its reasons and payload in the answer (ids, times, names, keys).
_ROW_OVERHEAD = 300


@dataclass(frozen=True)
class RefusedPage:
    """Refusals, oldest first, and the ``after`` of the next page (None: there is none)."""

    refusals: list[Refusal]
    next_after: int | None


def list_refused(
    ctx: Context, actor: Actor, *, originator: str | None = None, limit: int = 100, after: int = 0
) -> list[Refusal]:
    """Refusals, oldest first; an operator sees only its own (one page: :func:`refused_page`)."""
    return refused_page(ctx, actor, originator=originator, limit=limit, after=after).refusals


def refused_page(
    ctx: Context,
    actor: Actor,
    *,
    originator: str | None = None,
    limit: int = 100,
    after: int = 0,
    max_bytes: int = MAX_PAGE_BYTES,
) -> RefusedPage:
    """A page of refusals, oldest first, of at most ``limit`` rows and about ``max_bytes``
    (at least one row); an operator sees only its own."""
    if actor.role is Role.OPERATOR:
        originator = originator or actor.operator_id
    limit = min(max(limit, 1), 1000)
    with audit.reading(
        ctx,
        actor,
        Permission.REFUSED_READ,
        operator_id=originator,
        details={"originator": originator},
    ) as read:
        rows, more = _rows(read.conn, originator, limit, after, max_bytes)
        read.count = len(rows)
    refusals = [
        Refusal(
            int(r.id),
            aware(r.received_at),
            r.originator_id,
            r.event_id,
            r.message_type,
            _problems(json.loads(r.problems), actor),
            json.loads(r.payload),
        )
        for r in rows
    ]
    return RefusedPage(refusals, refusals[-1].id if more and refusals else None)


def _rows(
    conn: Connection, originator: str | None, limit: int, after: int, max_bytes: int
) -> tuple[list[Any], bool]:
    """Up to ``limit`` rows after ``after`` within ``max_bytes``; and whether more may follow."""
    rows: list[Any] = []
    size = 0
    while len(rows) < limit:
        wanted = min(_BATCH, limit - len(rows))
        batch = store.refused(conn, originator, wanted, int(rows[-1].id) if rows else after)
        for row in batch:
            length = len(row.problems) + len(row.payload) + _ROW_OVERHEAD
            if rows and size + length > max_bytes:
                return rows, True  # the next page starts with this row
            rows.append(row)
            size += length
        if len(batch) < wanted:
            return rows, False
    return rows, True


def _problems(problems: list[dict[str, Any]], actor: Actor) -> list[dict[str, Any]]:
    """An operator reads its refusals as it was told them: without the reasons withheld
    from it (about goods outside its custody), which only the authorities read."""
    if actor.role is not Role.OPERATOR:
        return problems
    return [{k: v for k, v in p.items() if k != "withheld"} for p in problems]
