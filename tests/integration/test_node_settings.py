"""Periodic checkpoints and the purpose requirement, the node's two serving policies."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from itptrace.access import local_issuer
from itptrace.api.app import create_app
from itptrace.auth import service as auth
from itptrace.bootstrap import build_node
from itptrace.codes.service import ensure_signing_key
from itptrace.context import Context
from itptrace.ledger import service as ledger
from itptrace.ledger.periodic import Checkpointer
from itptrace.registry.service import init_party
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from tests.conftest import make_settings


def test_the_checkpointer_signs_only_when_the_log_has_grown(ctx: Context) -> None:
    run_supply_chain(ServiceDriver(ctx), lambda _line: None)
    clock = Checkpointer(ctx, interval_seconds=0)
    assert clock.tick() is True
    size = ledger.latest_checkpoint(ctx).size  # type: ignore[union-attr]
    assert clock.tick() is False and clock.made == 1
    assert size == ledger.tree_head(ctx).size


def test_authority_queries_need_a_purpose_when_the_node_requires_one(tmp_path: Path) -> None:
    ctx = build_node(
        make_settings(f"sqlite:///{tmp_path / 'p.db'}", tmp_path, require_purpose=True),
        migrate=True,
    )
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    run = run_supply_chain(ServiceDriver(ctx), lambda _line: None)
    auth.add_user(ctx, local_issuer(), name="customs", role="authority")
    token = auth.create_token(ctx, local_issuer(), user="customs").token
    client = TestClient(create_app(ctx, start_worker=False))
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.get(f"/uis/{run.packs[0]}/where", headers=headers)
    assert refused.status_code >= 400 and refused.json()["type"].endswith("/purpose_required")
    allowed = client.get(f"/uis/{run.packs[0]}/where", headers={**headers, "X-Purpose": "case 17"})
    assert allowed.status_code == 200
