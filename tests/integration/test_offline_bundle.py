"""The offline bundle: made by the node, used with no network, scans synced exactly once."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from itptrace.access import Actor, Role, local_issuer
from itptrace.codes import lifecycle
from itptrace.context import Context
from itptrace.gs1.element import CodePayload, to_raw
from itptrace.repository.schema import scans as scans_table
from itptrace.sim.world import World
from itptrace.verify import exchange, queue
from itptrace.verify.bundle import BundleCache, BundleError, load_bundle, verify_offline_bundle
from itptrace.verify.model import Place, ReasonCode, ScanInput, Verdict
from itptrace.verify.trust import DeviceTrust

INSPECTOR = Actor("inspector-otieno", Role.INSPECTOR)


@pytest.fixture
def bundle(ctx: Context, run: World, tmp_path: Path) -> Path:
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[0]], "stolen")
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[1]], "recalled")
    return exchange.export_offline_bundle(ctx, INSPECTOR, tmp_path / "bundle")


@pytest.fixture
def trust(ctx: Context, tmp_path: Path) -> DeviceTrust:
    """An inspector device with the node's bundle key pinned on it."""
    device = DeviceTrust(tmp_path / "trust")
    device.pin(exchange.bundle_key_document(ctx, INSPECTOR), ctx.clock.now())
    return device


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the offline path opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def reasons(check: object) -> list[ReasonCode]:
    return [f.code for f in check.reasons]  # type: ignore[attr-defined]


def test_the_bundle_states_its_false_positive_rate_and_uses_a_key_of_its_own(
    ctx: Context, bundle: Path
) -> None:
    manifest = json.loads((bundle / "bundle.json").read_text())
    revoked = manifest["revoked"]
    assert revoked["entries"] == 2
    assert 0 < revoked["false_positive_rate"] <= 0.001
    assert {f["reason"] for f in revoked["filters"]} == {"stolen", "recalled"}
    assert manifest["patterns"]["unit_ui"].startswith("^KET01")
    signer = exchange.bundle_key_document(ctx, INSPECTOR)
    issuer_keys = {k["public_key"] for k in manifest["public_keys"]["keys"]}
    assert signer["public_key"] not in issuer_keys
    assert exchange.bundle_public_keys(ctx) == [signer["public_key"]]
    assert json.loads((bundle / "bundle.sig").read_text())["kid"] == signer["kid"]


def test_a_device_verifies_from_the_bundle_alone(
    ctx: Context,
    run: World,
    codes: dict[str, CodePayload],
    bundle: Path,
    trust: DeviceTrust,
    no_network: None,
) -> None:
    now = ctx.clock.now()
    genuine = verify_offline_bundle(to_raw(codes[run.packs[5]]), bundle, now, trust)
    assert genuine.verdict is Verdict.AUTHENTIC and genuine.ui == run.packs[5]
    stolen = verify_offline_bundle(to_raw(codes[run.packs[0]]), bundle, now, trust)
    assert (stolen.verdict, reasons(stolen)) == (Verdict.ILLICIT, [ReasonCode.STOLEN])
    recalled = verify_offline_bundle(to_raw(codes[run.packs[1]]), bundle, now, trust)
    assert reasons(recalled) == [ReasonCode.RECALLED]
    tag = codes[run.packs[5]].tag or ""
    forged = to_raw(codes[run.packs[5]]).replace(
        tag, tag[:5] + ("A" if tag[5] != "A" else "B") + tag[6:]
    )
    assert verify_offline_bundle(forged, bundle, now, trust).verdict is Verdict.COUNTERFEIT
    bare = verify_offline_bundle(run.packs[5], bundle, now, trust)
    assert reasons(bare) == [ReasonCode.NOT_VERIFIABLE_OFFLINE]


