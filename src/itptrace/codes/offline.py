"""Offline verification of a printed code with nothing but the published public keys.

No database and no network: an inspector's device holds the JSON written by
``itptrace keys export`` and checks the format, the GTIN check digit, the issuer and key id
and the Ed25519 tag. The same function serves the API and the inspection tools.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class OfflineVerdict:
    valid: bool
    reason: Reason
    detail: str
    payload: CodePayload | None = None


@dataclass(frozen=True)
class PublicKeySet:
    """One Party's published verification material."""

    country: str
    layout: UiLayout
    keys: dict[str, bytes] = field(default_factory=dict)

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
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(f"public key set is incomplete or damaged: {exc}") from None
        return cls(country=str(data.get("country", "")), layout=layout, keys=keys)

    @classmethod
    def load(cls, path: Path) -> PublicKeySet:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read public keys from {path}: {exc}") from None
        return cls.from_json(data)


def _refuse(reason: Reason, detail: str, payload: CodePayload | None = None) -> OfflineVerdict:
    return OfflineVerdict(False, reason, detail, payload)


def verify_offline(scan: str, keyset: PublicKeySet) -> OfflineVerdict:
    """Check a scanned or typed code against the key set; never raises for bad input."""
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
    return OfflineVerdict(True, Reason.VALID, f"signed by key {payload.key_id}", payload)
