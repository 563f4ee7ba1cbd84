"""Offline trust and the key lifecycle, tried as a forger or a thief would (issue #12).

A device trusts only a bundle signed by a bundle key pinned on it out of band, never the
newest-but-one; a revoked issuer key is refused online and offline; a retired key leaves
the key directory and verifies only within its window; only the issuer may retire, revoke
or archive keys, and every attempt is audited.
"""

from __future__ import annotations

import json
import stat
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from itptrace.access import Actor, Role, local_issuer
from itptrace.auth import audit
from itptrace.clock import FixedClock
from itptrace.codes import keyring, lifecycle
from itptrace.codes.keyset import public_keys_document
from itptrace.codes.model import signed_message
from itptrace.context import Context
from itptrace.errors import Forbidden
from itptrace.gs1.element import CodePayload, to_raw
from itptrace.keys.signing import b64url_encode, key_id_for, make_tag, public_raw
from itptrace.keys.store import KeyInfo
from itptrace.sim.world import World
from itptrace.verify import exchange
from itptrace.verify.bundle import (
    BundleError,
    bundle_files,
    load_bundle,
    verify_offline_bundle,
    write_files,
)
from itptrace.verify.model import Place, ReasonCode, ScanInput, Verdict
from itptrace.verify.service import verify
from itptrace.verify.trust import DeviceTrust

INSPECTOR = Actor("inspector-achieng", Role.INSPECTOR)
AUDITOR = Actor("auditor-mwangi", Role.AUDITOR)


@pytest.fixture
def trust(ctx: Context, tmp_path: Path) -> DeviceTrust:
    """A device provisioned with the node's bundle key, out of band."""
    device = DeviceTrust(tmp_path / "device")
    device.pin(exchange.bundle_key_document(ctx, INSPECTOR), ctx.clock.now())
    return device


def clock(ctx: Context) -> FixedClock:
    assert isinstance(ctx.clock, FixedClock)
    return ctx.clock


def online(ctx: Context, text: str, source: str = "online") -> tuple[Verdict, list[ReasonCode]]:
    scan = ScanInput(text, Place("KE"), ctx.clock.now(), str(uuid.uuid4()), source=source)
    found = verify(ctx, INSPECTOR, scan)
    return found.verdict, [f.code for f in found.reasons]


def forged_bundle(ctx: Context, run: World, out: Path, claimed_kid: str | None) -> str:
    """A forger's bundle: its own issuer key (so its counterfeit verifies by the bundle's
    key set) and its own bundle key; ``claimed_kid`` is the key id it puts in bundle.sig.
    Returns the counterfeit code."""
    issuer_key, bundle_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    raw = public_raw(issuer_key)
    now = ctx.clock.now()
    fake = KeyInfo(key_id_for(raw), b64url_encode(raw), now.isoformat(), None)
    ui = run.packs[0][:-12] + "zzzz" + run.packs[0][-8:]  # never issued
    code = CodePayload(run.gtin, ui, fake.kid, make_tag(issuer_key, signed_message(ui, run.gtin)))
    manifest = {
        "format": "itptrace-offline-bundle/1",
        "country": "KE",
        "created_at": now.isoformat(),
        "valid_until": (now + timedelta(days=7)).isoformat(),
        "public_keys": public_keys_document(ctx.settings, [fake], now),
    }
    files = bundle_files(manifest, {}, bundle_key)
    if claimed_kid is not None:
        signature = json.loads(files["bundle.sig"])
        files["bundle.sig"] = json.dumps({**signature, "kid": claimed_kid}).encode()
    write_files(out, files)
    return to_raw(code)


def test_a_bundle_forged_and_signed_with_its_own_key_is_refused(
    ctx: Context, run: World, trust: DeviceTrust, tmp_path: Path
) -> None:
    now = ctx.clock.now()
    pinned = exchange.bundle_key_document(ctx, INSPECTOR)["kid"]
    for claimed in (None, pinned):  # its own key id, or the pinned one's over its signature
        out = tmp_path / f"forged-{claimed}"
        counterfeit = forged_bundle(ctx, run, out, claimed)
        with pytest.raises(BundleError, match=r"pinned|signature"):
            verify_offline_bundle(counterfeit, out, now, trust)
    # Nothing in the bundle or the answer that carries it is a key a device could take.
    bundle = exchange.offline_bundle(ctx, INSPECTOR)
    public = exchange.bundle_key_document(ctx, INSPECTOR)["public_key"]
    assert all(public.encode() not in data for data in bundle.values())


def test_a_device_with_no_pinned_key_trusts_no_bundle(
    ctx: Context, run: World, codes: dict[str, CodePayload], tmp_path: Path
) -> None:
    bundle = exchange.export_offline_bundle(ctx, INSPECTOR, tmp_path / "bundle")
    with pytest.raises(BundleError, match="no bundle key is pinned"):
        verify_offline_bundle(
            to_raw(codes[run.packs[3]]), bundle, ctx.clock.now(), DeviceTrust(tmp_path / "d")
        )


def test_a_bundle_key_file_that_does_not_hold_together_is_not_pinned(
    ctx: Context, tmp_path: Path
) -> None:
    document = exchange.bundle_key_document(ctx, INSPECTOR)
    device = DeviceTrust(tmp_path / "device")
    for broken in (
        {**document, "kid": "00000000"},
        {**document, "public_key": "AAAA"},
        {**document, "format": "something-else"},
    ):
        with pytest.raises(ValueError, match="bundle key"):
            device.pin(broken, ctx.clock.now())
    assert device.state().pinned == {}


