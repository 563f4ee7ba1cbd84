"""The offline bundle: what an inspector's device needs to verify codes with no network.

A bundle is a directory of three files:

* ``bundle.json``: format ``itptrace-offline-bundle/1``, the Party, ``created_at`` and
  ``valid_until``, the issuer's public keys and UI layout (``itptrace keys export``), the
  code patterns, and the description of the revocation filters (per reason: entries, bits,
  hashes, offset in ``revoked.bin``, false-positive rate) with the SHA-256 of ``revoked.bin``;
* ``revoked.bin``: the Bloom filters of deactivated, stolen, lost and recalled UIs;
* ``bundle.sig``: an Ed25519 signature of ``bundle.json``'s bytes by the node's bundle key
  (``<key_dir>/bundle``, never the issuer's code-signing key), with its key id only: the
  key itself is never in the bundle, nor in the answer that carries it.

``verify_offline_bundle`` refuses (``BundleError``) a bundle that no bundle key pinned on
the device (``verify.trust``) signed, a damaged or expired one, and one older than the
newest the device has accepted; then it checks the code's signature, its key's revocation
and validity window, and looks its UI up in the filters. Scans made offline wait in
``queue.jsonl`` for ``exchange.sync_offline_scans``. Nothing here touches a database or
the network.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from itptrace.clock import parse_instant
from itptrace.codes.offline import PublicKeySet, Reason, verify_offline
from itptrace.keys.signing import b64url_encode, key_id_for, public_raw, tag_is_valid
from itptrace.verify.bloom import BloomFilter
from itptrace.verify.model import (
    CATALOGUE,
    DEACTIVATION_REASON_CODES,
    Finding,
    ReasonCode,
    Verdict,
    VerifyError,
    verdict_of,
)
from itptrace.verify.rules import AUTH_FAILURES, KEY_FINDINGS, UNPROVEN
from itptrace.verify.trust import DeviceTrust, TrustStamp

BUNDLE_FORMAT = "itptrace-offline-bundle/1"
SIGNATURE_FORMAT = "itptrace-bundle-signature/1"
MANIFEST, FILTERS, SIGNATURE = "bundle.json", "revoked.bin", "bundle.sig"


class BundleError(VerifyError):
    """A bundle that must not be used: missing, damaged, badly signed or expired."""

    code = "bundle_refused"


@dataclass(frozen=True)
class OfflineCheck:
    """The verdict a device reaches from the bundle alone."""

    verdict: Verdict
    reasons: tuple[Finding, ...]
    ui: str | None
    gtin: str | None
    valid_until: datetime


def bundle_files(
    manifest: dict[str, Any], filters: dict[str, BloomFilter], key: Ed25519PrivateKey
) -> dict[str, bytes]:
    """The three files of a bundle, by name; ``manifest`` gets the filter description."""
    blob, described, offset = bytearray(), [], 0
    for reason, bloom in filters.items():
        described.append(
            {
                "reason": reason,
                "count": bloom.count,
                "bits": bloom.bits,
                "hashes": bloom.hashes,
                "offset": offset,
                "length": len(bloom.data),
                "salt": b64url_encode(bloom.salt),
                "false_positive_rate": bloom.false_positive_rate,
            }
        )
        blob += bloom.data
        offset += len(bloom.data)
    manifest = {
        **manifest,
        "revoked": {
            **manifest.get("revoked", {}),
            "file": FILTERS,
            "sha256": hashlib.sha256(blob).hexdigest(),
            "filters": described,
        },
    }
    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
    signature = {
        "format": SIGNATURE_FORMAT,
        "alg": "Ed25519",
        "kid": key_id_for(public_raw(key)),
        "signature": b64url_encode(key.sign(body)),
    }
    return {
        MANIFEST: body,
        FILTERS: bytes(blob),
        SIGNATURE: json.dumps(signature, indent=1).encode(),
    }


def write_files(out_dir: Path, files: dict[str, bytes]) -> Path:
    """Write a bundle's files; the signature last, so a half-written bundle never verifies."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (FILTERS, MANIFEST, SIGNATURE):
        if name not in files:
            raise BundleError(f"the bundle lacks {name}")
        temporary = out_dir / (name + ".tmp")
        temporary.write_bytes(files[name])
        temporary.replace(out_dir / name)
    return out_dir


@dataclass(frozen=True)
class LoadedBundle:
    manifest: dict[str, Any]
    keyset: PublicKeySet
    filters: dict[str, BloomFilter]
    signer: str  # the key id of the pinned bundle key that signed it
    valid_until: datetime
    created_at: datetime


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read the offline bundle: {exc}") from None


