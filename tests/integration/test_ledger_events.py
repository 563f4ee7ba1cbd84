"""Every accepted event and every audit record is a ledger leaf; fsck finds edits of them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from itptrace.access import local_authority, local_issuer
from itptrace.auth import audit
from itptrace.auth.model import AuditEntry
from itptrace.context import Context
from itptrace.ledger import service as ledger
from itptrace.ledger.fsck import fsck
from itptrace.repository.schema import events
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from tests.integration.test_ledger import run_sql, unguard


def test_accepted_events_and_audit_records_are_leaves_and_fsck_is_clean(ctx: Context) -> None:
    run = run_supply_chain(ServiceDriver(ctx), lambda _line: None)
    before = [e.kind for e in ledger.entries(ctx, local_authority(), 0, 1000)].count("audit")
    audit.record(
        ctx, AuditEntry(local_authority(), None, "GET", "/uis/{ui}/trace", {}, 1, "ok", 200)
    )
    kinds = [e.kind for e in ledger.entries(ctx, local_authority(), 0, 1000)]
    assert kinds.count("event") == run.events and kinds.count("audit") == before + 1
    ledger.make_checkpoint(ctx, local_issuer())
    assert fsck(ctx, local_issuer()).ok


def test_fsck_reports_an_event_edited_directly_in_the_database(ctx: Context) -> None:
    run_supply_chain(ServiceDriver(ctx), lambda _line: None)
    ledger.make_checkpoint(ctx, local_issuer())
    edit = "UPDATE events SET originator_id = 'KET01EFORGED' WHERE seq = 5"
    with pytest.raises(IntegrityError):
        run_sql(ctx, edit)  # the append-only trigger refuses it
    unguard(ctx, "events")
    run_sql(ctx, edit)
    problems = fsck(ctx, local_issuer()).problems
    assert ("event", "5") in {(p.kind, p.ref) for p in problems}


def test_events_and_items_refuse_update_and_delete(ctx: Context) -> None:
    run_supply_chain(ServiceDriver(ctx), lambda _line: None)
    with ctx.db.transaction() as conn:
        before = conn.execute(select(func.count()).select_from(events)).scalar_one()
    for statement in (
        "DELETE FROM events",
        "DELETE FROM event_items",
        "UPDATE event_items SET role = 'x'",
    ):
        with pytest.raises(IntegrityError):
            run_sql(ctx, statement)
    with ctx.db.transaction() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == before
        assert (
            conn.execute(text("SELECT count(*) FROM event_items WHERE role = 'x'")).scalar_one()
            == 0
        )


def test_the_audit_trail_refuses_update_and_delete(ctx: Context) -> None:
    audit.record(
        ctx, AuditEntry(local_authority(), None, "GET", "/uis/{ui}/where", {}, 1, "ok", 200)
    )
    for statement in ("UPDATE audit_log SET outcome = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(IntegrityError):
            run_sql(ctx, statement)
    with ctx.db.transaction() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM audit_log WHERE outcome = 'ok'")).scalar_one()
            == 1
        )