def test_an_older_bundle_is_refused_after_a_newer_one(
    ctx: Context, run: World, codes: dict[str, CodePayload], trust: DeviceTrust, tmp_path: Path
) -> None:
    stolen = to_raw(codes[run.packs[4]])
    old = exchange.export_offline_bundle(ctx, INSPECTOR, tmp_path / "old")
    clock(ctx).advance(timedelta(hours=2))
    lifecycle.deactivate_codes(ctx, local_issuer(), [run.packs[4]], "stolen")
    new = exchange.export_offline_bundle(ctx, INSPECTOR, tmp_path / "new")
    now = ctx.clock.now()
    assert verify_offline_bundle(stolen, new, now, trust).verdict is Verdict.ILLICIT
    with pytest.raises(BundleError, match="before the newest"):
        verify_offline_bundle(stolen, old, now, trust)  # the thief's copy of last week's
    assert verify_offline_bundle(stolen, new, now, trust).verdict is Verdict.ILLICIT
    # The state lives beside the pinned key: a new process on the device remembers it.
    with pytest.raises(BundleError, match="before the newest"):
        load_bundle(old, now, DeviceTrust(trust.directory))


def test_a_revoked_key_is_refused_online_and_offline(
    ctx: Context, run: World, codes: dict[str, CodePayload], trust: DeviceTrust, tmp_path: Path
) -> None:
    code = to_raw(codes[run.packs[6]])
    assert online(ctx, code) == (Verdict.AUTHENTIC, [])
    kid = codes[run.packs[6]].key_id
    assert kid is not None
    keyring.revoke_key(ctx, local_issuer(), kid, "compromised")
    verdict, reasons = online(ctx, code)
    assert verdict is not Verdict.AUTHENTIC and ReasonCode.KEY_REVOKED in reasons
    bundle = exchange.export_offline_bundle(ctx, INSPECTOR, tmp_path / "bundle")
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["revoked_keys"] == [kid]
    check = verify_offline_bundle(code, bundle, ctx.clock.now(), trust)
    assert check.verdict is not Verdict.AUTHENTIC
    assert [f.code for f in check.reasons] == [ReasonCode.KEY_REVOKED]
    assert ctx.keys.active_kid() is None and not (ctx.settings.key_dir / f"{kid}.key").exists()


def test_a_retired_private_key_leaves_the_key_directory_after_its_archive(
    ctx: Context, run: World, codes: dict[str, CodePayload], tmp_path: Path
) -> None:
    old = ctx.keys.active_kid()
    assert old is not None
    archived = keyring.archive_key(ctx, local_issuer(), old, tmp_path / "archive" / "old.pem")
    assert stat.S_IMODE(archived.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(archived.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey) and key_id_for(public_raw(key)) == old
    new = keyring.rotate_key(ctx, local_issuer())
    assert sorted(p.name for p in ctx.settings.key_dir.glob("*.key")) == [f"{new.kid}.key"]
    with pytest.raises(Exception, match="left the key directory"):
        keyring.archive_key(ctx, local_issuer(), old, tmp_path / "again.pem")
    # Its codes still verify: the public key stays published.
    assert online(ctx, to_raw(codes[run.packs[7]])) == (Verdict.AUTHENTIC, [])


def test_a_retired_key_verifies_only_within_its_window(
    ctx: Context, run: World, codes: dict[str, CodePayload], trust: DeviceTrust, tmp_path: Path
) -> None:
    code = to_raw(codes[run.packs[8]])
    retired = keyring.rotate_key(ctx, local_issuer())
    entry = next(k for k in lifecycle.export_public_keys(ctx)["keys"] if k["kid"] != retired.kid)
    until = datetime.fromisoformat(entry["verify_until"])
    window = timedelta(days=ctx.settings.code_expiry_days + ctx.settings.retired_key_verify_days)
    assert until == ctx.clock.now() + window
    clock(ctx).advance(window + timedelta(hours=1))
    bundle = exchange.export_offline_bundle(ctx, INSPECTOR, tmp_path / "bundle")
    check = verify_offline_bundle(code, bundle, ctx.clock.now(), trust)
    assert [f.code for f in check.reasons] == [ReasonCode.KEY_EXPIRED]
    assert ReasonCode.KEY_EXPIRED in online(ctx, code)[1]


@pytest.mark.parametrize(
    "actor",
    [
        Actor("maker", Role.OPERATOR, operator_id="KET01EANY000", tobacco_industry=True),
        Actor("industry-admin", Role.ISSUER_ADMIN, tobacco_industry=True),
        Actor("customs", Role.AUTHORITY),
    ],
    ids=["industry-operator", "industry-flagged-admin", "authority"],
)
def test_only_the_issuer_retires_revokes_or_archives_a_key_and_every_try_is_audited(
    ctx: Context, actor: Actor, tmp_path: Path
) -> None:
    kid = ctx.keys.active_kid()
    assert kid is not None
    with pytest.raises(Forbidden):
        keyring.rotate_key(ctx, actor)
    with pytest.raises(Forbidden):
        keyring.revoke_key(ctx, actor, kid, "compromised")
    with pytest.raises(Forbidden):
        keyring.archive_key(ctx, actor, kid, tmp_path / "stolen.pem")
    assert ctx.keys.active_kid() == kid and not (tmp_path / "stolen.pem").exists()
    keyring.revoke_key(ctx, local_issuer(), kid, "compromised")
    rows = audit.list_audit(ctx, AUDITOR, endpoint="issuer.key_lifecycle")
    seen = [(r.user, r.params.get("action"), r.outcome) for r in rows]
    assert seen == [
        (actor.name, "rotate", "denied"),
        (actor.name, "revoke", "denied"),
        (actor.name, "archive", "denied"),
        ("local-issuer", "revoke", "ok"),
    ]
