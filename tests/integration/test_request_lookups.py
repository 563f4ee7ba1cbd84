"""Code requests read by key on SQLite and PostgreSQL: stored counts and pages of codes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from itptrace.access import Actor, Role
from itptrace.clock import FixedClock
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer_service
from itptrace.codes.lifecycle import CodeState
from itptrace.codes.model import IssuerError
from itptrace.codes.service import AggregateRequest, UnitRequest
from itptrace.context import Context
from itptrace.errors import Conflict, Forbidden, NotFound
from itptrace.ledger.fsck import fsck
from itptrace.sim.world import World
from tests.integration.chain import build_world


def unit_request(world: World, quantity: int) -> UnitRequest:
    return UnitRequest(world.maker, world.plant, world.machine, world.gtin, "KE", quantity)


def codes_of(ctx: Context, actor: Actor, request_id: int) -> list[str]:
    return [p.ui for p in lifecycle.request_codes(ctx, actor, request_id)]


def real_counts(ctx: Context, codes: list[str]) -> dict[CodeState, int]:
    """The state of every code, one lookup each: what the stored counts must agree with."""
    found = Counter(lifecycle.lookup_code(ctx, code).state for code in codes)
    return {state: found[state] for state in CodeState}


@contextmanager
def statements(ctx: Context) -> Iterator[list[str]]:
    """Every SQL statement sent while the block runs."""
    sent: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        sent.append(" ".join(statement.split()))

    event.listen(ctx.db.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", record)


def maker_user(world: World) -> Actor:
    return Actor("maker-user", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)


# Stored counts


def test_a_new_request_counts_every_code_as_issued(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    units = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 12))
    boxes = issuer_service.request_aggregate_codes(
        ctx, issuer, AggregateRequest(world.maker, world.plant, 3)
    )
    for batch, quantity in ((units, 12), (boxes, 3)):
        found = lifecycle.get_request(ctx, issuer, batch.request_id)
        assert (found.kind, found.quantity, found.cancelled_at) == (batch.kind, quantity, None)
        assert found.counts == {
            CodeState.ISSUED: quantity,
            CodeState.EXPIRED: 0,
            CodeState.CANCELLED: 0,
            CodeState.DEACTIVATED: 0,
        }
        assert found.counts == real_counts(ctx, codes_of(ctx, issuer, batch.request_id))


def test_stored_counts_equal_the_real_counts_after_issuance_cancellation_and_deactivation(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    first = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 20))
    second = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 10))
    codes = {b.request_id: codes_of(ctx, issuer, b.request_id) for b in (first, second)}

    def agree() -> dict[int, dict[CodeState, int]]:
        stored = {rid: lifecycle.get_request(ctx, issuer, rid).counts for rid in codes}
        assert stored == {rid: real_counts(ctx, found) for rid, found in codes.items()}
        return stored

    agree()
    # one deactivation spanning both requests, then one by the requesting operator
    lifecycle.deactivate_codes(
        ctx, issuer, codes[first.request_id][:3] + codes[second.request_id][:2], "stolen"
    )
    lifecycle.deactivate_codes(ctx, maker_user(world), codes[first.request_id][3:4], "destroyed")
    assert agree()[first.request_id][CodeState.DEACTIVATED] == 4
    lifecycle.cancel_request(ctx, issuer, first.request_id, "wrong market")
    assert agree()[first.request_id][CodeState.CANCELLED] == 16
    # a code of a cancelled request can still be deactivated: it leaves the cancelled count
    lifecycle.deactivate_codes(ctx, issuer, codes[first.request_id][4:6], "lost")
    assert agree()[first.request_id] == {
        CodeState.ISSUED: 0,
        CodeState.EXPIRED: 0,
        CodeState.CANCELLED: 14,
        CodeState.DEACTIVATED: 6,
    }
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(days=200))
    assert agree()[second.request_id] == {
        CodeState.ISSUED: 0,
        CodeState.EXPIRED: 8,
        CodeState.CANCELLED: 0,
        CodeState.DEACTIVATED: 2,
    }


def test_a_refused_deactivation_changes_no_count(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 4))
    first, second, *_ = codes_of(ctx, issuer, batch.request_id)
    lifecycle.deactivate_codes(ctx, issuer, [first], "stolen")
    with pytest.raises(Conflict):
        lifecycle.deactivate_codes(ctx, issuer, [second, first], "lost")
    assert lifecycle.get_request(ctx, issuer, batch.request_id).counts[CodeState.DEACTIVATED] == 1


def test_a_request_is_read_with_its_counts_without_reading_its_codes(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 50))
    lifecycle.deactivate_codes(ctx, issuer, codes_of(ctx, issuer, batch.request_id)[:5], "lost")
    with statements(ctx) as sent:
        found = lifecycle.get_request(ctx, issuer, batch.request_id)
    assert found.counts[CodeState.DEACTIVATED] == 5
    reads = [s for s in sent if s.startswith("SELECT")]
    assert len(reads) == 1
    assert not any(t in reads[0] for t in ("unit_uis", "aggregate_uis", "ui_deactivations"))


def test_a_request_is_read_only_by_the_issuer_and_its_requester(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 1))
    assert lifecycle.get_request(ctx, maker_user(world), batch.request_id).quantity == 1
    for stranger in (
        Actor("importer", Role.OPERATOR, operator_id=world.importer),
        Actor("customs", Role.AUTHORITY),
    ):
        with pytest.raises(Forbidden):
            lifecycle.get_request(ctx, stranger, batch.request_id)
    with pytest.raises(NotFound, match="unknown code request 999"):
        lifecycle.get_request(ctx, issuer, 999)


def test_stored_counts_leave_the_ledger_whole_and_issued_codes_append_only(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 6))
    codes = codes_of(ctx, issuer, batch.request_id)
    lifecycle.deactivate_codes(ctx, issuer, codes[:2], "stolen")
    lifecycle.cancel_request(ctx, issuer, batch.request_id, "cancelled")
    report = fsck(ctx, issuer)
    # issuance, the audited read of the codes, two deactivations, the cancellation
    assert report.problems == [] and report.leaves_checked == 5
    for statement in ("UPDATE code_requests SET quantity = 7", "DELETE FROM unit_uis"):
        with pytest.raises(IntegrityError), ctx.db.engine.begin() as conn:
            conn.execute(text(statement))


# Pages of codes by key


def pages(ctx: Context, actor: Actor, request_id: int, limit: int) -> list[list[str]]:
    """Every page of a request's codes, each asked for after the previous page's next."""
    found: list[list[str]] = []
    after: str | None = None
    while True:
        page = lifecycle.code_page(ctx, actor, request_id, after=after, limit=limit)
        found.append([p.ui for p in page.codes])
        if page.next_after is None:
            return found
        assert page.next_after == found[-1][-1]
        after = page.next_after


def test_keyset_pages_cover_every_code_of_a_request_exactly_once_in_code_order(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 17))  # codes around
    units = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 23))
    boxes = issuer_service.request_aggregate_codes(
        ctx, issuer, AggregateRequest(world.maker, world.plant, 9)
    )
    issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 11))
    for batch, quantity in ((units, 23), (boxes, 9)):
        found = pages(ctx, issuer, batch.request_id, limit=5)
        assert [len(p) for p in found] == [5] * (quantity // 5) + [quantity % 5]
        listed = [code for page in found for code in page]
        assert listed == sorted(set(listed)) == codes_of(ctx, issuer, batch.request_id)
        assert {lifecycle.lookup_code(ctx, c).request_id for c in listed} == {batch.request_id}


def test_a_last_page_that_fills_its_limit_says_nothing_follows(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 10))
    assert [len(p) for p in pages(ctx, issuer, batch.request_id, limit=5)] == [5, 5]
    whole = lifecycle.code_page(ctx, issuer, batch.request_id, limit=10)
    assert (len(whole.codes), whole.next_after) == (10, None)


def test_a_page_after_any_text_starts_at_the_next_code_of_the_request(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 8))
    codes = codes_of(ctx, issuer, batch.request_id)
    between = codes[2] + "~"  # after codes[2], before codes[3] (codes have no '~')
    page = lifecycle.code_page(ctx, issuer, batch.request_id, after=between, limit=100)
    assert [p.ui for p in page.codes] == codes[3:] and page.next_after is None
    beyond = lifecycle.code_page(ctx, issuer, batch.request_id, after=codes[-1])
    assert (beyond.codes, beyond.next_after) == ([], None)


def test_codes_are_paged_only_for_the_issuer_and_their_requester_within_the_limit(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 3))
    assert len(lifecycle.code_page(ctx, maker_user(world), batch.request_id).codes) == 3
    stranger = Actor("importer", Role.OPERATOR, operator_id=world.importer)
    with pytest.raises(Forbidden):
        lifecycle.code_page(ctx, stranger, batch.request_id)
    with pytest.raises(NotFound):
        lifecycle.code_page(ctx, issuer, 999)
    for limit in (0, lifecycle.MAX_PAGE + 1):
        with pytest.raises(IssuerError, match="limit must be between 1 and 100000"):
            lifecycle.code_page(ctx, issuer, batch.request_id, limit=limit)
