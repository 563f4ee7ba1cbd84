"""The node's side of offline verification: making bundles and taking in offline scans.

``offline_bundle`` builds a signed bundle (``bundle`` describes its files) from the issuer's
public keys (with their validity windows and the list of revoked keys) and the current list
of deactivated, stolen, lost and recalled UIs, signed with the node's bundle key in
``<key_dir>/bundle`` (made on first use; never the issuer's code-signing key). A device
trusts it only under a key pinned on it out of band: ``bundle_key_document`` is the file
to pin (``itptrace verify bundle-key``), never sent with a bundle. ``sync_offline_scans``
uploads a device's queued scans through ``service.verify``, marking each done once stored,
so none is lost or stored twice.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from itptrace.access import Actor, Permission, authorize
from itptrace.auth import audit
from itptrace.codes import lifecycle
from itptrace.codes.model import PRODUCT_CODE_LENGTH
from itptrace.context import Context
from itptrace.errors import DomainError
from itptrace.keys.signing import key_id_for, public_raw
from itptrace.keys.store import KeyStore
from itptrace.verify import queue, store
from itptrace.verify.bloom import BloomFilter, false_positive_rate
from itptrace.verify.bundle import BUNDLE_FORMAT, bundle_files, write_files
from itptrace.verify.model import (
    BUNDLE_FALSE_POSITIVE_RATE,
    BUNDLE_VALIDITY,
    DEACTIVATION_REASON_CODES,
    Verification,
)
from itptrace.verify.service import verify
from itptrace.verify.trust import key_document

GROUPS = (*DEACTIVATION_REASON_CODES, "deactivated")


def bundle_keys(ctx: Context) -> KeyStore:
    """The node's bundle-signing keyring, apart from the issuer's and the ledger's keys."""
    return KeyStore(ctx.settings.key_dir / "bundle")


def bundle_public_keys(ctx: Context) -> list[str]:
    """The bundle public keys (base64url) a device pins to trust bundles from this node."""
    return [k.public_key for k in bundle_keys(ctx).keys()]


def _signing_key(ctx: Context) -> Any:
    keys = bundle_keys(ctx)
    kid = keys.active_kid() or keys.generate(ctx.clock.now()).kid
    return keys.private_key(kid)


def code_patterns(ctx: Context) -> dict[str, Any]:
    """The shapes of this Party's codes (the GSP keeps such a library to route enquiries)."""
    s = ctx.settings
    unit = f"{s.issuer_code}[0-9A-Za-z]{{{s.serial_length}}}[0-9A-Z]{{{PRODUCT_CODE_LENGTH}}}"
    return {
        "unit_ui": f"^{unit}$",
        "aggregated_ui": f"^{s.issuer_code}[0-9A-Za-z]{{{s.serial_length}}}[0-9A-Za-z]{{1,32}}$",
        "element_string": (
            r"^\(01\)[0-9]{14}(\(8008\)[0-9]{8})?(\(91\)[A-Za-z0-9_-]{1,32}"
            rf"\(92\)[A-Za-z0-9_-]{{86}})?\(235\){unit}$"
        ),
        "application_identifiers": {
            "01": "GTIN",
            "8008": "application time stamp YYMMDDhh",
            "91": "issuer key id",
            "92": "Ed25519 tag over 'ITPTRACE-UI/1\\n<UI>\\n<GTIN>'",
            "235": "unique identifier",
        },
    }


def offline_bundle(ctx: Context, actor: Actor) -> dict[str, bytes]:
    """The files of a fresh offline bundle, by name (see ``verify.bundle``)."""
    grouped: dict[str, list[str]] = defaultdict(list)
    with audit.reading(ctx, actor, Permission.OFFLINE_BUNDLE) as read:
        for ui, reason in store.revoked_codes(read.conn):
            grouped[reason if reason in DEACTIVATION_REASON_CODES else "deactivated"].append(ui)
        read.count = sum(len(uis) for uis in grouped.values())
    groups = [g for g in GROUPS if grouped[g]]
    # Each filter gets an equal share of the target, so the union stays within it.
    share = BUNDLE_FALSE_POSITIVE_RATE / max(len(groups), 1)
    salt = os.urandom(16)
    filters = {g: BloomFilter.build(grouped[g], share, salt) for g in groups}
    miss = 1.0
    for bloom in filters.values():
        miss *= 1 - false_positive_rate(bloom.bits, bloom.hashes, bloom.count)
    now = ctx.clock.now()
    public_keys = lifecycle.export_public_keys(ctx)
    manifest = {
        "format": BUNDLE_FORMAT,
        "country": ctx.settings.country,
        "issuer_code": ctx.settings.issuer_code,
        "created_at": now.isoformat(),
        "valid_until": (now + BUNDLE_VALIDITY).isoformat(),
        "public_keys": public_keys,
        "revoked_keys": public_keys["revoked_keys"],
        "patterns": code_patterns(ctx),
        "revoked": {
            "entries": sum(b.count for b in filters.values()),
            "target_false_positive_rate": BUNDLE_FALSE_POSITIVE_RATE,
            "false_positive_rate": 1 - miss,
        },
    }
    return bundle_files(manifest, filters, _signing_key(ctx))


def export_offline_bundle(ctx: Context, actor: Actor, out_dir: Path) -> Path:
    """Write a fresh offline bundle into ``out_dir`` (a queue already there is kept)."""
    return write_files(out_dir, offline_bundle(ctx, actor))


def bundle_key_id(ctx: Context) -> str:
    """The key id of the bundle key that signs this node's bundles (not the key itself)."""
    return key_id_for(public_raw(_signing_key(ctx)))


def bundle_key_document(ctx: Context, actor: Actor) -> dict[str, Any]:
    """The node's bundle public key as a file to pin on inspector devices, out of band."""
    authorize(actor, Permission.OFFLINE_BUNDLE)
    keys = bundle_keys(ctx)
    kid = keys.active_kid() or keys.generate(ctx.clock.now()).kid
    info = next(k for k in keys.keys() if k.kid == kid)
    return key_document(public_raw(keys.private_key(kid)), ctx.settings.country, info.created_at)


@dataclass
class SyncResult:
    uploaded: int = 0
    repeated: int = 0
    failed: list[str] = field(default_factory=list)
    verifications: list[Verification] = field(default_factory=list)


def sync_offline_scans(ctx: Context, actor: Actor, bundle_dir: Path) -> SyncResult:
    """Upload the scans queued in ``bundle_dir``; a scan the node refuses stays queued."""
    authorize(actor, Permission.VERIFY)
    result = SyncResult()
    for scan in queue.pending(bundle_dir):
        try:
            verification = verify(ctx, actor, scan)
        except DomainError as exc:
            result.failed.append(f"{scan.scan_id}: {exc.message}")
            continue
        queue.mark_done(bundle_dir, scan.scan_id)
        result.verifications.append(verification)
        if verification.repeated:
            result.repeated += 1
        else:
            result.uploaded += 1
    queue.compact(bundle_dir)
    return result
