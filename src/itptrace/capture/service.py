"""Capture: check reported events against the rules and store them, all or nothing.

A report (an EPCIS document or a batch of native messages) is checked event by event
against the state as it will be after the report's earlier events. By default one refused
event refuses the whole report (EPCIS capture semantics); every refused event is stored
with its reasons. Accepted events get a sequence number, their items are indexed, the
current state and containment history are updated, all in one transaction. A message
resubmitted unchanged is answered idempotently; a different message under a used code is
refused.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from itptrace.access import Actor, Permission, Role, authorize
from itptrace.auth import audit
from itptrace.capture import recall, refusals, store
from itptrace.capture.custody_alerts import alert_rows
from itptrace.capture.formats import Shape, check_shape, parse_report
from itptrace.capture.model import MessageType, Problem, TraceEvent
from itptrace.capture.native import message_to_json
from itptrace.capture.rules import RULES, Policy, check_originator, check_timing
from itptrace.capture.rules_custody import custody_problems
from itptrace.capture.state import Loaders, StateView
from itptrace.capture.writer import Accepted, Checked, write_accepted
from itptrace.context import Context
from itptrace.errors import DomainError, Forbidden

if TYPE_CHECKING:
    from sqlalchemy import Connection


@dataclass
class CaptureResult:
    accepted: list[Accepted] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(not p.flag_only for p in self.problems)


def fingerprint(event: TraceEvent, body: dict[str, Any] | None = None) -> str:
    """A digest of the message as sent (its native JSON form, ``body`` if already made)."""
    canonical = _CANONICAL.encode(message_to_json(event) if body is None else body)
    return hashlib.sha256(canonical.encode()).hexdigest()


# What json.dumps(sort_keys=True, separators=(",", ":")) builds on every call, built once.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def _authorise(ctx: Context, actor: Actor, events: list[TraceEvent]) -> list[str]:
    """Refuse unless ``actor`` may report ``events``; the operators it reports for on their
    behalf (an explicit right of the issuer's staff, off unless the node allows it)."""
    authorize(actor, Permission.CAPTURE_REPORT)
    if actor.role is Role.OPERATOR:
        for event in events:
            if event.originator_id != actor.operator_id:
                raise Forbidden(
                    f"{actor.name} may report only as {actor.operator_id}, "
                    f"not {event.originator_id}",
                    subject=event.event_id,
                    code="originator_not_actor",
                )
        return []
    if not events:
        return []
    if not ctx.settings.capture_on_behalf:
        raise Forbidden(
            f"{actor.name} may not report events in an operator's name: this node does not "
            "allow reporting on behalf (ITPTRACE_CAPTURE_ON_BEHALF); operators report their "
            "own events",
            subject=actor.name,
            code="on_behalf_refused",
        )
    authorize(actor, Permission.CAPTURE_ON_BEHALF)
    return sorted({event.originator_id for event in events})


def submitter_of(actor: Actor) -> str:
    """Who sent a report, as its events record it: "<operator>/<user>" or the user."""
    return (f"{actor.operator_id}/{actor.name}" if actor.operator_id else actor.name)[:200]


def _loaders(conn: Any) -> Loaders:
    return Loaders(
        states=lambda uis: store.load_states(conn, uis),
        issuances=lambda codes: store.load_issuances(conn, codes),
        children=lambda parent: store.load_children(conn, parent),
        facility=lambda fid: store.load_facility(conn, fid),
        operator=lambda oid: store.load_operator(conn, oid),
        event=lambda eid: store.load_event(conn, eid),
        latest_seq=lambda uis: store.latest_seqs(conn, uis),
        details=lambda seq: store.event_details(conn, seq),
        held=lambda operator, uis: store.held_before(conn, operator, uis),
        consignees=lambda uis: store.dispatch_consignees(conn, uis),
    )


def _check_one(
    event: TraceEvent,
    index: int,
    view: StateView,
    received: datetime,
    policy: Policy,
    recalled: dict[int, tuple[TraceEvent, Any, dict[str, Any]]],
) -> tuple[list[Problem], dict[str, Any]]:
    problems = check_timing(event, received, policy) + check_originator(event, view)
    if problems and any(not p.flag_only for p in problems):
        return problems, {}
    view.current_index = index
    if event.message_type is MessageType.RCL:
        target = view.loaders.event(event.recalled_event_id or "")
        latest = view.loaders.latest_seq(list(target.uis)) if target else {}
        refused = recall.check_recall(event, target, latest)
        if refused:
            return problems + refused, {}
        assert target is not None
        details = view.loaders.details(target.seq)
        recall.undo(str(details["message_type"]), target, details, view)
        recalled[index] = (event, target, details)
        return problems, {"recalled_seq": target.seq}
    refused = custody_problems(event, view)
    if refused:
        return problems + refused, {}
    outcome, extra = RULES[event.message_type](event, view, index, policy)
    return problems + outcome, extra


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a report is checked and written.

    A large report makes a few objects per pack that all stay alive until it is written, and
    the collector would walk them again and again (a third of the capture time) though they
    form no cycles. Reference counting still frees everything; the collector runs again as
    soon as the capture ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


OnCommit = Callable[["Connection", CaptureResult], None]


def capture_document(
    ctx: Context,
    actor: Actor,
    document: Any,
    *,
    shape: Shape = Shape.ANY,
    originator: str | None = None,
    all_or_nothing: bool = True,
    on_commit: OnCommit | None = None,
) -> CaptureResult:
    """Parse and capture a report: what every door (API, queued job, CLI) calls.

    ``originator`` names the sender of EPCIS events (an operator user's own operator by
    default). A report that cannot be read is refused whole, nothing of it captured, unless
    ``all_or_nothing`` is off: then its readable events are checked and the good ones kept.
    Captures are serialised by the database (``store.lock_for_capture``), not here.
    """
    check_shape(document, shape)
    if originator is None and actor.role is Role.OPERATOR:
        originator = actor.operator_id
    events, problems = parse_report(document, originator)
    if problems and all_or_nothing:
        events = []
    return capture(
        ctx,
        actor,
        events,
        all_or_nothing=all_or_nothing,
        parse_problems=problems,
        on_commit=on_commit,
    )


def capture(
    ctx: Context,
    actor: Actor,
    events: list[TraceEvent],
    *,
    all_or_nothing: bool = True,
    parse_problems: list[Problem] | None = None,
    policy: Policy | None = None,
    on_commit: OnCommit | None = None,
) -> CaptureResult:
    """Check and store reported events; see the module docstring for the semantics.

    ``on_commit`` runs inside the capture's transaction after everything is written, so what
    it records (e.g. a capture job's completion) commits or rolls back with the events.
    """
    params: dict[str, Any] = {"events": len(events)}
    operation = Permission.CAPTURE_REPORT
    try:
        on_behalf = _authorise(ctx, actor, events)
        if on_behalf:
            operation = Permission.CAPTURE_ON_BEHALF
            params["on_behalf"] = ",".join(on_behalf)
        if policy is None:
            policy = Policy(unexpected_arrival=ctx.settings.unexpected_arrival)
        with _collector_paused():
            result = _capture(ctx, events, all_or_nothing, parse_problems, policy, on_commit, actor)
    except DomainError as failure:
        audit.record(ctx, audit.entry_for(actor, operation.value, params, failure=failure))
        raise
    # Every capture request leaves a record (the report's counts, never its content).
    params["refused"] = sum(not p.flag_only for p in result.problems)
    params["duplicates"] = len(result.duplicates)
    audit.record(ctx, audit.entry_for(actor, operation.value, params, count=len(result.accepted)))
    return result


def _capture(
    ctx: Context,
    events: list[TraceEvent],
    all_or_nothing: bool,
    parse_problems: list[Problem] | None,
    policy: Policy | None,
    on_commit: Callable[[Connection, CaptureResult], None] | None,
    actor: Actor,
) -> CaptureResult:
    result = CaptureResult(problems=list(parse_problems or []))
    policy = policy or Policy()
    received = ctx.clock.now().replace(microsecond=0)
    with ctx.db.transaction() as conn:
        store.lock_for_capture(conn)
        view = StateView(_loaders(conn))
        accepted: list[Checked] = []
        refused: list[tuple[TraceEvent, list[Problem]]] = []
        recalled: dict[int, tuple[TraceEvent, Any, dict[str, Any]]] = {}
        seen: dict[str, str] = {}
        # Everything the report touches is read up front, in a few batched queries, instead
        # of a query or three per event.
        known = store.known_fingerprints(conn, [e.event_id for e in events])
        view.prefetch([ui for e in events for ui in (*e.uis, *([e.parent] if e.parent else []))])
        for index, event in enumerate(events):
            body = message_to_json(event)
            print_ = fingerprint(event, body)
            previous = known.get(event.event_id) or seen.get(event.event_id)
            if previous is not None:
                if previous == print_:
                    result.duplicates.append(event.event_id)
                    continue
                problem = Problem(
                    "duplicate_event_id",
                    f"message code {event.event_id} is already used by a different message",
                    event.event_id,
                    event.event_id,
                )
                refused.append((event, [problem]))
                continue
            seen[event.event_id] = print_
            problems, extra = _check_one(event, index, view, received, policy, recalled)
            flags: list[str] = []
            if problems:  # most events have none: nothing to sort out
                hard = [p for p in problems if not p.flag_only]
                if hard:
                    # Rules change the view only once all their checks pass, so a refused
                    # event leaves nothing behind for the events after it.
                    refused.append((event, hard))
                    continue
                flags = [p.code for p in problems]
                result.problems.extend(problems)
            accepted.append(Checked(index, event, print_, body, extra, flags))
        for _event, problems in refused:
            result.problems.extend(problems)
        malformed = [p for p in parse_problems or [] if not p.flag_only]
        if (refused or malformed) and all_or_nothing:
            accepted = []
        else:
            submitter = submitter_of(actor)
            result.accepted = write_accepted(conn, view, accepted, received, recalled, submitter)
        store.insert_custody_alerts(conn, alert_rows(events, result.problems, view, received))
        # The reporter is told nothing about goods outside its custody (Problem.shown); the
        # stored refusals keep the full reasons for the authorities.
        result.problems = [p.shown() for p in result.problems]
        limits = (ctx.settings.refusal_problems, ctx.settings.refusal_payload_bytes)
        rows = [_refused_row(event, problems, received, limits) for event, problems in refused]
        rows += [_malformed_row(actor, p, received) for p in malformed[: limits[0]]]
        store.insert_refused(conn, rows)
        if on_commit is not None:
            on_commit(conn, result)
    return result


def _malformed_row(actor: Actor, problem: Problem, received: datetime) -> dict[str, Any]:
    """A message that could not even be read is stored too, with what was wrong."""
    return {
        "received_at": received,
        "originator_id": (actor.operator_id or actor.name)[:32],
        "event_id": (problem.event_id or "")[:200] or None,
        "message_type": None,
        "problems": refusals.problems_json([problem], 1),
        "payload": json.dumps({}),
    }


def _refused_row(
    event: TraceEvent, problems: list[Problem], received: datetime, limits: tuple[int, int]
) -> dict[str, Any]:
    """A refused event as stored: bounded in size, however large it and its problem list
    are (the first problems and the total; the message whole, or a summary of it)."""
    kept, payload_bytes = limits
    return {
        "received_at": received,
        "originator_id": event.originator_id[:32],
        "event_id": event.event_id[:200],
        "message_type": event.message_type.value,
        "problems": refusals.problems_json(problems, kept),
        "payload": refusals.payload_json(message_to_json(event), payload_bytes),
    }
