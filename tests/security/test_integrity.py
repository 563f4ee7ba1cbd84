"""Integrity checks that see everything: records without leaves, leaves without records,
scans and alerts in the ledger, the current state rebuilt from the ledgered events, and
database files only their owner can read. On SQLite and PostgreSQL.

A hostile operator with database rights inserts, edits or deletes rows behind the node's
back (dropping the append-only triggers first when it must); ``ledger fsck`` must name
every such change.
"""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Connection, Table, func, insert, select, text

from itptrace.access import Actor, Role, local_issuer
from itptrace.capture.rebuild import rebuild
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.gs1.element import to_element_string
from itptrace.ledger import merkle, records
from itptrace.ledger import service as ledger
from itptrace.ledger.fsck import fsck, record_keys
from itptrace.repository import migrate
from itptrace.repository.append_only import drop_append_only_ddl
from itptrace.repository.db import make_engine
from itptrace.repository.schema import alert_status, containment, events, ledger_leaves, ui_state
from itptrace.sim.world import World
from itptrace.verify import alerts
from itptrace.verify.model import Place, ScanInput, Verdict
from itptrace.verify.service import verify

INSPECTOR = Actor("inspector-wanjiru", Role.INSPECTOR)
AUTHORITY = Actor("kra-investigations", Role.AUTHORITY)
AUDITOR = Actor("auditor", Role.AUDITOR)


def scan(ctx: Context, code: str) -> Any:
    where = Place("KE", None, -1.2864, 36.8172)
    return verify(ctx, INSPECTOR, ScanInput(code, where, ctx.clock.now(), str(uuid.uuid4())))


def forged_scan_with_alert(ctx: Context) -> int:
    """A scan of a code never issued: a counterfeit verdict and one alert; its alert id."""
    result = scan(ctx, "KET01zzzzzzzzz00000000")
    assert result.verdict is Verdict.COUNTERFEIT and result.alerts
    return result.alerts[0]


def new_request(ctx: Context, run: World) -> int:
    made = issuer.request_unit_codes(
        ctx,
        local_issuer(),
        issuer.UnitRequest(run.maker, run.plant, run.machine, run.gtin, "KE", 3),
    )
    return made.request_id


def run_sql(ctx: Context, statement: str) -> None:
    with ctx.db.transaction() as conn:
        conn.execute(text(statement))


def unguard(ctx: Context, table: str) -> None:
    """Drop a table's append-only triggers, as someone with DBA rights could."""
    for statement in drop_append_only_ddl(ctx.db.dialect, table):
        run_sql(ctx, statement)


def problems(ctx: Context) -> list[str]:
    return [str(problem) for problem in fsck(ctx, local_issuer()).problems]


def next_key(conn: Connection, column: Column[Any]) -> int:
    return int(conn.execute(select(func.max(column))).scalar_one() or 0) + 1


def copy_row(conn: Connection, table: Table, **changes: Any) -> None:
    """Insert a copy of one stored row of ``table`` with ``changes``: a forged record that
    looks like the real ones."""
    row = conn.execute(select(table).limit(1)).first()
    assert row is not None, f"{table.name} has no row to copy"
    conn.execute(insert(table).values({**row._mapping, **changes}))


def test_fsck_reports_an_event_row_inserted_without_its_leaf(ctx: Context, run: World) -> None:
    assert problems(ctx) == []
    with ctx.db.transaction() as conn:
        seq = next_key(conn, events.c.seq)
        copy_row(conn, events, seq=seq, event_id="FORGED-1")
    assert problems(ctx) == [f"event {seq} (events.seq): the record has no leaf"]


