"""The issuer's published key set: the export document, and the parsed set a node verifies with.

``public_keys_document`` is what ``itptrace keys export`` writes and ``GET /keys`` answers.
``PublishedKeys`` (one per node, ``ctx.public_keys``, built by ``bootstrap.build_node``)
keeps the parsed :class:`PublicKeySet` so a scan does not go disk, JSON, base64 and key
objects every time; it is parsed again when the key ring changes.

How a change is noticed: by the key store's ``stamp()``, one ``stat`` of the ring file per
use. That covers a key made through this node's store and one made by another process on
the same key directory (``itptrace keys rotate`` beside a running ``serve``), at the cost
of a system call, not a query. A generation counter in the database was the other choice;
it would cost a query per scan, a migration, and would still have to trust that every
writer of the key directory bumps it, while the ring file is what the signer itself reads.
"""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timedelta
from typing import Any

from itptrace.clock import parse_instant
from itptrace.codes.model import PRODUCT_CODE_LENGTH, UiLayout
from itptrace.codes.offline import KEYSET_FORMAT, KeyWindow, PublicKeySet
from itptrace.config import Settings
from itptrace.keys.store import KeyInfo, KeyStore, RingStamp


def verify_until(settings: Settings, key: KeyInfo) -> str | None:
    """Until when a key's tags verify: open while it signs; after its retirement, as long as
    the codes it signed may be applied (their expiry) and then sold (the shelf life)."""
    if key.revoked_at:
        return key.revoked_at
    if not key.retired_at:
        return None
    days = settings.code_expiry_days + settings.retired_key_verify_days
    return (parse_instant(key.retired_at) + timedelta(days=days)).isoformat()


def _window(settings: Settings, key: KeyInfo) -> KeyWindow:
    until = verify_until(settings, key)
    return KeyWindow(parse_instant(key.created_at), parse_instant(until) if until else None)


def public_keys_document(settings: Settings, keys: list[KeyInfo], now: datetime) -> dict[str, Any]:
    """The public verification material: keys, key ids, their validity windows and
    revocations, and the UI layout. No secrets."""
    return {
        "format": KEYSET_FORMAT,
        "country": settings.country,
        "issuer_code": settings.issuer_code,
        "serial_length": settings.serial_length,
        "product_code_length": PRODUCT_CODE_LENGTH,
        "exported_at": now.isoformat(),
        "keys": [
            {
                "kid": k.kid,
                "alg": "Ed25519",
                "public_key": k.public_key,
                "status": k.status,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
                "verify_until": verify_until(settings, k),
                "revoked_at": k.revoked_at,
                "revocation_reason": k.revocation_reason,
            }
            for k in keys
        ],
        "revoked_keys": [k.kid for k in keys if k.revoked_at],
    }


class PublishedKeys:
    """The node's parsed public key set, parsed once per key-ring change."""

    def __init__(self, settings: Settings, keys: KeyStore):
        self._settings = settings
        self._keys = keys
        self._lock = threading.Lock()
        self._cached: tuple[RingStamp, PublicKeySet] | None = None
        self.parses = 0  # how many times the set was built (tests check the cache with it)

    def keyset(self) -> PublicKeySet:
        """The current set: the cached one while the ring file is unchanged."""
        stamp = self._keys.stamp()
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            stamp = self._keys.stamp()
            ring = self._keys.keys()
            keyset = PublicKeySet(
                country=self._settings.country,
                layout=UiLayout(
                    issuer_code=self._settings.issuer_code,
                    serial_length=self._settings.serial_length,
                    product_code_length=PRODUCT_CODE_LENGTH,
                ),
                keys={k.kid: base64.urlsafe_b64decode(k.public_key + "==") for k in ring},
                windows={k.kid: _window(self._settings, k) for k in ring},
                revoked=frozenset(k.kid for k in ring if k.revoked_at),
            )
            self._cached = (stamp, keyset)
            self.parses += 1
        return keyset

    def invalidate(self) -> None:
        """Forget the parsed set (the stamp notices every change; this is for key stores
        that cannot be stamped, and costs nothing when called needlessly)."""
        self._cached = None
