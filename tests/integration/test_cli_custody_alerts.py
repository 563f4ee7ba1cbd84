"""``itptrace alerts custody``: the custody alerts capture raised, for the authorities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from itptrace.access import local_issuer
from itptrace.bootstrap import build_node
from itptrace.cli import verify as verify_cli
from itptrace.codes.service import ensure_signing_key
from itptrace.registry.service import init_party
from itptrace.sim.messages import hours
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import Refused, issue, production, register, send
from itptrace.sim.worlds import KENYA
from tests.conftest import make_settings

root = typer.Typer()
root.add_typer(verify_cli.alerts_app, name="alerts")


def test_alerts_custody_lists_an_arrival_of_undispatched_goods_naming_both_operators(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path)
    ctx = build_node(settings, migrate=True)
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    driver = ServiceDriver(ctx)
    world = issue(driver, register(driver, KENYA.accounts("cli")), packs=8, cartons=4, cases=2)
    at = driver.now() - hours(2)
    send(driver, world, world.maker_user, production(world, at))
    arrival = world.msg.arrive(world.importer, world.depot, [world.pallet], at + hours(1))
    with pytest.raises(Refused, match="not_in_your_custody"):
        send(driver, world, world.importer_user, [arrival])
    ctx.db.dispose()
    env = {
        "ITPTRACE_DATABASE_URL": database_url,
        "ITPTRACE_KEY_DIR": str(settings.key_dir),
        "ITPTRACE_COUNTRY": "KE",
        "ITPTRACE_ISSUER_CODE": "KET01",
        "ITPTRACE_CLOCK": "2026-01-05T08:00:00Z",
        "COLUMNS": "200",
    }
    runner = CliRunner()
    listed = runner.invoke(root, ["alerts", "custody"], env=env)
    assert listed.exit_code == 0, listed.output
    line = listed.output.strip()
    assert line.count("\n") == 0
    assert line.split()[1:5] == ["refused", world.importer, world.depot, f"{world.maker}:1"]
    shown = runner.invoke(root, ["alerts", "custody", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    [alert] = json.loads(shown.output)
    assert alert["event_id"] == arrival.event_id
    assert alert["holders"] == {world.maker: [world.pallet]}
    after = runner.invoke(root, ["alerts", "custody", "--after", str(alert["id"])], env=env)
    assert after.exit_code == 0 and after.output == ""