def test_fsck_reports_a_row_of_every_ledgered_kind_inserted_without_its_leaf(
    ctx: Context, run: World
) -> None:
    keys = record_keys()
    lifecycle.cancel_request(ctx, local_issuer(), new_request(ctx, run), "spoilt")
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[5]], "stolen", "truck")
    forged_scan_with_alert(ctx)
    assert problems(ctx) == []
    with ctx.db.transaction() as conn:
        request = next_key(conn, keys["issuance"])
        forged = {
            "issuance": {"id": request},
            "cancellation": {"request_id": request},
            "deactivation": {"ui": "FORGED-UI"},
            "event": {"seq": next_key(conn, keys["event"]), "event_id": "FORGED-1"},
            "audit": {"seq": next_key(conn, keys["audit"])},
            "scan": {"scan_id": "forged-scan"},
            "alert": {"id": next_key(conn, keys["alert"])},
            "alert_status": {"id": next_key(conn, keys["alert_status"])},
        }
        assert set(forged) == set(keys), "every ledgered kind is forged here"
        for kind, changes in forged.items():
            copy_row(conn, keys[kind].table, **changes)  # type: ignore[arg-type]
    found = problems(ctx)
    assert len(found) == len(forged), found
    for kind, changes in forged.items():
        key = keys[kind].name
        wanted = f"{kind} {changes[key]} ({keys[kind].table.name}.{key}): the record has no leaf"  # type: ignore[attr-defined]
        assert wanted in found


def test_fsck_reports_a_leaf_whose_scan_was_deleted(ctx: Context, run: World) -> None:
    scanned = scan(ctx, run.packs[0])
    unguard(ctx, "scans")
    run_sql(ctx, f"DELETE FROM scans WHERE scan_id = '{scanned.scan_id}'")
    found = problems(ctx)
    assert any(f"(scan {scanned.scan_id}): its record is missing" in p for p in found), found


def test_scans_alerts_and_alert_status_changes_are_ledger_leaves(ctx: Context, run: World) -> None:
    size = ledger.tree_head(ctx).size
    alert_id = forged_scan_with_alert(ctx)
    alerts.set_alert_status(ctx, AUTHORITY, alert_id, "investigating", "seized")
    added = ledger.entries(ctx, AUDITOR, size, ledger.tree_head(ctx).size)
    kinds = [entry.kind for entry in added]
    assert kinds.count("scan") == 1 and kinds.count("alert") == 1
    assert kinds.count("alert_status") == 2  # raised open, then investigating
    assert problems(ctx) == []


def test_closing_an_alert_behind_the_node_s_back_is_reported(ctx: Context, run: World) -> None:
    alert_id = forged_scan_with_alert(ctx)
    unguard(ctx, "alert_status")
    run_sql(ctx, f"UPDATE alert_status SET status = 'closed' WHERE alert_id = {alert_id}")
    found = problems(ctx)
    assert any("(alert_status " in p and "differs from the logged leaf" in p for p in found)


def test_a_record_with_two_leaves_is_reported(ctx: Context, run: World) -> None:
    scanned = scan(ctx, run.packs[0])
    with ctx.db.transaction() as conn:
        records.record_scans(conn, [scanned.scan_id], ctx.clock.now())
        seqs = list(
            conn.execute(
                select(ledger_leaves.c.seq).where(ledger_leaves.c.ref == scanned.scan_id)
            ).scalars()
        )
    assert problems(ctx) == [
        f"scan {scanned.scan_id}: the record has 2 leaves ({seqs[0]}, {seqs[1]})"
    ]


def test_alert_status_rows_are_stored_with_their_ids(ctx: Context, run: World) -> None:
    alert_id = forged_scan_with_alert(ctx)
    with ctx.db.transaction() as conn:
        ids = conn.execute(
            select(alert_status.c.id).where(alert_status.c.alert_id == alert_id)
        ).scalars()
        refs = conn.execute(
            select(ledger_leaves.c.ref).where(ledger_leaves.c.kind == "alert_status")
        ).scalars()
        assert set(map(str, ids)) <= set(refs)


# --- fsck --deep: the current state rebuilt from the ledgered events ---


def deep(ctx: Context) -> list[str]:
    return rebuild(ctx, local_issuer()).differences


def test_the_state_rebuilt_from_the_ledgered_events_equals_the_stored_one(
    ctx: Context, run: World
) -> None:
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[7]], "stolen", "after the fact")
    rebuilt = rebuild(ctx, local_issuer())
    assert rebuilt.differences == []
    assert rebuilt.events_replayed == run.events
    assert rebuilt.states_compared > len(run.packs) and rebuilt.stays_compared > 0


