"""Users, tokens and operator scoping at the service level, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from itptrace.access import Actor, Role, local_authority, local_issuer
from itptrace.auth import audit, service
from itptrace.auth.model import AuditEntry, Unauthenticated
from itptrace.clock import FixedClock
from itptrace.context import Context
from itptrace.errors import Conflict, DomainError, Forbidden, NotFound
from itptrace.queries.report import report
from itptrace.queries.service import trace, where
from itptrace.sim.world import World
from tests.integration.chain import build_world

ADMIN = local_issuer()


def test_a_token_authenticates_its_user_with_the_users_single_role(ctx: Context) -> None:
    world = build_world(ctx)
    service.add_user(ctx, ADMIN, name="nyota-api", role="operator", operator_id=world.maker)
    issued = service.create_token(ctx, ADMIN, user="nyota-api")
    actor = service.authenticate(ctx, issued.token)
    assert actor == Actor("nyota-api", Role.OPERATOR, world.maker, tobacco_industry=True)


def test_tokens_are_stored_only_as_hashes(ctx: Context) -> None:
    service.add_user(ctx, ADMIN, name="customs", role="authority")
    issued = service.create_token(ctx, ADMIN, user="customs")
    secret = issued.token.split("_", 2)[2]
    with ctx.db.engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM api_tokens")]
    assert rows and all(secret not in str(value) for row in rows for value in row)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: "nonsense",
        lambda t: "itp_000000000000_" + t.split("_", 2)[2],
    ],
)
def test_a_wrong_token_is_refused_without_saying_why(ctx: Context, mangle) -> None:  # type: ignore[no-untyped-def]
    service.add_user(ctx, ADMIN, name="customs", role="authority")
    issued = service.create_token(ctx, ADMIN, user="customs")
    with pytest.raises(Unauthenticated):
        service.authenticate(ctx, mangle(issued.token))


def test_expired_revoked_and_disabled_tokens_stop_working(ctx: Context) -> None:
    for name in ("a", "b", "c"):
        service.add_user(ctx, ADMIN, name=name, role="inspector")
    expiring = service.create_token(ctx, ADMIN, user="a", days=1)
    revoked = service.create_token(ctx, ADMIN, user="b")
    disabled = service.create_token(ctx, ADMIN, user="c")
    service.revoke_token(ctx, ADMIN, revoked.id)
    service.disable_user(ctx, ADMIN, "c")
    assert isinstance(ctx.clock, FixedClock)
    ctx.clock.advance(timedelta(days=1, seconds=1))
    for token in (expiring, revoked, disabled):
        with pytest.raises(Unauthenticated):
            service.authenticate(ctx, token.token)


def test_users_of_the_tobacco_industry_can_only_be_operator_users(ctx: Context) -> None:
    world = build_world(ctx)
    with pytest.raises(DomainError, match="only operator users"):
        service.add_user(ctx, ADMIN, name="x", role="authority", operator_id=world.maker)
    service.add_user(ctx, ADMIN, name="x", role="operator", operator_id=world.maker)
    with pytest.raises(Conflict):
        service.add_user(ctx, ADMIN, name="x", role="operator", operator_id=world.maker)


@pytest.mark.parametrize(
    "role", [Role.AUTHORITY, Role.INSPECTOR, Role.AUDITOR, Role.OPERATOR, Role.GSP_PEER]
)
def test_only_the_issuer_admin_manages_users(ctx: Context, role: Role) -> None:
    actor = Actor("someone", role, operator_id="KET01EX" if role is Role.OPERATOR else None)
    with pytest.raises(Forbidden):
        service.add_user(ctx, actor, name="y", role="authority")


def test_audit_records_are_listed_to_auditors_and_authorities_only(ctx: Context) -> None:
    entry = AuditEntry(
        local_authority(), "case 2026/17", "GET", "/uis/{ui}/trace", {"ui": "X"}, 3, "ok", 200
    )
    seq = audit.record(ctx, entry)
    rows = audit.list_audit(ctx, Actor("auditor", Role.AUDITOR))
    assert [(r.seq, r.purpose, r.result_count) for r in rows] == [(seq, "case 2026/17", 3)]
    with pytest.raises(Forbidden):
        audit.list_audit(
            ctx, Actor("maker", Role.OPERATOR, operator_id="KET01EX", tobacco_industry=True)
        )


def test_an_operator_sees_only_its_span_of_custody_and_never_a_stranger_pack(
    ctx: Context, run: World
) -> None:
    importer = Actor("lake", Role.OPERATOR, operator_id=run.importer)
    retailer = Actor("dunga", Role.OPERATOR, operator_id=run.retailer)
    pack = run.packs[0]
    seen = [(e.message_type, e.originator_id) for e in trace(ctx, importer, pack)]
    # Its span opens with the maker's dispatch to it and closes with the retailer's arrival;
    # everything between is its own, and nothing of the maker's production shows.
    assert seen[0] == ("EDP", run.maker) and seen[-1] == ("ERP", run.retailer)
    assert {who for _kind, who in seen[1:-1]} == {run.importer}
    assert where(ctx, retailer, pack).custodian_id == run.retailer
    with pytest.raises(NotFound):  # the answer for a code never issued: nothing to learn
        where(ctx, retailer, run.packs[60])  # a pack of a case that went abroad, never held
    with pytest.raises(Forbidden):
        report(ctx, importer, pack)  # the code was issued to the manufacturer
    maker = Actor("nyota", Role.OPERATOR, operator_id=run.maker, tobacco_industry=True)
    # The manufacturer's report holds its own span: its buyers' later sales are not its to read.
    theirs = {item.key: item.value for item in report(ctx, maker, pack).items}
    assert theirs["a"] and theirs["e"] and theirs["i"] == []
    assert report(ctx, local_authority(), pack).completeness == 1.0


def test_an_inspector_reads_facts_of_a_pack_but_not_its_full_trace(
    ctx: Context, run: World
) -> None:
    inspector = Actor("field-7", Role.INSPECTOR)
    assert where(ctx, inspector, run.packs[0]).status == "active"
    assert report(ctx, inspector, run.packs[0]).completeness == 1.0
    with pytest.raises(Forbidden):
        trace(ctx, inspector, run.packs[0])
