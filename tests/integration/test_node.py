"""The node object built by ``bootstrap.build_node``: what it holds, and its caches staying right.

Storage is involved everywhere here, so every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from sqlalchemy import text

from itptrace.access import Actor, Role, local_issuer
from itptrace.bootstrap import build_node
from itptrace.codes import lifecycle
from itptrace.codes import service as issuer
from itptrace.codes.keyset import PublishedKeys
from itptrace.codes.offline import PublicKeySet
from itptrace.context import Context
from itptrace.gs1.element import to_raw
from itptrace.keys.store import KeyStore
from itptrace.registry import service as registry
from itptrace.registry.names import RegistryNames
from itptrace.repository.db import Database
from itptrace.sim.world import World
from itptrace.verify.facts import public_keyset
from itptrace.verify.model import Place, ReasonCode, ScanInput, Verification
from itptrace.verify.rules import AUTH_FAILURES
from itptrace.verify.service import verify
from tests.integration.chain import build_world
from tests.integration.test_issuer import unit_request

INSPECTOR = Actor("inspector-akinyi", Role.INSPECTOR)
REPO = Path(__file__).resolve().parents[2]


def issue_one(ctx: Context, world: World) -> str:
    """One signed unit code, as printed."""
    batch = issuer.request_unit_codes(ctx, local_issuer(), unit_request(world, 1))
    (payload,) = lifecycle.request_codes(ctx, local_issuer(), batch.request_id)
    return to_raw(payload)


def scan(ctx: Context, code: str) -> Verification:
    return verify(ctx, INSPECTOR, ScanInput(code, Place("KE"), ctx.clock.now(), str(uuid.uuid4())))


def authentication_failures(result: Verification) -> set[ReasonCode]:
    return {r.code for r in result.reasons} & set(AUTH_FAILURES.values())


def test_importing_the_node_and_its_doors_creates_no_database_and_no_keys(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    env.pop("ITPTRACE_DATABASE_URL", None)
    env.pop("ITPTRACE_KEY_DIR", None)
    imports = "import itptrace.bootstrap, itptrace.cli.main, itptrace.api.app, itptrace.sim.demo"
    subprocess.run([sys.executable, "-c", imports], cwd=tmp_path, env=env, check=True)
    assert list(tmp_path.iterdir()) == []


def test_build_node_holds_the_database_clock_keys_caches_and_leaf_sources(ctx: Context) -> None:
    assert isinstance(ctx.db, Database) and isinstance(ctx.keys, KeyStore)
    assert isinstance(ctx.names, RegistryNames) and isinstance(ctx.public_keys, PublishedKeys)
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
    assert ctx.clock.now().isoformat() == "2026-01-05T08:00:00+00:00"


def test_two_nodes_on_one_database_share_no_cache(ctx: Context) -> None:
    other = build_node(ctx.settings)
    try:
        world = build_world(ctx)
        scan(ctx, issue_one(ctx, world))
        assert len(ctx.names) > 0
        assert len(other.names) == 0 and other.public_keys.parses == 0
        assert other.names is not ctx.names and other.public_keys is not ctx.public_keys
    finally:
        other.db.dispose()


def test_a_scan_shows_registry_names_read_once_and_kept_by_the_node(ctx: Context) -> None:
    world = build_world(ctx)
    code = issue_one(ctx, world)
    first = scan(ctx, code)
    assert first.facts is not None
    assert (first.facts.manufacturer, first.facts.facility, first.facts.brand) == (
        "Nyota Tobacco",
        "Plant",
        "Savanna Gold",
    )
    held = len(ctx.names)
    assert held >= 3  # the facility, the manufacturer, the product
    scan(ctx, code)
    assert len(ctx.names) == held


def test_a_changed_registry_row_is_seen_at_once_after_a_registry_write(ctx: Context) -> None:
    world = build_world(ctx)
    code = issue_one(ctx, world)
    scan(ctx, code)
    # A row changed behind the cache's back (no service edits names today) is still shown
    # as cached, until the next registry write of this node forgets what it held.
    with ctx.db.transaction() as conn:
        conn.execute(
            text("UPDATE facilities SET name = 'Plant 2' WHERE id = :f"), {"f": world.plant}
        )
    assert scan(ctx, code).facts.facility == "Plant"  # type: ignore[union-attr]
    registry.deactivate_machine(ctx, local_issuer(), world.machine)
    assert len(ctx.names) == 0
    assert scan(ctx, code).facts.facility == "Plant 2"  # type: ignore[union-attr]


def test_deactivating_a_facility_or_an_operator_empties_the_names_cache(ctx: Context) -> None:
    world = build_world(ctx)
    code = issue_one(ctx, world)
    scan(ctx, code)
    assert len(ctx.names) > 0
    registry.deactivate_facility(ctx, local_issuer(), world.depot)
    assert len(ctx.names) == 0
    scan(ctx, code)
    assert len(ctx.names) > 0
    registry.deactivate_operator(ctx, local_issuer(), world.importer)
    assert len(ctx.names) == 0
    result = scan(ctx, code)  # names of deactivated rows are still shown (history)
    assert result.facts is not None and result.facts.facility == "Plant"


def test_a_facility_not_found_by_one_read_is_found_once_registered(ctx: Context) -> None:
    world = build_world(ctx)
    assert ctx.names.facility("KET01FLATER1") is None
    with ctx.db.transaction() as conn:  # as another node process would register it
        conn.execute(
            text(
                "INSERT INTO facilities (id, operator_id, name, type, address, country, active,"
                " created_at) VALUES ('KET01FLATER1', :o, 'Late', 'warehouse', 'Eldoret', 'KE',"
                " :t, :now)"
            ),
            {"o": world.maker, "t": True, "now": ctx.clock.now()},
        )
    assert ctx.names.facility("KET01FLATER1") == ("KE", "Late")


def test_the_public_key_set_is_parsed_once_per_key_ring_change(ctx: Context) -> None:
    world = build_world(ctx)
    code = issue_one(ctx, world)
    for _ in range(3):
        scan(ctx, code)
    assert ctx.public_keys.parses == 1
    assert public_keyset(ctx) is public_keyset(ctx)


def test_the_cached_key_set_is_the_exported_one(ctx: Context) -> None:
    issuer.rotate_key(ctx, local_issuer())
    assert public_keyset(ctx) == PublicKeySet.from_json(lifecycle.export_public_keys(ctx))


def test_a_rotated_key_is_seen_by_the_next_verification_at_once(ctx: Context) -> None:
    world = build_world(ctx)
    old = issue_one(ctx, world)
    assert authentication_failures(scan(ctx, old)) == set()
    rotated = issuer.rotate_key(ctx, local_issuer())
    new = issue_one(ctx, world)
    assert rotated.kid in new
    assert authentication_failures(scan(ctx, new)) == set()
    assert authentication_failures(scan(ctx, old)) == set()  # the retired key still verifies
    assert ctx.public_keys.parses == 2


def test_a_key_rotated_by_another_process_is_seen_at_once(ctx: Context) -> None:
    world = build_world(ctx)
    scan(ctx, issue_one(ctx, world))
    # Another process has a key store of its own on the same directory.
    made = KeyStore(ctx.settings.key_dir).generate(ctx.clock.now())
    assert ctx.keys.active_kid() == made.kid
    new = issue_one(ctx, world)
    assert made.kid in new
    assert authentication_failures(scan(ctx, new)) == set()
    assert made.kid in public_keyset(ctx).keys
