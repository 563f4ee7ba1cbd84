"""The tamper-evident ledger on SQLite and PostgreSQL: leaves, proofs, checkpoints, fsck."""

from __future__ import annotations

import stat
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from itptrace.access import Actor, Role
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer_service
from itptrace.codes.service import AggregateRequest, UnitRequest
from itptrace.context import Context
from itptrace.errors import Forbidden, NotFound
from itptrace.ledger import audit, log, merkle, sources, store
from itptrace.ledger import service as ledger
from itptrace.ledger.checkpoint import (
    CheckpointError,
    parse_verifier_key,
    verifier_key,
    verify_checkpoint,
)
from itptrace.ledger.encoding import codes_digest, decode_record, encode_record
from itptrace.ledger.fsck import fsck
from itptrace.ledger.model import LedgerForked, TreeHead
from itptrace.repository.append_only import drop_append_only_ddl
from itptrace.repository.schema import code_requests, ledger_leaves, unit_uis
from itptrace.sim.world import World
from tests.integration.chain import build_world

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def unit_request(world: World, quantity: int = 5) -> UnitRequest:
    return UnitRequest(world.maker, world.plant, world.machine, world.gtin, "KE", quantity)


def append_synthetic(ctx: Context, count: int, start: int = 0) -> list[bytes]:
    """Append ``count`` leaves of a kind without records; return their leaf hashes."""
    data = [f"leaf {start + i}".encode() for i in range(count)]
    with ctx.db.transaction() as conn:
        ledger.append(conn, "synthetic", [(str(start + i), d) for i, d in enumerate(data)], at=NOW)
    return [merkle.leaf_hash(d) for d in data]


def signed_head(ctx: Context, issuer: Actor) -> tuple[int, bytes]:
    """Size and root taken together from a freshly signed checkpoint."""
    note = ledger.make_checkpoint(ctx, issuer).note
    _, public = parse_verifier_key(ledger.verifier_keys(ctx)[0])
    _, size, root = verify_checkpoint(note, public)
    return size, root


def run_sql(ctx: Context, statement: str) -> None:
    with ctx.db.transaction() as conn:
        conn.execute(text(statement))


def unguard(ctx: Context, table: str) -> None:
    """Drop a table's append-only triggers, as someone with DBA rights could."""
    for statement in drop_append_only_ddl(ctx.db.dialect, table):
        run_sql(ctx, statement)


# Ledger entries are read by auditors (and authorities), not by the issuer's staff.
AUDITOR = Actor("auditor", Role.AUDITOR)


def leaf_kinds(ctx: Context, issuer: Actor) -> list[tuple[str, str]]:
    return [(e.kind, e.ref) for e in ledger.entries(ctx, AUDITOR, 0, 100)]


# --- leaves for issuance, in the same transaction ---


def test_issuing_codes_appends_one_issuance_leaf_that_matches_the_stored_request(
    ctx: Context, issuer: Actor
) -> None:
    world = build_world(ctx)
    unit = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 7))
    aggregate = issuer_service.request_aggregate_codes(
        ctx, issuer, AggregateRequest(world.maker, world.plant, 3)
    )
    assert leaf_kinds(ctx, issuer) == [
        ("issuance", str(unit.request_id)),
        ("issuance", str(aggregate.request_id)),
    ]
    with ctx.db.transaction() as conn:
        data = sources.issuance_leaf(conn, str(unit.request_id))
        pairs = conn.execute(
            select(unit_uis.c.ui, unit_uis.c.tag).where(unit_uis.c.request_id == unit.request_id)
        ).all()
    assert data is not None
    kind, fields = decode_record(data)
    assert (kind, fields["count"], fields["quantity"]) == ("issuance", 7, 7)
    assert fields["codes_sha256"] == codes_digest([(c, t) for c, t in pairs])
    assert fields["requested_at"] == "2026-01-05T08:00:00.000000Z"
    assert ledger.entries(ctx, AUDITOR, 0, 1)[0].leaf_hash == merkle.leaf_hash(data)


def test_a_failing_ledger_append_rolls_back_the_request_and_its_codes(
    ctx: Context, issuer: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build_world(ctx)

    def broken(*_: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "insert_nodes", broken)
    with pytest.raises(RuntimeError):
        issuer_service.request_unit_codes(ctx, issuer, unit_request(world))
    with ctx.db.transaction() as conn:
        counts = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (code_requests, unit_uis, ledger_leaves)
        ]
    assert counts == [0, 0, 0]
    assert ledger.tree_head(ctx).size == 0