def test_an_expired_damaged_or_untrusted_bundle_is_refused(
    ctx: Context,
    run: World,
    codes: dict[str, CodePayload],
    bundle: Path,
    trust: DeviceTrust,
    tmp_path: Path,
) -> None:
    code, now = to_raw(codes[run.packs[5]]), ctx.clock.now()
    with pytest.raises(BundleError, match="expired"):
        verify_offline_bundle(code, bundle, now + timedelta(days=8), trust)
    with pytest.raises(BundleError, match="no bundle key is pinned"):
        verify_offline_bundle(code, bundle, now, DeviceTrust(tmp_path / "new-device"))
    revoked = (bundle / "revoked.bin").read_bytes()
    (bundle / "revoked.bin").write_bytes(bytes(len(revoked)))  # clear the list of stolen codes
    with pytest.raises(BundleError, match="does not match"):
        verify_offline_bundle(code, bundle, now, trust)
    (bundle / "revoked.bin").write_bytes(revoked)
    manifest = (bundle / "bundle.json").read_text()
    later = manifest.replace('"valid_until": "2026', '"valid_until": "2027')
    (bundle / "bundle.json").write_text(later)
    with pytest.raises(BundleError, match="signature"):
        load_bundle(bundle, now, trust)


def test_a_bundle_cache_keeps_a_loaded_bundle_until_its_files_change(
    ctx: Context, run: World, bundle: Path, trust: DeviceTrust
) -> None:
    now, cache = ctx.clock.now(), BundleCache()
    load_bundle(bundle, now, trust, cache)  # the first one accepted: the device's state moves
    first = load_bundle(bundle, now, trust, cache)
    assert load_bundle(bundle, now, trust, cache) is first
    assert load_bundle(bundle, now, trust) is not first  # no cache: loaded and checked again
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[2]], "lost")
    exchange.export_offline_bundle(ctx, INSPECTOR, bundle)  # a newer bundle, same folder
    newer = load_bundle(bundle, now, trust, cache)
    assert newer is not first and "lost" in newer.filters and "lost" not in first.filters


def test_offline_scans_are_uploaded_once_none_lost_none_doubled(
    ctx: Context,
    run: World,
    codes: dict[str, CodePayload],
    bundle: Path,
    trust: DeviceTrust,
    no_network: None,
) -> None:
    now = ctx.clock.now()
    scans = [
        ScanInput(to_raw(codes[ui]), Place("KE", "Kisumu"), now, str(uuid.uuid4()))
        for ui in run.packs[2:8]
    ]
    for scan in scans:  # offline: no socket may be opened
        check = verify_offline_bundle(scan.text, bundle, now, trust)
        queue.enqueue(bundle, scan, check.verdict.value)
    assert [s.scan_id for s in queue.pending(bundle)] == [s.scan_id for s in scans]


def test_a_sync_interrupted_and_repeated_stores_each_scan_once(
    ctx: Context, run: World, codes: dict[str, CodePayload], bundle: Path
) -> None:
    now = ctx.clock.now()
    scans = [
        ScanInput(to_raw(codes[ui]), Place("KE", "Kisumu"), now, str(uuid.uuid4()))
        for ui in run.packs[2:8]
    ]
    for scan in scans:
        queue.enqueue(bundle, scan, "authentic")
    first = exchange.sync_offline_scans(ctx, INSPECTOR, bundle)
    assert (first.uploaded, first.repeated, first.failed) == (6, 0, [])
    assert {v.verdict for v in first.verifications} == {Verdict.AUTHENTIC}
    assert all(v.source == "offline" for v in first.verifications)
    # The device crashed after the node stored two scans, before it marked them done.
    for scan in scans[:2]:
        queue.enqueue(bundle, scan, "authentic")
    second = exchange.sync_offline_scans(ctx, INSPECTOR, bundle)
    assert (second.uploaded, second.repeated) == (0, 2)
    assert queue.pending(bundle) == []
    third = exchange.sync_offline_scans(ctx, INSPECTOR, bundle)
    assert (third.uploaded, third.repeated) == (0, 0)
    with ctx.db.transaction() as conn:
        stored = conn.execute(select(func.count()).select_from(scans_table)).scalar_one()
    assert stored == 6
