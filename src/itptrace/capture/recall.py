"""Recall (RCL) of an earlier message: an error declaration that undoes its effect.

History is kept: the recalled event stays stored and is marked recalled. Its effect on the
current state is undone, which is only well defined while it is still the latest event of
every item it touched; otherwise the sender must recall the later events first.
"""

from __future__ import annotations

from typing import Any

from itptrace.capture.model import MessageType, Problem, TraceEvent
from itptrace.capture.rules import placement
from itptrace.capture.state import StateView, StoredEvent, UiState


def check_recall(
    event: TraceEvent, target: StoredEvent | None, latest: dict[str, int]
) -> list[Problem]:
    def problem(code: str, message: str) -> list[Problem]:
        return [Problem(code, message, event.recalled_event_id, event.event_id)]

    if event.recalled_event_id is None:
        return problem("missing_field", "a recall names the message it recalls")
    if target is None:
        return problem("unknown_event", f"no stored message {event.recalled_event_id} to recall")
    if target.originator_id != event.originator_id:
        return problem("recall_not_own", "only the sender of a message may recall it")
    if target.recalled:
        return problem("already_recalled", f"message {event.recalled_event_id} is already recalled")
    later = sorted(ui for ui in target.uis if latest.get(ui, target.seq) > target.seq)
    if later:
        return problem("recall_superseded", f"later messages concern {later[0]}: recall them first")
    return []


def undo(message_type: str, target: StoredEvent, details: dict[str, Any], view: StateView) -> None:
    """Apply the inverse of a stored event to the view."""
    kind = MessageType(message_type)
    items = [ui for ui in target.uis if ui != details.get("parent")]
    if kind is MessageType.EUA:
        for ui in items:
            view.states[ui] = None
            view.removed.add(ui)
    elif kind is MessageType.EPA:
        parent = details["parent"]
        view.prefetch([*items, parent])
        for child in items:
            view.update(child, parent=None, **placement(view, parent))
        view.reverted_from.add(target.seq)
        state = view.state(parent)
        if state is not None and state.created_seq == target.seq:
            view.states[parent] = None
            view.removed.add(parent)
    elif kind is MessageType.EUD:
        # "Disaggregate all" lists no children in the message: the stored details do.
        items = list(details.get("children") or items)
        view.prefetch(items)
        for child in items:
            view.update(child, parent=details["parent"])
        view.reopened.add(target.seq)
    for ui, before in details.get("before", {}).items():
        view.prefetch([ui])
        view.put(UiState(**before))
