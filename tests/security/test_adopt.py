"""Scans, alerts and alert status changes stored before they were ledgered get their
leaves once, by ``ledger adopt``; on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from itptrace.access import Actor, Role, local_issuer
from itptrace.auth.audit import list_audit
from itptrace.context import Context
from itptrace.errors import Forbidden
from itptrace.ledger import service as ledger
from itptrace.ledger.fsck import record_keys
from itptrace.repository.schema import scans
from itptrace.sim.world import World
from itptrace.verify.adopt import adopt_unledgered
from tests.security.test_integrity import (
    AUDITOR,
    copy_row,
    forged_scan_with_alert,
    next_key,
    problems,
)

OPERATOR = Actor("maker-clerk", Role.OPERATOR, operator_id="OP-1")


def _stored_before_the_upgrade(ctx: Context) -> tuple[str, int, int]:
    """A scan, an alert and a status change inserted with no leaf, as a node upgraded from
    before holds them; their keys."""
    forged_scan_with_alert(ctx)
    keys = record_keys()
    with ctx.db.transaction() as conn:
        alert = next_key(conn, keys["alert"])
        status = next_key(conn, keys["alert_status"])
        copy_row(conn, scans, scan_id="old-scan")
        copy_row(conn, keys["alert"].table, id=alert, scan_id="old-scan")  # type: ignore[arg-type]
        copy_row(conn, keys["alert_status"].table, id=status, alert_id=alert)  # type: ignore[arg-type]
    return "old-scan", alert, status


def test_adopting_gives_every_unledgered_scan_alert_and_status_its_leaf_and_fsck_is_ok(
    ctx: Context,
    run: World,
) -> None:
    scan_id, alert, status = _stored_before_the_upgrade(ctx)
    found = problems(ctx)
    assert found == [
        f"scan {scan_id} (scans.scan_id): the record has no leaf",
        f"alert {alert} (alerts.id): the record has no leaf",
        f"alert_status {status} (alert_status.id): the record has no leaf",
    ]
    size = ledger.tree_head(ctx).size
    adopted = adopt_unledgered(ctx, local_issuer())
    assert adopted.counts == {"scan": 1, "alert": 1, "alert_status": 1}
    assert problems(ctx) == []
    added = ledger.entries(ctx, AUDITOR, size, ledger.tree_head(ctx).size)
    ledgered = [(entry.kind, entry.ref) for entry in added if entry.kind != "audit"]
    assert ledgered == [("scan", scan_id), ("alert", str(alert)), ("alert_status", str(status))]


def test_adopting_twice_adds_nothing_the_second_time(ctx: Context, run: World) -> None:
    _stored_before_the_upgrade(ctx)
    assert adopt_unledgered(ctx, local_issuer()).total == 3
    size = ledger.tree_head(ctx).size
    again = adopt_unledgered(ctx, local_issuer())
    assert again.total == 0
    added = ledger.entries(ctx, AUDITOR, size, ledger.tree_head(ctx).size)
    assert [entry.kind for entry in added] == ["audit"]  # only the record of the second run
    assert problems(ctx) == []


def test_scans_are_adopted_in_the_order_they_were_recorded_across_batches(
    ctx: Context,
    run: World,
) -> None:
    forged_scan_with_alert(ctx)
    with ctx.db.transaction() as conn:
        first = conn.execute(select(scans.c.recorded_at)).scalars().first()
        assert first is not None
        # Keys in the reverse of the recording order: record order is not key order.
        for n, scan_id in enumerate(["old-c", "old-b", "old-a"]):
            copy_row(conn, scans, scan_id=scan_id, recorded_at=first.replace(year=2020, day=n + 1))
    size = ledger.tree_head(ctx).size
    assert adopt_unledgered(ctx, local_issuer(), batch=2).counts["scan"] == 3
    added = ledger.entries(ctx, AUDITOR, size, ledger.tree_head(ctx).size)
    assert [e.ref for e in added if e.kind == "scan"] == ["old-c", "old-b", "old-a"]


def test_adopting_is_audited_with_how_many_records_it_adopted(ctx: Context, run: World) -> None:
    _stored_before_the_upgrade(ctx)
    adopt_unledgered(ctx, local_issuer())
    rows = list_audit(ctx, AUDITOR, endpoint="ledger.adopt")
    assert len(rows) == 1 and rows[0].result_count == 3 and rows[0].outcome == "ok"


@pytest.mark.parametrize("who", [AUDITOR, OPERATOR], ids=["auditor", "operator"])
def test_an_auditor_or_an_operator_may_not_adopt_records_into_the_ledger(
    ctx: Context,
    run: World,
    who: Actor,
) -> None:
    _stored_before_the_upgrade(ctx)
    with pytest.raises(Forbidden):
        adopt_unledgered(ctx, who)
    assert len(problems(ctx)) == 3
