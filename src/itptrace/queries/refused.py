"""The refused reports, stored with their reasons (never silently dropped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itptrace.access import Actor, Role, require
from itptrace.capture.store import aware
from itptrace.context import Context
from itptrace.errors import Forbidden
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
    require(actor, "refused.read")
    if actor.role is Role.OPERATOR:
        if originator not in (None, actor.operator_id):
            raise Forbidden(f"{actor.name} may list only its own refused reports")
        originator = actor.operator_id
    with ctx.db.transaction() as conn:
        rows = store.refused(conn, originator, min(max(limit, 1), 1000), after)
    return [
        Refusal(
            int(r.id),
            aware(r.received_at),
            r.originator_id,
            r.event_id,
            r.message_type,
            json.loads(r.problems),
            json.loads(r.payload),
        )
        for r in rows
    ]
