"""``itptrace ledger ...`` in-process, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import func, insert, select, text, update
from typer.testing import CliRunner

from itptrace.access import Actor, Role
from itptrace.cli import ledger as ledger_cli
from itptrace.codes import service as issuer_service
from itptrace.codes.service import UnitRequest
from itptrace.context import Context
from itptrace.ledger import merkle
from itptrace.ledger.checkpoint import parse_verifier_key, verify_checkpoint
from itptrace.repository.append_only import drop_append_only_ddl
from itptrace.repository.schema import events, scans, ui_state
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import World
from itptrace.verify.model import Place, ScanInput
from itptrace.verify.service import verify
from tests.integration.chain import build_world

INSPECTOR = Actor("inspector-wanjiru", Role.INSPECTOR)


def run_code() -> str:
    """A code never issued: its scan is stored with a counterfeit verdict."""
    return "KET01zzzzzzzzz00000000"


class LedgerCli:
    def __init__(self, ctx: Context):
        self.app = typer.Typer()
        self.app.add_typer(ledger_cli.app, name="ledger")
        self.runner = CliRunner()
        settings = ctx.settings
        self.env = {
            "ITPTRACE_DATABASE_URL": settings.database_url,
            "ITPTRACE_KEY_DIR": str(settings.key_dir),
            "ITPTRACE_COUNTRY": settings.country,
            "ITPTRACE_ISSUER_CODE": settings.issuer_code,
            "ITPTRACE_CLOCK": settings.clock,
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, expect: int = 0) -> str:
        result = self.runner.invoke(self.app, ["ledger", *args], env=self.env)
        assert result.exit_code == expect, result.output
        return result.output

    def json(self, *args: str) -> Any:
        return json.loads(self(*args))


@pytest.fixture
def cli(ctx: Context) -> LedgerCli:
    return LedgerCli(ctx)


def issue(ctx: Context, issuer: Actor, world: World, quantity: int = 3) -> int:
    request = UnitRequest(world.maker, world.plant, world.machine, world.gtin, "KE", quantity)
    return issuer_service.request_unit_codes(ctx, issuer, request).request_id


def test_checkpoint_prints_a_note_that_verifies_with_the_exported_key(
    ctx: Context, issuer: Actor, cli: LedgerCli, tmp_path: Path
) -> None:
    issue(ctx, issuer, build_world(ctx))
    note = cli("checkpoint", "--out", str(tmp_path / "cp.txt"))
    assert (tmp_path / "cp.txt").read_text() == note
    exported = cli.json("export-key")
    assert exported["origin"] == "itptrace.KE.KET01/ledger"
    _, public = parse_verifier_key(exported["keys"][0]["vkey"])
    assert verify_checkpoint(note, public)[:2] == ("itptrace.KE.KET01/ledger", 1)


def test_prove_prints_an_inclusion_proof_for_the_latest_checkpoint(
    ctx: Context, issuer: Actor, cli: LedgerCli
) -> None:
    world = build_world(ctx)
    request_ids = [issue(ctx, issuer, world) for _ in range(3)]
    cli("prove", "--seq", "0", expect=1)  # no checkpoint yet
    cli("checkpoint")
    proof = cli.json("prove", "--seq", "1")
    assert (proof["kind"], proof["ref"], proof["tree_size"]) == ("issuance", str(request_ids[1]), 3)
    public = parse_verifier_key(cli.json("export-key")["keys"][0]["vkey"])[1]
    _, size, root = verify_checkpoint(proof["checkpoint"], public)
    path = [base64.b64decode(h) for h in proof["path"]]
    leaf = base64.b64decode(proof["leaf_hash"])
    assert merkle.verify_inclusion(leaf, 1, size, path, root)
    assert cli.json("prove", "--seq", "0", "--size", "2")["checkpoint"] is None


def test_verify_accepts_a_node_that_only_grew_since_the_kept_checkpoint(
    ctx: Context, issuer: Actor, cli: LedgerCli, tmp_path: Path
) -> None:
    world = build_world(ctx)
    issue(ctx, issuer, world)
    old = tmp_path / "old.txt"
    old.write_text(cli("checkpoint"))
    key = tmp_path / "ledger-key.json"
    key.write_text(cli("export-key"))
    issue(ctx, issuer, world)
    issue(ctx, issuer, world)
    cli("checkpoint")
    out = cli("verify", "--checkpoint", str(old), "--key", str(key), "--seq", "2")
    assert "checkpoint of 3 leaves verifies and extends the checkpoint of 1 leaves" in out
    assert "leaf 2 (issuance" in out
    assert "tree size: 3 leaves" in out and "kept checkpoint: 1 leaves" in out
    assert "consistency: proof from 1 to 3 leaves of 2 hash(es) verified" in out
    assert "records checked: 1, leaf 2 (issuance" in out
    assert "inclusion proof of 1 hash(es) verified" in out  # leaf 2 of 3: one sibling


def test_verify_says_so_when_it_checked_no_record(
    ctx: Context, issuer: Actor, cli: LedgerCli, tmp_path: Path
) -> None:
    issue(ctx, issuer, build_world(ctx))
    kept = tmp_path / "kept.txt"
    kept.write_text(cli("checkpoint"))
    out = cli("verify", "--checkpoint", str(kept))
    assert "tree size: 1 leaves" in out
    assert "consistency: same size and same root as the kept checkpoint; no proof" in out
    assert "records checked: none (add --seq N" in out


def test_fsck_names_a_forged_event_row_and_deep_names_an_edited_state(
    ctx: Context, cli: LedgerCli
) -> None:
    run = run_supply_chain(ServiceDriver(ctx), lambda _text: None)
    assert "ok: " in cli("fsck", "--deep")
    with ctx.db.transaction() as conn:
        row = conn.execute(select(events).limit(1)).first()
        assert row is not None
        seq = int(conn.execute(select(func.max(events.c.seq))).scalar_one()) + 1
        conn.execute(insert(events).values({**row._mapping, "seq": seq, "event_id": "FORGED"}))
        conn.execute(
            update(ui_state).where(ui_state.c.ui == run.pallet).values(custodian_id="FORGED")
        )
    out = cli("fsck", expect=1)
    assert f"event {seq} (events.seq): the record has no leaf" in out
    assert "error: 1 problem(s) found" in out
    out = cli("fsck", "--deep", expect=1)
    assert f"ui_state {run.pallet}: custodian_id is 'FORGED'" in out
    assert "error: 2 problem(s) found" in out and "ledgered events replayed" in out


def test_adopt_gives_a_scan_stored_before_it_was_ledgered_its_leaf_once(
    ctx: Context, cli: LedgerCli
) -> None:
    run_supply_chain(ServiceDriver(ctx), lambda _text: None)
    verify(
        ctx,
        INSPECTOR,
        ScanInput(
            run_code(),
            Place("KE", None, None, None),
            ctx.clock.now(),
            "00000000-0000-4000-8000-000000000001",
        ),
    )
    with ctx.db.transaction() as conn:
        row = conn.execute(select(scans).limit(1)).first()
        assert row is not None
        conn.execute(insert(scans).values({**row._mapping, "scan_id": "old-scan"}))
    assert "scan old-scan (scans.scan_id): the record has no leaf" in cli("fsck", expect=1)
    out = cli("adopt")
    assert "ok: adopted 1 record(s) into the ledger (1 scan, 0 alert, 0 alert_status)" in out
    assert "ok: " in cli("fsck")
    assert "ok: adopted 0 record(s)" in cli("adopt")


def test_verify_fails_with_one_line_on_a_forged_or_foreign_checkpoint(
    ctx: Context, issuer: Actor, cli: LedgerCli, tmp_path: Path
) -> None:
    issue(ctx, issuer, build_world(ctx))
    note = cli("checkpoint")
    forged = tmp_path / "forged.txt"
    forged.write_text(note.replace("\n1\n", "\n2\n"))
    out = cli("verify", "--checkpoint", str(forged), expect=1)
    assert out.count("\n") == 1 and "error: the signature of" in out
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps({"format": "itptrace-ledger-key/1", "keys": []}))
    good = tmp_path / "good.txt"
    good.write_text(note)
    assert "error: no verifier key" in cli(
        "verify", "--checkpoint", str(good), "--key", str(foreign), expect=1
    )


def test_fsck_passes_on_a_clean_ledger_and_prints_each_problem_otherwise(
    ctx: Context, issuer: Actor, cli: LedgerCli
) -> None:
    request_id = issue(ctx, issuer, build_world(ctx))
    cli("checkpoint")
    assert "ok: 1 leaves, 1 records, 1 nodes, 1 checkpoints checked" in cli("fsck")
    with ctx.db.transaction() as conn:
        for statement in drop_append_only_ddl(ctx.db.dialect, "code_requests"):
            conn.execute(text(statement))
        conn.execute(text("UPDATE code_requests SET intended_market = 'UG'"))
    out = cli("fsck", expect=1)
    assert f"leaf 0 (issuance {request_id}): its record differs" in out
    assert "error: 3 problem(s) found" in out


def test_export_key_needs_a_ledger_key_first(cli: LedgerCli) -> None:
    assert "error: there is no ledger key yet" in cli("export-key", expect=1)
