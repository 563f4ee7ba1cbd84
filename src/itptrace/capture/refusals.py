"""A refused event as it is stored: bounded, whatever the reporter sent.

A stored refusal keeps its first problems (then one ``more_problems`` item with the total)
and its message whole up to a size, else a summary of it: a hostile report of a million
bad items costs the append-only tables a few kilobytes, not its size times its problems.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from itptrace.capture.model import Problem

TEXT_KEPT = 500  # characters of a stored problem's message or subject
ITEMS_KEPT = 20  # items of each list a payload summary shows


def problems_json(problems: list[Problem], kept: int) -> str:
    listed = [
        {k: v[:TEXT_KEPT] if isinstance(v, str) else v for k, v in p.stored().items()}
        for p in problems[:kept]
    ]
    if len(problems) > kept:
        more = len(problems) - kept
        listed.append(
            {
                "code": "more_problems",
                "message": f"and {more} more problems ({len(problems)} in all)",
                "event_id": problems[0].event_id,
                "subject": None,
                "flag_only": False,
            }
        )
    return json.dumps(listed)


def payload_json(body: dict[str, Any], limit: int) -> str:
    """The message as sent, or, past ``limit`` bytes, a summary: its short fields, the
    size and first items of each list, and the digest of the whole."""
    whole = json.dumps(body, default=str)
    if len(whole) <= limit:
        return whole
    summary: dict[str, Any] = {
        "summary": True,
        "bytes": len(whole),
        "sha256": hashlib.sha256(whole.encode()).hexdigest(),
    }
    for key, value in body.items():
        if isinstance(value, list):
            summary[key] = {"count": len(value), "first": value[:ITEMS_KEPT]}
        elif len(json.dumps(value, default=str)) <= TEXT_KEPT:
            summary[key] = value
    text = json.dumps(summary, default=str)
    return text if len(text) <= limit else json.dumps({k: summary[k] for k in list(summary)[:3]})
