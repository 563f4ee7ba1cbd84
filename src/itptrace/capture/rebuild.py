"""``ledger fsck --deep``: rebuild the current state from the ledgered events and compare.

The current state (``ui_state``: where each UI is, its status, custodian and container;
``containment``: its closed stays) is a projection of the accepted events, written beside
them and outside the ledger. Someone who edits it directly (a never-applied code given a
state so that it verifies AUTHENTIC, a pallet moved to another custodian) leaves every
leaf intact. The deep check replays, in ledger order, every event that has a leaf through
the same rules and writer as capture, into a scratch SQLite database, and reports every
row of ``ui_state`` and every stay that differs between the two.

The replay reads the issuer's records and the registry from the node, as they were when
the event was accepted where that is known: a code deactivated or a request cancelled
after the event's leaf is taken as not yet deactivated or cancelled; facilities and
operators are taken as active (they were checked when the event was accepted, and their
history is not kept). An event the rules refuse on replay is
reported too; it means the state was built by other rules than the node's current ones or
from records that changed since.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, authorize
from itptrace.capture import store
from itptrace.capture.native import NativeMessage, message_to_json
from itptrace.capture.rules import Policy
from itptrace.capture.service import _check_one, fingerprint
from itptrace.capture.state import Issuance, Loaders, StateView
from itptrace.capture.writer import Checked, write_accepted
from itptrace.context import Context
from itptrace.repository import rebuild as sql
from itptrace.repository.db import aware

if TYPE_CHECKING:
    from sqlalchemy import Connection

CHUNK = 500
NATIVE_FIELDS = frozenset(NativeMessage.model_fields)


@dataclass
class Rebuilt:
    """The outcome of a deep check: events replayed, rows compared, every difference."""

    events_replayed: int = 0
    states_compared: int = 0
    stays_compared: int = 0
    differences: list[str] = field(default_factory=list)


def rebuild(ctx: Context, actor: Actor) -> Rebuilt:
    """Replay the ledgered events and compare the state they give with the stored one."""
    authorize(actor, Permission.LEDGER_CHECK)
    result = Rebuilt()
    with (
        tempfile.TemporaryDirectory(prefix="itptrace-rebuild-") as directory,
        ctx.db.reading() as real,
        sql.scratch(Path(directory)) as copy,
    ):
        for leaf, batch in _reports(real):
            _replay(real, copy, leaf, batch, result)
        _compare_states(real, copy, result)
        _compare_stays(real, copy, result)
    return result


def _reports(real: Connection) -> Iterator[tuple[int, list[Any]]]:
    """The ledgered events in leaf order, in runs recorded together with consecutive seqs
    (one report each, or several reports of the same second, which replay alike)."""
    leaf_of = sql.event_leaves(real)
    seqs = list(leaf_of)
    batch: list[Any] = []
    for row in sql.event_rows(real, seqs):
        if batch and (row.recorded_at != batch[-1].recorded_at or row.seq != batch[-1].seq + 1):
            yield leaf_of[batch[0].seq], batch
            batch = []
        batch.append(row)
    if batch:
        yield leaf_of[batch[0].seq], batch


def _event(row: Any) -> Any:
    """The stored event as it was reported: its native fields, items and original."""
    details = json.loads(row.details)
    native = {k: v for k, v in details.items() if k in NATIVE_FIELDS}
    items = json.loads(row.uis)
    if items:
        native["uis"] = items
    event = NativeMessage.model_validate(native).to_event()
    # The stored time, not the native form's (which keeps whole seconds only).
    original = details.get("original") or {}
    return replace(event, event_time=aware(row.event_time), source=row.source, details=original)


def _replay(
    real: Connection, copy: Connection, leaf: int, batch: list[Any], result: Rebuilt
) -> None:
    received = aware(batch[0].recorded_at)
    gap = batch[0].seq - store.next_seq(copy)
    if gap > 0:  # events without leaves come between: keep the node's numbering
        sql.insert_placeholder(copy, batch[0].seq - 1, received)
    view = StateView(_loaders(real, copy, leaf))
    accepted: list[Checked] = []
    recalled: dict[int, tuple[Any, Any, dict[str, Any]]] = {}
    for index, row in enumerate(batch):
        try:
            event = _event(row)
        except ValueError as exc:
            result.differences.append(f"event {row.seq}: cannot be read back for replay: {exc}")
            continue
        problems, extra = _check_one(event, index, view, received, Policy(), recalled)
        refused = [p for p in problems if not p.flag_only]
        if refused:
            result.differences.append(
                f"event {row.seq} ({event.event_id}): refused on replay: {refused[0].message}"
            )
            continue
        body = message_to_json(event)
        flags = [p.code for p in problems]
        accepted.append(Checked(index, event, fingerprint(event, body), body, extra, flags))
    write_accepted(copy, view, accepted, received, recalled)
    result.events_replayed += len(accepted)


def _loaders(real: Connection, copy: Connection, leaf: int) -> Loaders:
    return Loaders(
        states=lambda uis: store.load_states(copy, uis),
        issuances=lambda codes: _issuances_then(real, codes, leaf),
        children=lambda parent: store.load_children(copy, parent),
        facility=lambda fid: _active(store.load_facility(real, fid)),
        operator=lambda oid: _active(store.load_operator(real, oid)),
        event=lambda eid: store.load_event(copy, eid),
        latest_seq=lambda uis: store.latest_seqs(copy, uis),
        details=lambda seq: store.event_details(copy, seq),
        held=lambda operator, uis: store.held_before(copy, operator, uis),
        consignees=lambda uis: store.dispatch_consignees(copy, uis),
    )


def _active(info: Any) -> Any:
    return None if info is None else replace(info, active=True)


def _issuances_then(real: Connection, codes: list[str], leaf: int) -> dict[str, Issuance]:
    """What the issuer had recorded for ``codes`` before ledger leaf ``leaf``: deactivations
    and cancellations logged after it are not yet there (the ledger orders them exactly,
    where clocks may not)."""
    found = store.load_issuances(real, codes)
    marked = [c for c, i in found.items() if i.deactivated or i.cancelled]
    for start in range(0, len(marked), CHUNK):
        chunk = marked[start : start + CHUNK]
        requests = sql.request_of(real, chunk)
        deactivated = sql.logged_before(real, "deactivation", chunk, leaf)
        cancelled = sql.logged_before(real, "cancellation", sorted(set(requests.values())), leaf)
        for code in chunk:
            issued = found[code]
            if issued.deactivated and code not in deactivated:
                issued = replace(issued, deactivated=False)
            if issued.cancelled and requests.get(code) not in cancelled:
                issued = replace(issued, cancelled=False)
            found[code] = issued
    return found


def _compare_states(real: Connection, copy: Connection, result: Rebuilt) -> None:
    names = sql.STATE_COLUMNS
    stored_uis, rebuilt_uis = sql.all_uis(real), set(sql.all_uis(copy))
    result.states_compared = len(stored_uis)
    for start in range(0, len(stored_uis), CHUNK):
        chunk = stored_uis[start : start + CHUNK]
        stored, rebuilt = sql.state_rows(real, chunk), sql.state_rows(copy, chunk)
        for ui in chunk:
            mine = rebuilt.get(ui)
            if mine is None:
                result.differences.append(
                    f"ui_state {ui}: stored (status {stored[ui][2]}) but no ledgered event "
                    "gives it a state"
                )
                continue
            changed = [
                f"{name} is {theirs!r}, the events give {ours!r}"
                for name, theirs, ours in zip(names, stored[ui], mine, strict=True)
                if theirs != ours
            ]
            if changed:
                result.differences.append(f"ui_state {ui}: " + "; ".join(changed))
    for ui in sorted(rebuilt_uis - set(stored_uis)):
        result.differences.append(f"ui_state {ui}: missing, though the ledgered events give it one")


def _compare_stays(real: Connection, copy: Connection, result: Rebuilt) -> None:
    stored, rebuilt = sql.stays(real), sql.stays(copy)
    result.stays_compared = sum(stored.values())
    for stay in sorted((stored - rebuilt).elements(), key=str):
        result.differences.append(
            f"containment: the stay of {stay[0]} in {stay[1]} from event {stay[2]} to "
            f"{stay[4]} is stored, but the ledgered events do not give it"
        )
    for stay in sorted((rebuilt - stored).elements(), key=str):
        result.differences.append(
            f"containment: the stay of {stay[0]} in {stay[1]} from event {stay[2]} to "
            f"{stay[4]} is missing, though the ledgered events give it"
        )