def test_a_refused_request_appends_no_leaf(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    with pytest.raises(Exception, match="quantity"):
        issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 0))
    assert ledger.tree_head(ctx) == TreeHead(0, merkle.EMPTY_ROOT)


def test_deactivations_and_cancellations_are_logged_as_leaves(ctx: Context, issuer: Actor) -> None:
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 4))
    codes = [c.ui for c in lifecycle.request_codes(ctx, issuer, batch.request_id)]
    lifecycle.deactivate_codes(ctx, issuer, codes[:2], "damaged")
    lifecycle.cancel_request(ctx, issuer, batch.request_id, "wrong market")
    kinds = leaf_kinds(ctx, issuer)
    assert kinds[1][0] == "audit"  # reading the codes is audited, and its record ledgered
    assert kinds[:1] + kinds[2:] == [
        ("issuance", str(batch.request_id)),
        ("deactivation", codes[0]),
        ("deactivation", codes[1]),
        ("cancellation", str(batch.request_id)),
    ]
    assert fsck(ctx, issuer).ok


def test_the_leaf_encoding_is_canonical_whatever_the_order_or_time_zone() -> None:
    one_hour = timezone(timedelta(hours=1))
    first = encode_record(
        "issuance", {"b": 1, "a": "é", "t": datetime(2026, 1, 5, 9, 30, tzinfo=one_hour)}
    )
    second = encode_record("issuance", {"t": datetime(2026, 1, 5, 8, 30), "a": "é", "b": 1})
    expected = '{"a":"é","b":1,"t":"2026-01-05T08:30:00.000000Z"}'
    assert first == second == b"itptrace-leaf/1\nissuance\n" + expected.encode()
    for bad in ({"x": 1.5}, {"x": b"raw"}, {"x": {1: "a"}}):
        with pytest.raises(TypeError):
            encode_record("issuance", bad)
    with pytest.raises(ValueError):
        encode_record("Issuance", {})
    digest = codes_digest([("B", None), ("A", "t")])
    assert digest == codes_digest([("A", "t"), ("B", None)])
    assert digest not in {codes_digest([("A", "u"), ("B", None)]), codes_digest([("A", "t")])}


# --- the tree from stored nodes ---


def test_the_root_from_stored_nodes_equals_the_merkle_root_for_every_size_up_to_70(
    ctx: Context,
) -> None:
    hashes: list[bytes] = []
    for size in range(1, 71):
        hashes += append_synthetic(ctx, 1, size - 1)
        assert ledger.tree_head(ctx) == TreeHead(size, merkle.root_hash(hashes))


def test_bulk_appends_of_odd_sizes_give_the_same_roots(ctx: Context) -> None:
    hashes: list[bytes] = []
    for count in (1, 3, 5, 7, 9, 11, 13, 15, 5, 1):
        hashes += append_synthetic(ctx, count, len(hashes))
        assert ledger.tree_head(ctx) == TreeHead(len(hashes), merkle.root_hash(hashes))
    assert len(hashes) == 70
    with ctx.db.transaction() as conn:
        assert [log.root_at(conn, n) for n in range(71)] == [
            merkle.root_hash(hashes[:n]) for n in range(71)
        ]


def test_every_inclusion_and_consistency_proof_verifies_against_checkpointed_roots(
    ctx: Context, issuer: Actor
) -> None:
    heads: list[tuple[int, bytes]] = []
    for size in range(1, 71):
        append_synthetic(ctx, 1, size - 1)
        if size in (1, 2, 3, 7, 8, 13, 32, 33, 64, 70):
            heads.append(signed_head(ctx, issuer))
    for size, root in heads:
        for seq in range(size):
            proof = ledger.inclusion_proof(ctx, seq, size)
            leaf = merkle.leaf_hash(f"leaf {seq}".encode())
            assert merkle.verify_inclusion(leaf, seq, size, proof, root)
    for i, (size1, root1) in enumerate(heads):
        for size2, root2 in heads[i:]:
            proof = ledger.consistency_proof(ctx, size1, size2)
            assert merkle.verify_consistency(size1, size2, root1, root2, proof)


