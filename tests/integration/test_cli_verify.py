"""``itptrace verify ...`` and ``itptrace alerts ...``, run in-process on both databases.

The lead registers ``cli.verify.app`` as ``verify`` and ``cli.verify.alerts_app`` as
``alerts``; these tests mount them the same way on a bare typer app.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from itptrace.access import local_issuer
from itptrace.bootstrap import build_node
from itptrace.cli import verify as verify_cli
from itptrace.codes import lifecycle
from itptrace.codes.service import ensure_signing_key
from itptrace.gs1.element import to_element_string, to_raw
from itptrace.registry.service import init_party
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from tests.conftest import make_settings
from tests.integration.test_verify import photo

root = typer.Typer()
root.add_typer(verify_cli.app, name="verify")
root.add_typer(verify_cli.alerts_app, name="alerts")


class Cli:
    def __init__(self, env: dict[str, str]):
        self.runner = CliRunner()
        self.env = env

    def __call__(self, *args: str, expect: int = 0) -> str:
        result = self.runner.invoke(root, list(args), env=self.env)
        assert result.exit_code == expect, result.output
        return result.output


@pytest.fixture
def setup(database_url: str, tmp_path: Path) -> tuple[Cli, dict[str, str]]:
    settings = make_settings(database_url, tmp_path)
    ctx = build_node(settings, migrate=True)
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    run = run_supply_chain(ServiceDriver(ctx), lambda _text: None)
    payloads = list(lifecycle.request_codes(ctx, local_issuer(), 1))
    lifecycle.deactivate_codes(ctx, local_issuer(), [payloads[1].ui], "stolen")
    png = tmp_path / "photo.png"
    png.write_bytes(photo(payloads[2], tmp_path / "code.png"))
    ctx.db.dispose()
    env = {
        "ITPTRACE_DATABASE_URL": database_url,
        "ITPTRACE_KEY_DIR": str(settings.key_dir),
        "ITPTRACE_COUNTRY": "KE",
        "ITPTRACE_ISSUER_CODE": "KET01",
        "ITPTRACE_CLOCK": "2026-01-05T08:00:00Z",
        "ITPTRACE_TRUST_DIR": str(tmp_path / "device-trust"),
        "COLUMNS": "200",
    }
    codes = {
        "genuine": to_raw(payloads[0]),
        "stolen": to_element_string(payloads[1]),
        "photo": str(png),
        "ui": run.packs[0],
        "bundle": str(tmp_path / "bundle"),
        "bundle_key": str(tmp_path / "bundle-key.json"),
    }
    return Cli(env), codes


def test_verify_scan_prints_the_verdict_and_exits_by_it(setup: tuple[Cli, dict[str, str]]) -> None:
    cli, codes = setup
    out = cli("verify", "scan", codes["genuine"], "--country", "KE", "--place", "Kisumu")
    assert out.startswith("AUTHENTIC") and "Savanna Gold by Nyota Tobacco Ltd" in out
    stolen = cli("verify", "scan", codes["stolen"], "--country", "KE", "--json", expect=3)
    answer = json.loads(stolen)
    assert answer["verdict"] == "illicit" and answer["reasons"][0]["code"] == "stolen"
    diverted = cli(
        "verify", "scan", codes["ui"], "--country", "TZ", "--lat", "-6.8", "--lon", "39.2", expect=3
    )
    assert diverted.startswith("ILLICIT") and "[diverted]" in diverted
    assert "AUTHENTIC" in cli("verify", "scan", "--image", codes["photo"], "--country", "KE")


def test_a_photo_larger_than_the_pixel_cap_is_refused_at_the_console_before_it_is_decoded(
    setup: tuple[Cli, dict[str, str]],
) -> None:
    cli, codes = setup
    capped = Cli({**cli.env, "ITPTRACE_IMAGE_MAX_PIXELS": "100"})
    for extra in ((), ("--offline", codes["bundle"])):
        out = capped(
            "verify", "scan", "--image", codes["photo"], "--country", "KE", *extra, expect=1
        )
        assert out.startswith("error: ") and out.count("\n") == 1, out
        assert "100" in out and "pixels" in out, out
    assert "AUTHENTIC" in cli("verify", "scan", "--image", codes["photo"], "--country", "KE")


def test_refusals_are_one_line_errors_with_exit_1(setup: tuple[Cli, dict[str, str]]) -> None:
    cli, codes = setup
    for args in (
        ("verify", "scan", codes["ui"], "--country", "XX"),
        ("verify", "scan", codes["ui"]),
        ("verify", "scan", codes["ui"], "--country", "KE", "--lat", "1"),
        ("verify", "scan", codes["ui"], "--country", "KE", "--scan-id", "abc"),
        ("alerts", "set-status", "999", "closed"),
    ):
        out = cli(*args, expect=1)
        assert out.startswith("error: ") and out.count("\n") == 1, out


def test_offline_bundle_scan_sync_and_alerts(setup: tuple[Cli, dict[str, str]]) -> None:
    cli, codes = setup
    bundle = codes["bundle"]
    exported = json.loads(cli("verify", "export-offline", "--out", bundle, "--json"))
    assert exported["revoked_entries"] == 1 and exported["false_positive_rate"] <= 0.001
    at = ("--at", "2026-01-05T08:00:00Z")
    genuine = ("verify", "scan", codes["genuine"], "--country", "KE", "--offline", bundle, *at)
    assert "no bundle key is pinned" in cli(*genuine, expect=1)
    assert exported["bundle_key_id"] in cli("verify", "bundle-key", "--out", codes["bundle_key"])
    assert "pinned" in cli("verify", "pin", codes["bundle_key"])
    out = cli(*genuine)
    assert out.startswith("AUTHENTIC") and "queued as" in out
    out = cli(
        "verify", "scan", codes["stolen"], "--country", "KE", "--offline", bundle, *at, expect=3
    )
    assert out.startswith("ILLICIT") and "[stolen]" in out
    synced = json.loads(cli("verify", "sync", "--bundle", bundle, "--json"))
    assert (synced["uploaded"], synced["repeated"]) == (2, 0)
    assert "0 uploaded" in cli("verify", "sync", "--bundle", bundle)
    listed = cli("alerts", "list", "--status", "open")
    assert "stolen_or_lost" in listed
    alert_id = listed.split()[0]
    assert "investigating" in cli("alerts", "set-status", alert_id, "investigating")
    shown = json.loads(cli("alerts", "show", alert_id))
    assert shown["status"] == "investigating"