def _load(directory: Path, pinned: dict[str, bytes]) -> LoadedBundle:
    """Read and check a bundle against the pinned keys alone (any key in it is ignored)."""
    body = _read(directory / MANIFEST)
    blob = _read(directory / FILTERS)
    try:
        signature = json.loads(_read(directory / SIGNATURE))
        kid = str(signature["kid"])
        public = pinned.get(kid)
        signed = public is not None and tag_is_valid(public, body, str(signature["signature"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise BundleError(f"the offline bundle's signature file is damaged: {exc}") from None
    if public is None:
        raise BundleError(
            f"the offline bundle is signed by bundle key {kid}, which is not pinned on this "
            "device: pin the node's bundle key (itptrace verify pin <key file>) or fetch a "
            "bundle from your own node"
        )
    try:
        manifest = json.loads(body) if signed else None
    except ValueError as exc:
        raise BundleError(f"the offline bundle is damaged: {exc}") from None
    if manifest is None or manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError("the offline bundle's signature does not verify")
    revoked = manifest["revoked"]
    if hashlib.sha256(blob).hexdigest() != revoked["sha256"]:
        raise BundleError("the offline bundle's revocation list does not match its signature")
    filters = {
        f["reason"]: BloomFilter(
            f["bits"],
            f["hashes"],
            base64.urlsafe_b64decode(f["salt"] + "=="),
            bytearray(blob[f["offset"] : f["offset"] + f["length"]]),
            f["count"],
        )
        for f in revoked["filters"]
    }
    keys = manifest["public_keys"]
    keyset = PublicKeySet.from_json(
        {**keys, "revoked_keys": [*keys.get("revoked_keys", []), *manifest.get("revoked_keys", [])]}
    )
    return LoadedBundle(
        manifest,
        keyset,
        filters,
        kid,
        parse_instant(manifest["valid_until"]),
        parse_instant(manifest["created_at"]),
    )


# What identifies one version of a bundle's files, (modification time, size) of each, and
# of the device's trust store.
BundleStamp = tuple[tuple[tuple[int, int], ...], TrustStamp]


class BundleCache:
    """Loaded and checked bundles by directory, loaded again when one of the files changes.

    Whoever verifies many scans in one process (a device app, the benchmark) holds one and
    passes it to ``load_bundle``; a one-shot caller (``itptrace verify scan --offline``)
    needs none. It is an object its owner holds, never a module global.
    """

    def __init__(self, size: int = 8):
        self._size = size
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[BundleStamp, LoadedBundle]] = {}

    def load(self, directory: Path, stamp: BundleStamp, pinned: dict[str, bytes]) -> LoadedBundle:
        with self._lock:
            found = self._entries.get(directory)
        if found is not None and found[0] == stamp:
            return found[1]
        bundle = _load(directory, pinned)
        with self._lock:
            self._entries.pop(directory, None)
            if len(self._entries) >= self._size:
                del self._entries[next(iter(self._entries))]
            self._entries[directory] = (stamp, bundle)
        return bundle


def load_bundle(
    directory: Path,
    now: datetime,
    trust: DeviceTrust,
    cache: BundleCache | None = None,
) -> LoadedBundle:
    """The bundle in ``directory``, checked against the device's ``trust`` store: signed by a
    pinned key, whole, unexpired and no older than the newest accepted (read from ``cache``
    when neither its files nor the store changed since it was loaded there)."""
    directory = directory.resolve()
    try:
        trusted, state = trust.snapshot()
    except ValueError as exc:
        raise BundleError(str(exc)) from None
    if not state.pinned:
        raise BundleError(
            f"no bundle key is pinned on this device ({trust.directory}): pin the node's "
            "bundle key first (itptrace verify pin <key file>)"
        )
    try:
        stats = [(directory / n).stat() for n in (MANIFEST, FILTERS, SIGNATURE)]
    except OSError:
        raise BundleError(f"no offline bundle in {directory}: fetch one first") from None
    stamp = (tuple((found.st_mtime_ns, found.st_size) for found in stats), trusted)
    if cache is None:
        bundle = _load(directory, state.pinned)
    else:
        bundle = cache.load(directory, stamp, state.pinned)
    if now >= bundle.valid_until:
        raise BundleError(
            f"the offline bundle expired on {bundle.valid_until.isoformat()}: fetch a new one"
        )
    if state.newest is not None and bundle.created_at < state.newest:
        raise BundleError(
            f"the offline bundle was made on {bundle.created_at.isoformat()}, before the "
            f"newest this device has accepted ({state.newest.isoformat()}): an older bundle "
            "may miss codes reported stolen since; fetch a new one"
        )
    if state.newest is None or bundle.created_at > state.newest:
        try:
            trust.accepted(bundle.created_at)
        except OSError as exc:
            raise BundleError(
                f"cannot record the accepted bundle in the device's trust store "
                f"{trust.directory} ({exc.strerror}): it must be writable"
            ) from None
    return bundle


def check_offline(bundle: LoadedBundle, scan_text: str, at: datetime) -> OfflineCheck:
    """The verdict on one code scanned at ``at``, from a loaded, checked bundle."""
    offline = verify_offline(scan_text, bundle.keyset, at)
    payload = offline.payload
    ui = payload.ui if payload else None
    findings: list[Finding] = []
    if offline.reason in AUTH_FAILURES:
        findings.append(Finding(AUTH_FAILURES[offline.reason], offline.detail))
    elif offline.reason is Reason.NO_TAG:
        findings.append(Finding(ReasonCode.NOT_VERIFIABLE_OFFLINE, offline.detail))
    elif offline.reason in KEY_FINDINGS:
        findings.append(Finding(KEY_FINDINGS[offline.reason], offline.detail))
    if ui is not None and offline.reason in (Reason.VALID, *UNPROVEN):
        for reason, bloom in bundle.filters.items():
            if ui in bloom:
                code = DEACTIVATION_REASON_CODES.get(reason, ReasonCode.DEACTIVATED)
                rate = bloom.false_positive_rate
                findings.append(
                    Finding(
                        code,
                        f"{CATALOGUE[code][1]} (offline list; false-positive rate {rate:.2g})",
                        {"false_positive_rate": rate},
                    )
                )
    return OfflineCheck(
        verdict_of(findings),
        tuple(findings),
        ui,
        payload.gtin if payload else None,
        bundle.valid_until,
    )


def verify_offline_bundle(
    scan_text: str,
    bundle_dir: Path,
    now: datetime,
    trust: DeviceTrust,
    cache: BundleCache | None = None,
) -> OfflineCheck:
    """Verify a code scanned at ``now`` from the bundle alone (see the module docstring)."""
    return check_offline(load_bundle(bundle_dir, now, trust, cache), scan_text, now)