def test_a_proof_reads_a_logarithmic_number_of_node_rows_and_no_leaves(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 1000
    append_synthetic(ctx, size)
    rows_read: list[int] = []
    real_get_nodes = store.get_nodes

    def counting(conn: Any, keys: Any) -> dict[tuple[int, int], bytes]:
        found = real_get_nodes(conn, keys)
        rows_read.append(len(found))
        return found

    def no_leaves(*_: Any) -> None:
        raise AssertionError("a proof must not read leaves")

    monkeypatch.setattr(store, "get_nodes", counting)
    monkeypatch.setattr(store, "leaves", no_leaves)
    bound = 2 * size.bit_length()  # at most two nodes per level of a 1000-leaf tree
    for seq in range(0, size, 37):
        ledger.inclusion_proof(ctx, seq, size)
        ledger.consistency_proof(ctx, seq + 1, size)
    ledger.tree_head(ctx)
    assert rows_read and max(rows_read) <= bound < size // 40


def test_concurrent_appends_serialise_into_one_consistent_tree(ctx: Context, issuer: Actor) -> None:
    def worker(name: str) -> None:
        for i in range(8):
            ref = f"{name}-{i}"
            with ctx.db.transaction() as conn:
                ledger.append(conn, "synthetic", [(ref, f"leaf {ref}".encode())], at=NOW)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = ledger.entries(ctx, AUDITOR, 0, 100)
    assert [e.seq for e in found] == list(range(32))
    assert ledger.tree_head(ctx).root == merkle.root_hash([e.leaf_hash for e in found])
    assert fsck(ctx, issuer, {"synthetic": lambda _conn, ref: f"leaf {ref}".encode()}).ok


# --- checkpoints ---


def test_a_checkpoint_note_parses_and_verifies_and_any_change_to_it_fails(
    ctx: Context, issuer: Actor
) -> None:
    append_synthetic(ctx, 5)
    note = ledger.make_checkpoint(ctx, issuer).note
    name, public = parse_verifier_key(ledger.verifier_keys(ctx)[0])
    origin, size, root = verify_checkpoint(note, public)
    assert (origin, name, size) == ("itptrace.KE.KET01/ledger", origin, 5)
    assert root == ledger.tree_head(ctx).root
    lines = note.split("\n")
    assert lines[3] == "" and lines[4].startswith(f"\u2014 {origin} ")
    tampered = [
        note.replace("\n5\n", "\n6\n"),
        note.replace(origin, "itptrace.KE.KET02/ledger", 1),
        note.replace(lines[2], merkle.EMPTY_ROOT.hex()[:44]),
        note[:-3] + ("A" if note[-3] != "A" else "B") + note[-2:],
        note.replace("\n\n", "\n"),
    ]
    for bad in tampered:
        with pytest.raises(CheckpointError):
            verify_checkpoint(bad, public)
    other = parse_verifier_key(verifier_key("someone.else/log", public))[1]
    with pytest.raises(CheckpointError, match="no signature"):
        verify_checkpoint(note, other, "someone.else/log")


def test_an_unchanged_tree_gets_no_second_checkpoint(ctx: Context, issuer: Actor) -> None:
    append_synthetic(ctx, 3)
    first = ledger.make_checkpoint(ctx, issuer)
    assert ledger.make_checkpoint(ctx, issuer) == first


@pytest.mark.parametrize("grow", [False, True], ids=["same size", "grown"])
def test_a_checkpoint_inconsistent_with_the_previous_one_is_refused(
    ctx: Context, issuer: Actor, grow: bool
) -> None:
    append_synthetic(ctx, 10)
    before = ledger.make_checkpoint(ctx, issuer)
    # The tree of 10 leaves folds nodes (3, 0) and (1, 4); rewrite the first of them.
    unguard(ctx, "ledger_nodes")
    with ctx.db.transaction() as conn:
        conn.execute(
            text("UPDATE ledger_nodes SET hash = :h WHERE level = 3 AND idx = 0"),
            {"h": b"\x07" * 32},
        )
    if grow:
        append_synthetic(ctx, 1, 10)
    with pytest.raises(LedgerForked, match="not an extension"):
        ledger.make_checkpoint(ctx, issuer)
    assert ledger.latest_checkpoint(ctx) == before


def test_the_ledger_key_is_its_own_key_kept_in_a_private_file(ctx: Context, issuer: Actor) -> None:
    ledger.make_checkpoint(ctx, issuer)
    ledger_kid = ledger.ledger_keys(ctx).active_kid()
    assert ledger_kid is not None and ledger_kid != ctx.keys.active_kid()
    assert ledger_kid not in {k.kid for k in ctx.keys.keys()}
    path = ctx.settings.key_dir / "ledger" / f"{ledger_kid}.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    exported = ledger.export_ledger_key(ctx)
    assert "PRIVATE" not in str(exported)


@pytest.mark.parametrize(
    "actor",
    [
        Actor("nyota-admin", Role.ISSUER_ADMIN, tobacco_industry=True),
        Actor("nyota-authority", Role.AUTHORITY, tobacco_industry=True),
        Actor("nyota-ops", Role.OPERATOR, operator_id="KET01O1", tobacco_industry=True),
        Actor("auditor", Role.AUDITOR),
        Actor("inspector", Role.INSPECTOR),
    ],
    ids=lambda a: a.name,
)
def test_only_the_issuer_and_the_authority_make_checkpoints(ctx: Context, actor: Actor) -> None:
    with pytest.raises(Forbidden) as refused:
        ledger.make_checkpoint(ctx, actor)
    assert (refused.value.code == "industry_refused") == actor.tobacco_industry
    assert ledger.latest_checkpoint(ctx) is None
    ledger.make_checkpoint(ctx, Actor("ministry", Role.AUTHORITY))


def test_auditors_read_and_check_the_ledger_but_the_industry_does_not(
    ctx: Context, issuer: Actor
) -> None:
    append_synthetic(ctx, 2)
    auditor = Actor("auditor", Role.AUDITOR)
    assert len(ledger.entries(ctx, auditor, 0, 2)) == 2
    assert not fsck(ctx, auditor).ok  # synthetic leaves have no records
    industry = Actor("nyota", Role.AUDITOR, tobacco_industry=True)
    for call in (
        lambda: ledger.entries(ctx, industry, 0, 2),
        lambda: fsck(ctx, industry),
        lambda: audit.prove(ctx, industry, 0, 2),
    ):
        with pytest.raises(Forbidden):
            call()


def test_the_latest_checkpoint_is_read_by_a_ledger_reader_and_is_not_found_before_the_first(
    ctx: Context, issuer: Actor
) -> None:
    auditor = Actor("auditor", Role.AUDITOR)
    with pytest.raises(NotFound, match="no checkpoint yet"):
        ledger.read_checkpoint(ctx, auditor)
    made = ledger.make_checkpoint(ctx, issuer)
    assert ledger.read_checkpoint(ctx, auditor) == made
    with pytest.raises(Forbidden):
        ledger.read_checkpoint(ctx, Actor("nyota", Role.AUDITOR, tobacco_industry=True))


# --- append-only tables ---

APPEND_ONLY = {
    "ledger_leaves": "kind = 'tampered'",
    "ledger_nodes": "level = level + 50",
    "ledger_checkpoints": "note = 'tampered'",
    "code_requests": "requested_by = 'tampered'",
    "unit_uis": "tag = 'tampered'",
    "aggregate_uis": "tag = 'tampered'",
    "request_cancellations": "reason = 'tampered'",
    "ui_deactivations": "detail = 'tampered'",
}


def history(ctx: Context, issuer: Actor) -> None:
    """At least one row in every append-only table."""
    world = build_world(ctx)
    batch = issuer_service.request_unit_codes(ctx, issuer, unit_request(world, 3))
    issuer_service.request_aggregate_codes(
        ctx, issuer, AggregateRequest(world.maker, world.plant, 2)
    )
    code = next(lifecycle.request_codes(ctx, issuer, batch.request_id)).ui
    lifecycle.deactivate_codes(ctx, issuer, [code], "damaged")
    lifecycle.cancel_request(ctx, issuer, batch.request_id, "mistake")
    ledger.make_checkpoint(ctx, issuer)


def snapshot(ctx: Context, table: str) -> list[tuple[Any, ...]]:
    with ctx.db.transaction() as conn:
        return sorted(tuple(row) for row in conn.execute(text(f"SELECT * FROM {table}")))


@pytest.mark.parametrize("table", sorted(APPEND_ONLY))
def test_update_and_delete_are_refused_on_every_append_only_table(
    ctx: Context, issuer: Actor, table: str
) -> None:
    history(ctx, issuer)
    before = snapshot(ctx, table)
    assert before
    statements = [f"UPDATE {table} SET {APPEND_ONLY[table]}", f"DELETE FROM {table}"]
    if ctx.db.dialect == "postgresql":
        statements.append(f"TRUNCATE {table} CASCADE")
    for statement in statements:
        with pytest.raises(IntegrityError, match="append-only"):
            run_sql(ctx, statement)
    assert snapshot(ctx, table) == before


# --- fsck ---


def test_fsck_finds_nothing_wrong_with_an_untouched_ledger(ctx: Context, issuer: Actor) -> None:
    history(ctx, issuer)
    report = fsck(ctx, issuer)
    assert report.ok, [str(p) for p in report.problems]
    # issuance x2, the audited read of a code, deactivation, cancellation
    assert (report.size, report.leaves_checked, report.checkpoints_checked) == (5, 5, 1)
    assert report.nodes_checked == 5 + 2 + 1


def test_fsck_reports_a_code_edited_directly_in_the_database(ctx: Context, issuer: Actor) -> None:
    history(ctx, issuer)
    with ctx.db.transaction() as conn:
        ui, request_id = conn.execute(select(unit_uis.c.ui, unit_uis.c.request_id)).first()
    edit = f"UPDATE unit_uis SET tag = 'forged' WHERE ui = '{ui}'"
    with pytest.raises(IntegrityError):
        run_sql(ctx, edit)  # the trigger refuses a plain UPDATE...
    assert fsck(ctx, issuer).ok
    unguard(ctx, "unit_uis")  # ...so the forger drops it first
    run_sql(ctx, edit)
    problems = fsck(ctx, issuer).problems
    assert [(p.seq, p.kind, p.ref) for p in problems] == [
        (0, "issuance", str(request_id)),
        (None, "checkpoint", "checkpoint of 5 leaves"),
        (None, "root", "tree head"),
    ]
    assert "differs from the logged leaf" in str(problems[0])


def test_fsck_reports_tampered_nodes_leaf_hashes_and_unknown_kinds(
    ctx: Context, issuer: Actor
) -> None:
    history(ctx, issuer)  # five leaves: seq 3 is the deactivation
    append_synthetic(ctx, 1, 5)
    for table in ("ledger_nodes", "ledger_leaves"):
        unguard(ctx, table)
    with ctx.db.transaction() as conn:
        conn.execute(
            text("UPDATE ledger_nodes SET hash = :h WHERE level = 0 AND idx = 1"),
            {"h": b"\x01" * 32},
        )
        conn.execute(
            text("UPDATE ledger_leaves SET leaf_hash = :h WHERE seq = 3"), {"h": b"\x02" * 32}
        )
    found = {(p.seq, p.kind, p.ref) for p in fsck(ctx, issuer).problems}
    assert {
        (None, "node", "node (level 0, idx 1)"),
        (None, "node", "node (level 0, idx 3)"),  # rebuilt from the edited leaf hash
        (3, "deactivation", found_ref(found, 3)),
        (5, "synthetic", "5"),
    } <= found


def found_ref(found: set[tuple[int | None, str, str]], seq: int) -> str:
    return next(ref for s, _, ref in found if s == seq)


def test_fsck_uses_the_node_source_of_a_new_kind(ctx: Context, issuer: Actor) -> None:
    append_synthetic(ctx, 3)
    assert [p.problem for p in fsck(ctx, issuer).problems] == [
        "no fsck source for kind 'synthetic'"
    ] * 3

    def synthetic(_conn: Any, ref: str) -> bytes:
        return f"leaf {ref}".encode()

    node = replace(
        ctx, leaf_sources=sources.leaf_sources(ctx.leaf_sources, {"synthetic": synthetic})
    )
    assert fsck(node, issuer).ok
    assert fsck(ctx, issuer, {**ctx.leaf_sources, "synthetic": synthetic}).ok
    assert "synthetic" not in ctx.leaf_sources  # the other node is untouched


def test_the_leaf_sources_are_a_read_only_value_of_the_node(ctx: Context) -> None:
    assert set(ctx.leaf_sources) == {
        "issuance",
        "cancellation",
        "deactivation",
        "event",
        "audit",
        "scan",
        "alert",
        "alert_status",
    }
    with pytest.raises(TypeError):
        ctx.leaf_sources["synthetic"] = lambda _conn, _ref: None  # type: ignore[index]
    with pytest.raises(ValueError, match="not a ledger record kind"):
        sources.leaf_sources({"Not A Kind": lambda _conn, _ref: None})


def test_reading_ledger_nodes_by_key_searches_the_primary_key_instead_of_scanning(
    ctx: Context,
) -> None:
    query = store.nodes_query([(0, 5), (1, 2), (3, 0)])
    compiled = query.compile(ctx.db.engine, compile_kwargs={"literal_binds": True})
    with ctx.db.engine.begin() as conn:
        if ctx.db.dialect == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
            plan = " | ".join(str(row[-1]) for row in rows)
            searched, scanned = "SEARCH ledger_nodes", "SCAN ledger_nodes"
        else:
            # PostgreSQL's planner may rightly scan a table this small; with scans priced out,
            # a plan that still scans would mean the OR of keys cannot use the primary key.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = " | ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
            searched, scanned = "Index Scan on ledger_nodes_pkey", "Seq Scan"
    assert searched in plan and scanned not in plan, plan
