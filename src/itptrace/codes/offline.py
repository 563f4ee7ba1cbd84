"""Offline verification of a printed code with nothing but the published public keys.

No database and no network: an inspector's device holds the JSON written by
``itptrace keys export`` and checks the format, the GTIN check digit, the issuer and key id,
the Ed25519 tag, and then the key itself: a revoked key's tags are refused, and so are a
retired key's tags scanned after the end of its validity window (``verify_until``). The
same function serves the API and the inspection tools.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from itptrace.clock import parse_instant
from itptrace.codes.model import PRODUCT_CODE_LENGTH, UiLayout, signed_message
from itptrace.gs1.checkdigit import is_valid_gtin
from itptrace.gs1.element import CodePayload, ScanFormatError, parse_scan
from itptrace.keys.signing import tag_is_valid

KEYSET_FORMAT = "itptrace-public-keys/1"


class Reason(StrEnum):
    VALID = "valid"
    MALFORMED = "malformed"
    BAD_GTIN = "bad_gtin"
    UNKNOWN_ISSUER = "unknown_issuer"
    UNKNOWN_KEY = "unknown_key"
    NO_TAG = "no_tag"
    BAD_SIGNATURE = "bad_signature"
    KEY_REVOKED = "key_revoked"
    KEY_EXPIRED = "key_expired"


@dataclass(frozen=True)
class OfflineVerdict:
    valid: bool
    reason: Reason
    detail: str
    payload: CodePayload | None = None


@dataclass(frozen=True)
class KeyWindow:
    """When a key's tags verify: from its creation until ``until`` (None: still signing).

    Only the end is enforced: a scan dated before the key's creation says more about the
    device's clock than about the code (offline scans and backdated reports carry it)."""

    since: datetime
    until: datetime | None = None

    def holds(self, at: datetime) -> bool:
        return self.until is None or at < self.until


@dataclass(frozen=True)
class PublicKeySet:
    """One Party's published verification material: keys, their windows, revocations."""

    country: str
    layout: UiLayout
    keys: dict[str, bytes] = field(default_factory=dict)
    windows: dict[str, KeyWindow] = field(default_factory=dict)
    revoked: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublicKeySet:
        if data.get("format") != KEYSET_FORMAT:
            raise ValueError(f"not an itptrace public key set (format must be {KEYSET_FORMAT})")
        try:
            layout = UiLayout(
                issuer_code=str(data["issuer_code"]),
                serial_length=int(data["serial_length"]),
                product_code_length=int(data.get("product_code_length", PRODUCT_CODE_LENGTH)),
            )
            keys = {
                str(entry["kid"]): base64.urlsafe_b64decode(entry["public_key"] + "==")
                for entry in data["keys"]
            }
            windows = {
                str(entry["kid"]): KeyWindow(
                    parse_instant(entry["created_at"]),
                    parse_instant(entry["verify_until"]) if entry.get("verify_until") else None,
                )
                for entry in data["keys"]
                if entry.get("created_at")
            }
            revoked = frozenset(
                [str(e["kid"]) for e in data["keys"] if e.get("status") == "revoked"]
                + [str(kid) for kid in data.get("revoked_keys", [])]
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(f"public key set is incomplete or damaged: {exc}") from None
        return cls(str(data.get("country", "")), layout, keys, windows, revoked)

    @classmethod
    def load(cls, path: Path) -> PublicKeySet:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read public keys from {path}: {exc}") from None
        return cls.from_json(data)


def _refuse(reason: Reason, detail: str, payload: CodePayload | None = None) -> OfflineVerdict:
    return OfflineVerdict(False, reason, detail, payload)


def verify_offline(scan: str, keyset: PublicKeySet, at: datetime | None = None) -> OfflineVerdict:
    """Check a scanned or typed code against the key set; never raises for bad input.

    ``at`` is when the code was scanned: the key's validity window is checked at that time
    (without it, only revocation is checked, as for a key set with no windows)."""
    try:
        payload = parse_scan(scan)
    except ScanFormatError as exc:
        return _refuse(Reason.MALFORMED, str(exc))
    if payload.gtin is not None and not is_valid_gtin(payload.gtin):
        return _refuse(Reason.BAD_GTIN, f"GTIN {payload.gtin} has a wrong check digit", payload)
    if not payload.ui.startswith(keyset.layout.issuer_code):
        return _refuse(
            Reason.UNKNOWN_ISSUER,
            f"UI {payload.ui} does not start with a known issuer code",
            payload,
        )
    if keyset.layout.split_unit(payload.ui) is None:
        return _refuse(
            Reason.MALFORMED, f"UI {payload.ui} does not fit the issuer's layout", payload
        )
    if payload.tag is None or payload.key_id is None:
        return _refuse(
            Reason.NO_TAG, "the code carries no authentication tag: verify it online", payload
        )
    public = keyset.keys.get(payload.key_id)
    if public is None:
        return _refuse(Reason.UNKNOWN_KEY, f"key id {payload.key_id} is not published", payload)
    if not tag_is_valid(public, signed_message(payload.ui, payload.gtin), payload.tag):
        return _refuse(Reason.BAD_SIGNATURE, "the tag is not the issuer's signature", payload)
    if payload.key_id in keyset.revoked:
        return _refuse(
            Reason.KEY_REVOKED,
            f"key {payload.key_id} was revoked by the issuer: its tags prove nothing",
            payload,
        )
    window = keyset.windows.get(payload.key_id)
    if at is not None and window is not None and not window.holds(at):
        return _refuse(
            Reason.KEY_EXPIRED,
            f"key {payload.key_id} was retired; its tags verified until "
            f"{window.until.isoformat() if window.until else 'now'}, not at {at.isoformat()}",
            payload,
        )
    return OfflineVerdict(True, Reason.VALID, f"signed by key {payload.key_id}", payload)
