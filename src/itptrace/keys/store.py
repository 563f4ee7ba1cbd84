"""The issuer's signing keys, kept in files the issuer alone can read.

Private keys live in the key directory as PKCS#8 PEM files with mode 0600 (the directory
0700), never in the database and never in logs. ``keyring.json`` beside them lists every
key id with its public key and whether it is active or retired; retired keys stay listed so
codes signed with them keep verifying after a rotation.

The key ring is read from disk only when it has changed: ``stamp()`` is one ``stat`` of
``keyring.json`` (inode, size, modification and change times), and the parsed ring is kept
until the stamp differs. A key made by this store updates the stamp at once; a key made by
another process (``itptrace keys rotate`` beside a running ``serve``) is seen at the next
read, because every write replaces the file (``os.replace``: a new inode, and the ring only
grows, so the size changes too even within one tick of a coarse file-system clock).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from itptrace.errors import NotFound
from itptrace.keys.signing import b64url_encode, key_id_for, public_raw


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    public_key: str  # unpadded base64url of the 32-byte raw Ed25519 key
    created_at: str
    retired_at: str | None

    @property
    def status(self) -> str:
        return "retired" if self.retired_at else "active"


# What identifies one version of the key ring file; None when there is no ring yet.
RingStamp = tuple[int, int, int, int] | None


class KeyStore:
    """File-backed keyring of the ID issuer."""

    def __init__(self, directory: Path):
        self.directory = directory
        # The ring as last read and the stamp of the file it was read from.
        self._cached: tuple[RingStamp, dict[str, Any]] | None = None

    @property
    def _ring_path(self) -> Path:
        return self.directory / "keyring.json"

    def stamp(self) -> RingStamp:
        """A cheap fingerprint of the ring file (one ``stat``): it changes with every write."""
        try:
            found = os.stat(self._ring_path)
        except FileNotFoundError:
            return None
        return (found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns)

    def _read_ring(self) -> dict[str, Any]:
        """The ring, parsed again only when the file changed; callers must not mutate it."""
        stamp = self.stamp()
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data: dict[str, Any] = (
            {"active": None, "keys": []}
            if stamp is None
            else json.loads(self._ring_path.read_text())
        )
        self._cached = (stamp, data)
        return data

    def _write_atomically(self, path: Path, data: bytes, mode: int) -> None:
        temporary = path.with_suffix(path.suffix + ".tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)

    def keys(self) -> list[KeyInfo]:
        return [KeyInfo(**entry) for entry in self._read_ring()["keys"]]

    def active_kid(self) -> str | None:
        active: str | None = self._read_ring()["active"]
        return active

    def private_key_pem(self, kid: str) -> bytes:
        """The PEM of one private key; only the issuer's own processes call this."""
        path = self.directory / f"{kid}.key"
        if not path.exists():
            raise NotFound(f"no private key {kid} in the issuer's key directory", subject=kid)
        return path.read_bytes()

    def private_key(self, kid: str) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem(kid), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise NotFound(f"key {kid} is not an Ed25519 key", subject=kid)
        return key

    def generate(self, now: datetime) -> KeyInfo:
        """Make a new key, make it the active one and retire the previous active key."""
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        key = Ed25519PrivateKey.generate()
        raw = public_raw(key)
        kid = key_id_for(raw)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._write_atomically(self.directory / f"{kid}.key", pem, 0o600)
        ring = json.loads(json.dumps(self._read_ring()))  # a copy: the cached ring stays as read
        stamp = now.isoformat()
        for entry in ring["keys"]:
            if entry["retired_at"] is None:
                entry["retired_at"] = stamp
        info = KeyInfo(kid=kid, public_key=b64url_encode(raw), created_at=stamp, retired_at=None)
        ring["keys"].append(info.__dict__)
        ring["active"] = kid
        self._write_atomically(self._ring_path, json.dumps(ring, indent=2).encode(), 0o600)
        self._cached = None  # read back (and stamped) on next use
        return info