def test_a_never_applied_code_given_a_state_behind_the_node_s_back_is_reported(
    ctx: Context, run: World
) -> None:
    request = new_request(ctx, run)
    code = next(iter(lifecycle.request_codes(ctx, local_issuer(), request)))
    assert scan(ctx, to_element_string(code)).verdict is Verdict.ILLICIT  # never applied
    with ctx.db.transaction() as conn:
        copy_row(conn, ui_state, ui=code.ui, parent=None, parent_since_seq=None)
    assert scan(ctx, to_element_string(code)).verdict is Verdict.AUTHENTIC  # the forgery works
    assert problems(ctx) == []  # every leaf still matches its record...
    status = "active"  # whatever the copied row said
    with ctx.db.transaction() as conn:
        status = conn.execute(
            select(ui_state.c.status).where(ui_state.c.ui == code.ui)
        ).scalar_one()
    # ...but the events never gave that code a state
    assert deep(ctx) == [
        f"ui_state {code.ui}: stored (status {status}) but no ledgered event gives it a state"
    ]


def test_a_pack_moved_to_another_custodian_in_the_state_table_is_reported(
    ctx: Context, run: World
) -> None:
    pallet = run.pallet
    run_sql(ctx, f"UPDATE ui_state SET custodian_id = 'FORGED' WHERE ui = '{pallet}'")
    found = deep(ctx)
    assert len(found) == 1 and found[0].startswith(f"ui_state {pallet}: custodian_id is 'FORGED'")


def test_a_deleted_stay_and_a_state_row_removed_are_reported(ctx: Context, run: World) -> None:
    with ctx.db.transaction() as conn:
        child = conn.execute(select(containment.c.child).limit(1)).scalar_one()
    run_sql(ctx, f"DELETE FROM containment WHERE child = '{child}'")
    run_sql(ctx, f"DELETE FROM ui_state WHERE ui = '{run.packs[0]}'")
    found = deep(ctx)
    assert any(
        p.startswith(f"containment: the stay of {child} in ") and "is missing" in p for p in found
    )
    assert f"ui_state {run.packs[0]}: missing, though the ledgered events give it one" in found


def test_an_event_row_inserted_without_its_leaf_is_not_replayed(ctx: Context, run: World) -> None:
    with ctx.db.transaction() as conn:
        seq = next_key(conn, events.c.seq)
        copy_row(conn, events, seq=seq, event_id="FORGED-1")
    assert rebuild(ctx, local_issuer()).events_replayed == run.events


# --- the database files ---


def test_a_new_sqlite_database_and_its_wal_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "node.sqlite"
    previous = os.umask(0o022)  # the usual umask, which would give 0644
    try:
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("SELECT count(*) FROM events"))
            modes = {
                file.name: stat.S_IMODE(file.stat().st_mode)
                for file in tmp_path.iterdir()
                if file.name.startswith("node.sqlite")
            }
        engine.dispose()
    finally:
        os.umask(previous)
    assert {"node.sqlite", "node.sqlite-wal", "node.sqlite-shm"} <= set(modes)
    assert set(modes.values()) == {0o600}, modes


def test_an_existing_database_file_keeps_the_permissions_its_operator_gave_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "node.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    path.chmod(0o640)
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_consistency_proof_between_equal_tree_sizes_is_empty_and_needs_equal_roots(
    ctx: Context, run: World
) -> None:
    size, root = ledger.tree_head(ctx)
    proof = ledger.prove_consistency(ctx, AUDITOR, size, size)
    assert proof == []  # RFC 9162 section 2.1.4.1: PROOF(n, D[n]) is empty
    assert merkle.verify_consistency(size, size, root, root, proof)
    assert not merkle.verify_consistency(size, size, root, merkle.EMPTY_ROOT, proof)
    assert not merkle.verify_consistency(size, size, root, root, [root])
