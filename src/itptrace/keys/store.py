"""The issuer's signing keys, kept in files the issuer alone can read.

Private keys live in the key directory as PKCS#8 PEM files with mode 0600 (the directory
0700), never in the database and never in logs. ``keyring.json`` beside them lists every
key id with its public key and whether it is active, retired or revoked; retired keys stay
listed so codes signed with them keep verifying after a rotation (within the window the
published key set gives them), revoked keys stay listed so verifiers refuse them.

A key leaves signing by retirement (a rotation) or revocation (it is compromised). Either
way its private key file is removed from the key directory at once: only the active key is
ever on disk. ``archive`` writes a private key elsewhere first, for whoever must keep it.

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
    revoked_at: str | None = None
    revocation_reason: str | None = None

    @property
    def status(self) -> str:
        if self.revoked_at:
            return "revoked"
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
        path = self._private_path(kid)
        if not path.exists():
            raise NotFound(f"no private key {kid} in the issuer's key directory", subject=kid)
        return path.read_bytes()

    def private_key(self, kid: str) -> Ed25519PrivateKey:
        key = serialization.load_pem_private_key(self.private_key_pem(kid), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise NotFound(f"key {kid} is not an Ed25519 key", subject=kid)
        return key

    def _private_path(self, kid: str) -> Path:
        return self.directory / f"{kid}.key"

    def archive(self, kid: str, out: Path) -> Path:
        """Write one private key to ``out`` (mode 0600) for safekeeping away from the node;
        only a key still in the key directory (the active one) can be archived."""
        pem = self.private_key_pem(kid)
        if out.exists():
            raise ValueError(f"{out} already exists: choose a new file for the archive")
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            self._write_atomically(out, pem, 0o600)
        except OSError as exc:
            raise ValueError(f"cannot write the archive {out}: {exc.strerror}") from None
        return out

    def _drop_private_keys(self, keep: str | None) -> None:
        """Remove every private key file but ``keep``'s (retired and revoked keys never
        stay on disk, including those left by versions that kept them)."""
        for path in self.directory.glob("*.key"):
            if path.stem != keep:
                path.unlink(missing_ok=True)

    def _write_ring(self, ring: dict[str, Any]) -> None:
        self._write_atomically(self._ring_path, json.dumps(ring, indent=2).encode(), 0o600)
        self._cached = None  # read back (and stamped) on next use

    def revoke(self, kid: str, now: datetime, reason: str) -> KeyInfo:
        """Mark a key revoked (its signatures are refused from now on, online and offline)
        and remove its private key; a revoked active key leaves the issuer without one."""
        ring = json.loads(json.dumps(self._read_ring()))
        entry = next((e for e in ring["keys"] if e["kid"] == kid), None)
        if entry is None:
            raise NotFound(f"no key {kid} in the key ring", subject=kid)
        stamp = now.isoformat()
        if not entry.get("revoked_at"):
            entry["revoked_at"] = stamp
            entry["revocation_reason"] = reason
            entry["retired_at"] = entry.get("retired_at") or stamp
        if ring["active"] == kid:
            ring["active"] = None
        self._write_ring(ring)
        self._drop_private_keys(ring["active"])
        return KeyInfo(**entry)

    def generate(self, now: datetime) -> KeyInfo:
        """Make a new key, make it the active one and retire the previous active key
        (whose private key file is removed: ``archive`` it first to keep it)."""
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
        self._write_atomically(self._private_path(kid), pem, 0o600)
        ring = json.loads(json.dumps(self._read_ring()))  # a copy: the cached ring stays as read
        stamp = now.isoformat()
        for entry in ring["keys"]:
            if entry["retired_at"] is None:
                entry["retired_at"] = stamp
        info = KeyInfo(kid=kid, public_key=b64url_encode(raw), created_at=stamp, retired_at=None)
        ring["keys"].append(info.__dict__)
        ring["active"] = kid
        self._write_ring(ring)
        self._drop_private_keys(kid)
        return info
