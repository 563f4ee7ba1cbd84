"""An inspector device's trust store: the bundle keys pinned on it and the newest bundle seen.

A device trusts an offline bundle only when a bundle key pinned on it out of band signed it:
never a key written in the bundle, never one sent beside it. The node hands its bundle key
out as a small file (``itptrace verify bundle-key --out FILE``, format
``itptrace-bundle-key/1``); whoever provisions the device pins it there
(``itptrace verify pin FILE``). The store is a directory (``ITPTRACE_TRUST_DIR``) of two
files, each replaced whole on every write (mode 0600):

* ``bundle-keys.json``: the pinned keys (key id, raw public key, Party, when pinned);
* ``bundle-state.json``: the ``created_at`` of the newest bundle the device accepted. An
  older bundle is refused from then on, so a stolen code cannot read authentic again from
  a bundle made before it was reported.

Pure files: no database, no network. ``verify.bundle`` decides; this module only keeps.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from itptrace.clock import parse_instant
from itptrace.keys.signing import b64url_decode_strict, b64url_encode, key_id_for

KEY_FORMAT = "itptrace-bundle-key/1"
STORE_FORMAT = "itptrace-device-trust/1"
KEYS_FILE, STATE_FILE = "bundle-keys.json", "bundle-state.json"

# What identifies one version of the store: (inode, size, modification time) of each file.
TrustStamp = tuple[tuple[int, int, int] | None, ...]


def key_document(public: bytes, country: str, created_at: str) -> dict[str, Any]:
    """The file a node hands out for pinning: one bundle public key and its key id."""
    return {
        "format": KEY_FORMAT,
        "alg": "Ed25519",
        "kid": key_id_for(public),
        "public_key": b64url_encode(public),
        "country": country,
        "created_at": created_at,
    }


def parse_key_document(data: Any) -> tuple[str, bytes]:
    """(key id, raw public key) of a bundle key file; ValueError naming what is wrong."""
    if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
        raise ValueError(f"not an itptrace bundle key file (format must be {KEY_FORMAT})")
    raw = b64url_decode_strict(str(data.get("public_key", "")))
    if raw is None or len(raw) != 32:
        raise ValueError("the bundle key file's public_key is not a 32-byte Ed25519 key")
    if data.get("kid") != key_id_for(raw):
        raise ValueError("the bundle key file's kid does not belong to its public_key")
    return key_id_for(raw), raw


@dataclass(frozen=True)
class TrustState:
    """The pinned keys by key id, and the newest bundle accepted (None: none yet)."""

    pinned: dict[str, bytes]
    newest: datetime | None


class DeviceTrust:
    """The trust store in ``directory``; read again only when one of its files changed."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._lock = threading.Lock()
        self._cached: tuple[TrustStamp, TrustState] | None = None

    def stamp(self) -> TrustStamp:
        found: list[tuple[int, int, int] | None] = []
        for name in (KEYS_FILE, STATE_FILE):
            try:
                st = os.stat(self.directory / name)
            except FileNotFoundError:
                found.append(None)
            else:
                found.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(found)

    def _read(self, name: str) -> dict[str, Any]:
        path = self.directory / name
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ValueError(f"the device's trust store {path} cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"the device's trust store {path} is damaged")
        return data

    def snapshot(self) -> tuple[TrustStamp, TrustState]:
        """The store's stamp and what it holds (two ``stat`` calls while unchanged)."""
        stamp = self.stamp()
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached
        keys = self._read(KEYS_FILE).get("keys", [])
        pinned = dict(parse_key_document(entry) for entry in keys)
        newest = self._read(STATE_FILE).get("newest_created_at")
        state = TrustState(pinned, parse_instant(newest) if newest else None)
        self._cached = (stamp, state)
        return self._cached

    def state(self) -> TrustState:
        return self.snapshot()[1]

    def _write(self, name: str, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / name
        temporary = path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(json.dumps(data, indent=1, sort_keys=True))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        self._cached = None

    def pin(self, document: Any, now: datetime) -> str:
        """Pin the bundle key of a key file (see the module docstring); its key id."""
        kid, _raw = parse_key_document(document)
        with self._lock:
            keys = [e for e in self._read(KEYS_FILE).get("keys", []) if e.get("kid") != kid]
            keys.append({**document, "pinned_at": now.isoformat()})
            self._write(KEYS_FILE, {"format": STORE_FORMAT, "keys": keys})
        return kid

    def accepted(self, created_at: datetime) -> None:
        """Remember ``created_at`` as the newest bundle accepted, if it is newer."""
        with self._lock:
            newest = self.state().newest
            if newest is None or created_at > newest:
                self._write(STATE_FILE, {"newest_created_at": created_at.isoformat()})
