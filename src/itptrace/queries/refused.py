"""The refused reports, stored with their reasons (never silently dropped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itptrace.access import Actor, Permission, Role
from itptrace.auth import audit
from itptrace.capture.store import aware
from itptrace.context import Context
from itptrace.queries import store


@dataclass(frozen=True)
class Refusal:
    id: int
    received_at: datetime
    originator_id: str | None
    event_id: str | None
    message_type: str | None
    problems: list[dict[str, Any]]
    payload: dict[str, Any]


def list_refused(
    ctx: Context, actor: Actor, *, originator: str | None = None, limit: int = 100, after: int = 0
) -> list[Refusal]:
    """Refusals, oldest first; an operator sees only its own."""
    if actor.role is Role.OPERATOR:
        originator = originator or actor.operator_id
    with audit.reading(
        ctx,
        actor,
        Permission.REFUSED_READ,
        operator_id=originator,
        details={"originator": originator},
    ) as read:
        rows = store.refused(read.conn, originator, min(max(limit, 1), 1000), after)
        read.count = len(rows)
    return [
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


def _problems(problems: list[dict[str, Any]], actor: Actor) -> list[dict[str, Any]]:
    """An operator reads its refusals as it was told them: without the reasons withheld
    from it (about goods outside its custody), which only the authorities read."""
    if actor.role is not Role.OPERATOR:
        return problems
    return [{k: v for k, v in p.items() if k != "withheld"} for p in problems]
